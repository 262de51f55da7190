// The scheme table. This file, and no other, knows which backends a build has: HEARTLOCK_WITH_*
// is defined for the opener part only (src/CMakeLists.txt).
#include "schemes.h"

#include <algorithm>
#include <array>

#ifdef HEARTLOCK_WITH_ETCD
#include "../etcd/etcd_store.h"
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
#include "../postgres/pg_store.h"
#endif
#ifdef HEARTLOCK_WITH_REDIS
#include "../redis/redis_store.h"
#endif

namespace heartlock::detail {
namespace {

#ifdef HEARTLOCK_WITH_REDIS
constexpr StoreOpener kRedis = open_redis_store;
#else
constexpr StoreOpener kRedis = nullptr;
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
constexpr StoreOpener kPostgres = open_postgres_store;
#else
constexpr StoreOpener kPostgres = nullptr;
#endif
#ifdef HEARTLOCK_WITH_ETCD
constexpr StoreOpener kEtcd = open_etcd_store;
#else
constexpr StoreOpener kEtcd = nullptr;
#endif

// "postgresql" is libpq's other spelling of "postgres"; "rediss" and "etcds" are TLS. A Redlock
// quorum is a redis:// URL with several hosts (redis_url.h), not a scheme.
constexpr std::array kSchemes = {
    Scheme{.name = "redis", .open = kRedis},          Scheme{.name = "rediss", .open = kRedis},
    Scheme{.name = "redis-sentinel", .open = kRedis}, Scheme{.name = "postgres", .open = kPostgres},
    Scheme{.name = "postgresql", .open = kPostgres},  Scheme{.name = "etcd", .open = kEtcd},
    Scheme{.name = "etcds", .open = kEtcd},
};

}  // namespace

std::span<const Scheme> network_schemes() { return kSchemes; }

const Scheme* find_scheme(std::string_view name) {
  const auto* found = std::ranges::find(kSchemes, name, &Scheme::name);
  return found == kSchemes.end() ? nullptr : found;
}

std::string listed_schemes() {
  std::string out;
  for (const Scheme& scheme : kSchemes) {
    out += (out.empty() ? "" : ", ") + std::string(scheme.name) + "://";
  }
  return out;
}

}  // namespace heartlock::detail
