// Store::open: picks the backend from the URL scheme.
#include <cstdlib>
#include <string>

#include "heartlock/store.h"

#include "../file/file_store.h"
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

Result<std::unique_ptr<Store>> Store::open(std::string_view url, StoreOptions options) {
  if (url.empty()) {
    return detail::open_file_store(detail::default_lock_dir(), std::move(options));
  }
  if (url.find('\0') != std::string_view::npos) {
    return fail(Errc::invalid_argument, "backend URL contains a NUL byte");
  }
  std::string_view rest = url;
  if (rest.starts_with("file://")) {
    rest.remove_prefix(7);
    if (rest.starts_with("localhost/")) {
      rest.remove_prefix(9);
    }
    if (!rest.starts_with('/')) {
      return fail(Errc::invalid_argument,
                  "file URL " + std::string(url) + " must be file:///absolute/path");
    }
  } else if (rest.starts_with("file:")) {
    rest.remove_prefix(5);
  } else if (auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    std::string scheme(rest.substr(0, scheme_end));
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
    for (const char* known :
         {"redis", "rediss", "redis-sentinel", "postgres", "postgresql", "etcd", "etcds"}) {
      if (scheme == known) {
        return fail(Errc::unsupported, "the " + scheme + ":// backend is not in this build");
      }
    }
    return fail(
        Errc::invalid_argument,
        "unknown backend scheme '" + scheme + "' in " + std::string(url) +
            " (expected file://, redis://, rediss://, redis-sentinel://, postgres://, etcd://)");
  }
  if (rest.find('?') != std::string_view::npos) {
    return fail(Errc::invalid_argument,
                "the file backend takes no options ('?' in " + std::string(url) + ")");
  }
  return detail::open_file_store(std::string(rest), std::move(options));
}

}  // namespace heartlock
