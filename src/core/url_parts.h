// Pieces of URL parsing the network backends share: splitting, percent-decoding, query
// parameters, redaction of secrets, password files.
//
// Every function here is pure (or reads one file) and thread-safe.
#ifndef HEARTLOCK_CORE_URL_PARTS_H_
#define HEARTLOCK_CORE_URL_PARTS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/url.h"

namespace heartlock::detail {

// Percent-decoding (user names and passwords may hold '@', ':' or '/'). Errc::invalid_argument
// naming `what` for a malformed escape (never echoing the text).
Result<std::string> percent_decode(std::string_view text, std::string_view what);

// Percent-encoding (heartlock/url.h): of everything but RFC 3986's unreserved characters and
// those in `keep` (such as "/:" for a path in a query value, where they are allowed).
using ::heartlock::percent_encode;

// "a=1&b&c=3" as (name, raw value) pairs in order; a name without '=' has an empty value.
std::vector<std::pair<std::string_view, std::string_view>> query_pairs(std::string_view query);

// One query parameter, percent-decoded.
struct QueryParam {
  std::string name;
  std::string value;
  std::string_view raw;  // "name=value" as written
};

// The query's parameters in order, names and values percent-decoded (the one decoding rule of
// every scheme). Errc::invalid_argument for a bad %-escape (naming the parameter, never showing
// its value) or a parameter given twice (which would otherwise silently mean the last one).
Result<std::vector<QueryParam>> query_params(std::string_view query);

// Whether a query parameter carries a secret: `password`, `sentinel_password`, libpq's
// `sslpassword`, ... (any name ending in "password", in any case).
bool is_secret_param(std::string_view name);

// The scheme of `text` when it starts like a URL (RFC 3986: a letter, then letters, digits, '+',
// '-' or '.', then ':'), as written; empty otherwise.
std::string_view url_scheme(std::string_view text);

// `text` with the password of its user part and the value of every secret query parameter
// replaced by "***". Works on any text, well-formed or not, so that it can be applied before any
// parse step can fail: a password holding an unencoded '/' or '?' (which ends the host part of a
// well-formed URL) is found by the last '@', and everything between the first ':' after the
// scheme and that '@' is hidden. This errs on the side of hiding too much.
// Use it for every message that shows a backend URL.
std::string redact_url(std::string_view text);

// `message` with every secret of `url` (its password and secret query parameters, as written
// and decoded) replaced by "***": for text from a client library that may echo what it was given
// (libpq repeats pieces of a connection string it cannot use).
std::string scrub_secrets(std::string_view message, std::string_view url);

// "scheme://[user[:password]@]hosts[/path][?query]", cut into its parts without judging them.
// The host part ends at the first '/' or '?' after "://"; the user part at its last '@'.
struct UrlParts {
  std::string_view scheme;    // as written
  bool has_userinfo = false;  // "...@hosts"
  std::string_view user;      // percent-encoded, as written
  std::string_view password;  // percent-encoded, as written
  bool has_password = false;  // "user:password@", even with an empty password
  std::string_view hosts;     // host[:port][,host[:port]...]
  std::string_view path;      // after the hosts' '/' (without it), up to '?'
  bool has_path = false;
  std::string_view query;  // after the first '?'
};

// Errc::invalid_argument, the URL redacted, when `url` has no "://" or when an '@' follows the
// host part in the path (a password holding an unencoded '/' most likely: the hint says so).
Result<UrlParts> split_url(std::string_view url);

// Errc::invalid_argument: "<what> in <url, redacted>", with a hint to percent-encode when the URL
// has an '@' after its host part. For errors about the host part, whose text may be a piece of a
// mistyped password and is therefore never shown by itself.
Error url_error(std::string_view url, std::string_view what);

// One "host[:port]" of a host list: "[::1]:6379" gives "::1" and "6379". Errc::invalid_argument
// (through url_error, naming `url`) for an unclosed '[' or a port that is not 1 to 65535.
struct HostPort {
  std::string_view host;
  std::string_view port;  // empty: not given
  int port_number = 0;    // 0: not given
};
Result<HostPort> split_host_port(std::string_view text, std::string_view url);

// The user name and password of `parts`, percent-decoded. Errc::invalid_argument (through
// url_error, naming `url`) for a bad escape.
struct Credentials {
  std::string user;
  std::string password;
};
Result<Credentials> decode_credentials(const UrlParts& parts, std::string_view url);

// The password a URL's store uses: from `password_file` when given (refused together with a
// password in the URL), else `from_url`, else the environment variable `env` if set.
// `password_file` as read_password_file.
Result<std::string> choose_password(const UrlParts& parts, std::string_view url,
                                    std::string from_url,
                                    const std::optional<std::string>& password_file,
                                    const char* env);

// The password in `path` (?password_file=): the whole file, one trailing newline stripped.
// Errc::permission_denied if the file is accessible by its group or others (as ssh refuses such a
// key) or cannot be opened for lack of permission; Errc::invalid_argument if it is missing, not a
// regular file, empty, larger than 64 KiB or holds a NUL byte. Messages name the file, never its
// content.
Result<std::string> read_password_file(const std::string& path);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_URL_PARTS_H_
