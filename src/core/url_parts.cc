#include "url_parts.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace heartlock::detail {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Where the secrets of a URL's text are, as (offset, length), in order and not overlapping: the
// password of the user part and the values of secret query parameters. The one analysis behind
// redact_url and scrub_secrets, so that both hide the same thing.
std::vector<std::pair<std::size_t, std::size_t>> secret_ranges(std::string_view text) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  const std::string_view scheme = url_scheme(text);
  if (scheme.empty()) {
    return out;  // a plain path: no user part, no query
  }
  // After "scheme:" and any slashes: "://" and a mistyped ":/" or ":" alike.
  std::size_t start = scheme.size() + 1;
  while (start < text.size() && text[start] == '/') {
    ++start;
  }
  const std::string_view s = text.substr(start);
  const std::size_t host_end = std::min(s.find_first_of("/?"), s.size());
  std::size_t at = s.substr(0, host_end).rfind('@');
  if (at == std::string_view::npos) {
    // No '@' in the host part but one further on: either an '@' in a path or query value, or a
    // password holding an unencoded '/' or '?'. Assume the latter: hiding too much is harmless.
    const std::size_t first_q = s.find('?');
    at = s.substr(0, first_q).rfind('@');
    if (at == std::string_view::npos) {
      // Past the first '?': a password with an unencoded '?', unless a query value holds the
      // '@' (?password=p@ss), which the query's own pass below hides.
      at = s.rfind('@');
      if (at != std::string_view::npos && first_q != std::string_view::npos &&
          s.substr(first_q, at - first_q).find('=') != std::string_view::npos) {
        at = std::string_view::npos;
      }
    }
  }
  std::size_t query_from = 0;
  if (at != std::string_view::npos) {
    if (auto colon = s.find(':'); colon < at && colon + 1 < at) {
      out.emplace_back(start + colon + 1, at - colon - 1);
    }
    query_from = at;
  }
  const std::size_t q = s.find('?', query_from);
  if (q == std::string_view::npos) {
    return out;
  }
  std::size_t pos = q + 1;
  for (;;) {
    const std::size_t amp = std::min(s.find('&', pos), s.size());
    const std::string_view pair = s.substr(pos, amp - pos);
    if (auto eq = pair.find('='); eq != std::string_view::npos) {
      const std::string_view name = pair.substr(0, eq);
      auto decoded = percent_decode(name, "name");
      if (is_secret_param(decoded ? std::string_view(*decoded) : name) && eq + 1 < pair.size()) {
        out.emplace_back(start + pos + eq + 1, pair.size() - eq - 1);
      }
    }
    if (amp == s.size()) {
      break;
    }
    pos = amp + 1;
  }
  return out;
}

// Whether the URL has an '@' after its host part while the host part has none: the sign of a
// password holding an unencoded '/' or '?'.
bool misplaced_at(std::string_view url) {
  const std::size_t sep = url.find("://");
  const std::string_view s = sep == std::string_view::npos ? url : url.substr(sep + 3);
  const std::size_t host_end = std::min(s.find_first_of("/?"), s.size());
  return s.substr(0, host_end).find('@') == std::string_view::npos &&
         s.substr(host_end).find('@') != std::string_view::npos;
}

struct RawPair {
  std::string_view text;  // "name=value"
  std::string_view name;
  std::string_view value;
};

// "a=1&b&c=3" split at '&' and the first '='; a name without '=' has an empty value.
std::vector<RawPair> raw_pairs(std::string_view query) {
  std::vector<RawPair> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    out.push_back(
        {.text = pair,
         .name = pair.substr(0, eq),
         .value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)});
  }
  return out;
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) {
    return;
  }
  for (auto pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + with.size())) {
    text.replace(pos, what.size(), with);
  }
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, std::string_view what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    const int hi = i + 2 < s.size() ? hex(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return fail(Errc::invalid_argument, "bad %-escape in the " + std::string(what));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::vector<std::pair<std::string_view, std::string_view>> query_pairs(std::string_view query) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (const auto& pair : raw_pairs(query)) {
    out.emplace_back(pair.name, pair.value);
  }
  return out;
}

Result<std::vector<QueryParam>> query_params(std::string_view query) {
  std::vector<QueryParam> out;
  for (const auto& pair : raw_pairs(query)) {
    auto name = percent_decode(pair.name, "name of a URL parameter");
    if (!name) {
      return std::unexpected(name.error());
    }
    auto value = percent_decode(pair.value, "value of URL parameter '" + *name + "'");
    if (!value) {
      return std::unexpected(value.error());
    }
    if (std::ranges::any_of(out, [&](const QueryParam& p) { return p.name == *name; })) {
      return fail(Errc::invalid_argument,
                  "URL parameter '" + *name + "' given twice (give each parameter once)");
    }
    out.push_back({.name = std::move(*name), .value = std::move(*value), .raw = pair.text});
  }
  return out;
}

bool is_secret_param(std::string_view name) {
  constexpr std::string_view kSecret = "password";
  if (name.size() < kSecret.size()) {
    return false;
  }
  const std::string_view tail = name.substr(name.size() - kSecret.size());
  return std::ranges::equal(tail, kSecret, [](char a, char b) {
    return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
  });
}

std::string_view url_scheme(std::string_view text) {
  if (text.empty() || !is_alpha(text[0])) {
    return {};
  }
  std::size_t i = 1;
  while (i < text.size() && (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '+' ||
                             text[i] == '-' || text[i] == '.')) {
    ++i;
  }
  return i < text.size() && text[i] == ':' ? text.substr(0, i) : std::string_view();
}

std::string redact_url(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  for (auto [from, length] : secret_ranges(text)) {
    out += text.substr(pos, from - pos);
    out += "***";
    pos = from + length;
  }
  out += text.substr(pos);
  return out;
}

std::string scrub_secrets(std::string_view message, std::string_view url) {
  std::vector<std::string> secrets;
  for (auto [from, length] : secret_ranges(url)) {
    const std::string_view raw = url.substr(from, length);
    secrets.emplace_back(raw);
    if (auto decoded = percent_decode(raw, "secret"); decoded && !decoded->empty()) {
      secrets.push_back(std::move(*decoded));
    }
  }
  // Longest first: a secret that contains another is hidden whole.
  std::ranges::sort(secrets, [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::string out(message);
  for (const auto& secret : secrets) {
    replace_all(out, secret, "***");
  }
  return out;
}

Error url_error(std::string_view url, std::string_view what) {
  std::string message = std::string(what) + " in " + redact_url(url);
  if (misplaced_at(url)) {
    message +=
        " (an '@' after the host: a '/', '?' or '@' in a user name or password must be "
        "percent-encoded, as %2F, %3F, %40)";
  }
  return Error{Errc::invalid_argument, std::move(message)};
}

Result<UrlParts> split_url(std::string_view url) {
  const std::string_view scheme = url_scheme(url);
  if (scheme.empty() || url.substr(scheme.size()).substr(0, 3) != "://") {
    return std::unexpected(url_error(url, "no scheme://"));
  }
  UrlParts parts;
  parts.scheme = scheme;
  std::string_view s = url.substr(scheme.size() + 3);
  const std::size_t host_end = std::min(s.find_first_of("/?"), s.size());
  const std::string_view authority = s.substr(0, host_end);
  parts.hosts = authority;
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    parts.has_userinfo = true;
    parts.hosts = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    parts.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) {
      parts.password = userinfo.substr(colon + 1);
      parts.has_password = true;
    }
  }
  s.remove_prefix(host_end);
  if (s.starts_with('/')) {
    const auto q = s.find('?');
    parts.path = s.substr(1, q == std::string_view::npos ? q : q - 1);
    parts.has_path = true;
    s = q == std::string_view::npos ? std::string_view() : s.substr(q);
  }
  if (s.starts_with('?')) {
    parts.query = s.substr(1);
  }
  if (parts.path.find('@') != std::string_view::npos) {
    return std::unexpected(url_error(url, "an '@' in the path"));
  }
  return parts;
}

Result<HostPort> split_host_port(std::string_view text, std::string_view url) {
  HostPort out;
  out.host = text;
  if (text.starts_with('[')) {  // [::1]:6379
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return std::unexpected(url_error(url, "unclosed '[' in a host"));
    }
    out.host = text.substr(1, close - 1);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && after[0] != ':') {
      return std::unexpected(url_error(url, "text after ']' in a host"));
    }
    out.port = after.empty() ? after : after.substr(1);
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    out.host = text.substr(0, colon);
    out.port = text.substr(colon + 1);
  }
  if (!out.port.empty()) {
    const char* end = out.port.data() + out.port.size();
    auto [p, ec] = std::from_chars(out.port.data(), end, out.port_number);
    if (ec != std::errc() || p != end || out.port_number <= 0 || out.port_number > 65535) {
      return std::unexpected(url_error(url, "bad port (1 to 65535)"));
    }
  }
  return out;
}

Result<std::string> read_password_file(const std::string& path) {
  // O_NONBLOCK: a FIFO put there opens without waiting for a writer (and is refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int e = errno;
    return fail(e == EACCES || e == EPERM ? Errc::permission_denied : Errc::invalid_argument,
                "cannot open the password file " + path + ": " + std::system_category().message(e));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::invalid_argument, "cannot stat the password file " + path + ": " +
                                            std::system_category().message(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::invalid_argument, "the password file " + path + " is not a regular file");
  }
  // As ssh refuses a private key others can read: a password file anyone but its owner may
  // read (or change) is a password already shared.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Errc::permission_denied, "the password file " + path + " is accessible by " +
                                             "group or others (mode " + mode + "): chmod 600 " +
                                             path);
  }
  constexpr std::size_t kMaxSize = 64 * 1024;
  std::string content;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return fail(Errc::invalid_argument, "cannot read the password file " + path + ": " +
                                              std::system_category().message(errno));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > kMaxSize) {
      return fail(Errc::invalid_argument,
                  "the password file " + path + " is larger than 64 KiB: not a password");
    }
  }
  if (content.ends_with('\n')) {
    content.pop_back();
  }
  if (content.empty()) {
    return fail(Errc::invalid_argument, "the password file " + path + " is empty");
  }
  if (content.find('\0') != std::string::npos) {
    return fail(Errc::invalid_argument, "the password file " + path + " holds a NUL byte");
  }
  return content;
}

Result<Credentials> decode_credentials(const UrlParts& parts, std::string_view url) {
  auto user = percent_decode(parts.user, "user name");
  auto password = percent_decode(parts.password, "password");
  if (!user || !password) {
    return std::unexpected(url_error(url, !user ? user.error().message : password.error().message));
  }
  return Credentials{.user = std::move(*user), .password = std::move(*password)};
}

Result<std::string> choose_password(const UrlParts& parts, std::string_view url,
                                    std::string from_url,
                                    const std::optional<std::string>& password_file,
                                    const char* env) {
  if (password_file) {
    if (parts.has_password) {
      return std::unexpected(
          url_error(url, "a password in the URL and a password_file: give one of them"));
    }
    return read_password_file(*password_file);
  }
  if (from_url.empty() && env != nullptr) {
    if (const char* value = std::getenv(env); value != nullptr) {
      return std::string(value);
    }
  }
  return from_url;
}

}  // namespace heartlock::detail

namespace heartlock {

std::string percent_encode(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (detail::is_alpha(c) || detail::is_digit(c) || c == '-' || c == '.' || c == '_' ||
        c == '~' || keep.find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += {'%', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return out;
}

}  // namespace heartlock
