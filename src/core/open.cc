// Store::open: picks the backend from the URL scheme.
#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string>

#include "heartlock/store.h"

#include "../file/file_store.h"
#include "url_parts.h"
#ifdef HEARTLOCK_WITH_ETCD
#include "../etcd/etcd_store.h"
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
#include "../postgres/pg_store.h"
#endif
#ifdef HEARTLOCK_WITH_REDIS
#include "../redis/redis_store.h"
#endif

namespace heartlock {

std::string default_file_url() { return "file://" + detail::default_lock_dir(); }

namespace {

constexpr const char* kKnownSchemes[] = {"redis",      "rediss", "redis-sentinel", "postgres",
                                         "postgresql", "etcd",   "etcds"};

Result<std::unique_ptr<Store>> open_file_path(std::string_view path, std::string_view url,
                                              StoreOptions options) {
  if (path.find('?') != std::string_view::npos) {
    return fail(Errc::invalid_argument,
                "the file backend takes no options ('?' in " + std::string(url) + ")");
  }
  return detail::open_file_store(std::string(path), std::move(options));
}

// The backend of a network URL (scheme in lower case), or nullopt for a scheme not built in.
std::optional<Result<std::unique_ptr<Store>>> open_network_store(
    [[maybe_unused]] std::string_view scheme, [[maybe_unused]] std::string_view url,
    [[maybe_unused]] StoreOptions& options) {
#ifdef HEARTLOCK_WITH_REDIS
  if (scheme == "redis" || scheme == "rediss" || scheme == "redis-sentinel") {
    return detail::open_redis_store(url, std::move(options));
  }
#endif
#ifdef HEARTLOCK_WITH_ETCD
  if (scheme == "etcd" || scheme == "etcds") {
    return detail::open_etcd_store(url, std::move(options));
  }
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
  if (scheme == "postgres" || scheme == "postgresql") {
    return detail::open_postgres_store(url, std::move(options));
  }
#endif
  return std::nullopt;
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
  std::string_view rest = std::string_view(normalised).substr(scheme.size() + 1);
  if (scheme == "file") {
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
  // From here on the URL may hold a password: every message shows it redacted, and what a
  // backend says is scrubbed of it once more (a client library may echo what it was given).
  const std::string shown = detail::redact_url(url);
  const bool known = std::ranges::find(kKnownSchemes, scheme) != std::end(kKnownSchemes);
  if (!rest.starts_with("//")) {
    return fail(Errc::invalid_argument,
                "unknown backend URL '" + shown + "'" +
                    (known ? " (did you mean " + scheme + "://...?)"
                           : " (expected file:, redis://, rediss://, redis-sentinel://, "
                             "postgres://, etcd:// or a path; a directory whose name has a ':' "
                             "before any '/' is written ./NAME)"));
  }
  if (auto opened = open_network_store(scheme, normalised, options)) {
    if (!*opened) {
      opened->error().message = detail::scrub_secrets(opened->error().message, normalised);
    }
    return std::move(*opened);
  }
  if (known) {
    return fail(Errc::unsupported, "the " + scheme + ":// backend is not in this build");
  }
  return fail(Errc::invalid_argument,
              "unknown backend scheme '" + std::string(written_scheme) + "' in " + shown +
                  " (expected file://, redis://, rediss://, redis-sentinel://, postgres://, "
                  "etcd://)");
}

}  // namespace heartlock
