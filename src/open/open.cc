// Store::open: picks the backend from the URL scheme, through the scheme table (schemes.h).
//
// This is the one part of the library above the backends: core knows none of them, and each
// backend knows only core. src/CMakeLists.txt checks that layering on every build.
#include <algorithm>
#include <string>

#include "heartlock/store.h"

#include "../core/url_parts.h"
#include "../file/file_store.h"
#include "schemes.h"

namespace heartlock {

std::string default_file_url() { return "file://" + detail::default_lock_dir(); }

namespace {

Result<std::unique_ptr<Store>> open_file_path(std::string_view path, std::string_view url,
                                              StoreOptions options) {
  if (path.find('?') != std::string_view::npos) {
    return fail(Errc::invalid_argument,
                "the file backend takes no options ('?' in " + std::string(url) + ")");
  }
  return detail::open_file_store(std::string(path), std::move(options));
}

// "file:NAME", "file:/dir", "file:///dir" or "file://localhost/dir"; `rest` follows "file:".
Result<std::unique_ptr<Store>> open_file_url(std::string_view rest, std::string_view url,
                                             StoreOptions options) {
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    if (rest.starts_with("localhost/")) {
      rest.remove_prefix(9);
    }
    if (!rest.starts_with('/')) {
      return fail(Errc::invalid_argument,
                  "file URL " + std::string(url) + " must be file:///absolute/path");
    }
  }
  return open_file_path(rest, url, std::move(options));
}

// A network URL: `url` as the caller wrote it, `normalised` the same with its scheme (`scheme`) in
// lower case, `written` the scheme as written. From here on the URL may hold a password: every
// message shows it redacted, and what a backend says is scrubbed of it once more (a client library
// may echo what it was given).
Result<std::unique_ptr<Store>> open_network_url(std::string_view url, const std::string& normalised,
                                                std::string_view scheme, std::string_view written,
                                                StoreOptions options) {
  const std::string shown = detail::redact_url(url);
  const detail::Scheme* known = detail::find_scheme(scheme);
  if (!std::string_view(normalised).substr(scheme.size() + 1).starts_with("//")) {
    return fail(Errc::invalid_argument,
                "unknown backend URL '" + shown + "'" +
                    (known != nullptr ? " (did you mean " + std::string(scheme) + "://...?)"
                                      : " (expected file:, " + detail::listed_schemes() +
                                            " or a path; a directory whose name has a ':' "
                                            "before any '/' is written ./NAME)"));
  }
  if (known == nullptr) {
    return fail(Errc::invalid_argument, "unknown backend scheme '" + std::string(written) +
                                            "' in " + shown + " (expected file://, " +
                                            detail::listed_schemes() + ")");
  }
  if (!known->built_in()) {
    return fail(Errc::unsupported,
                "the " + std::string(scheme) + ":// backend is not in this build");
  }
  auto opened = known->open(normalised, std::move(options));
  if (!opened) {
    opened.error().message = detail::scrub_secrets(opened.error().message, normalised);
  }
  return opened;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(std::string_view url, StoreOptions options) {
  if (url.empty()) {
    return detail::open_file_store(detail::default_lock_dir(), std::move(options));
  }
  if (url.find('\0') != std::string_view::npos) {
    return fail(Errc::invalid_argument, "backend URL contains a NUL byte");
  }
  // Anything that starts like a URL ("scheme:", RFC 3986) is one, and must be a form known here:
  // a mistyped "redis:/host" must not become a lock directory named "redis:". A plain path
  // (/var/lock/x, ./dir, dir) does not start like a URL; a directory whose name does is written
  // ./NAME or file:NAME.
  const std::string_view written_scheme = detail::url_scheme(url);
  if (written_scheme.empty()) {
    return open_file_path(url, url, std::move(options));
  }
  // Schemes are case-insensitive (RFC 3986): the parsers below see them in lower case.
  std::string normalised(url);
  std::ranges::transform(written_scheme, normalised.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  const std::string scheme = normalised.substr(0, written_scheme.size());
  if (scheme == "file") {
    return open_file_url(std::string_view(normalised).substr(scheme.size() + 1), url,
                         std::move(options));
  }
  return open_network_url(url, normalised, scheme, written_scheme, std::move(options));
}

}  // namespace heartlock
