// RedisStore: the redis:// backend (one Redis server; TLS with rediss://).
//
// Keys, under the URL's prefix (default "heartlock:"):
//   <prefix>lock:<name>      a hash: owner, token, host, pid, command, ttl_ms, stale_after_ms,
//                            state, acquired_ms / renewed_ms / heartbeat_ms (server clock); it
//                            carries the lease's ttl (PEXPIRE), so the server frees a dead holder
//   <prefix>fence:<name>     the fencing counter (INCR); no ttl: tokens grow over every
//                            acquisition the server remembers (persist it, or tokens restart
//                            with an empty server)
//   <prefix>released:<name>  the pub/sub channel that wakes waiters on release
#ifndef HEARTLOCK_REDIS_REDIS_STORE_H_
#define HEARTLOCK_REDIS_REDIS_STORE_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../core/leasing_store.h"
#include "connection.h"
#include "redis_url.h"
#include "scripts.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad URL, Errc::unsupported for several hosts (Redlock, not yet).
// Connects lazily: an unreachable server is reported by the first operation, as unavailable.
Result<std::unique_ptr<Store>> open_redis_store(std::string_view url, StoreOptions options);

// The connection a store and its leases share. Thread-safety: run() serialises.
class RedisClient {
 public:
  explicit RedisClient(RedisUrl url) : url_(std::move(url)) {}
  // Runs a script (EVALSHA, or EVAL when the server does not know it yet). Reconnects first if the
  // last call broke the connection. Error replies become Errc::unavailable / permission_denied.
  Result<RedisReply> run(const RedisScript& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args);
  // Runs plain commands in one round trip.
  Result<std::vector<RedisReply>> commands(const std::vector<RedisCommand>& commands);
  const RedisUrl& url() const { return url_; }

 private:
  Result<RedisConnection*> connection_locked();
  const RedisUrl url_;
  std::mutex mu_;
  std::unique_ptr<RedisConnection> conn_;
};

// The state of a lock from the lock hash (HGETALL as a flat list), its PTTL and the server's time.
LockInfo describe_redis(std::string_view name, const RedisReply& fields, long long pttl_ms,
                        long long now_ms, std::string location);

class RedisRenewBatch;

class RedisStore final : public LeasingStore {
 public:
  RedisStore(RedisUrl url, StoreOptions options);
  ~RedisStore() override;

  Result<LockInfo> inspect(std::string_view name) override;
  Result<std::vector<LockInfo>> list() override;
  Result<void> break_lease(std::string_view name, std::uint64_t token) override;
  std::string url() const override { return client_->url().redacted(); }

 protected:
  Result<Attempt> claim(const ClaimRequest& request) override;

 private:
  Result<Attempt> try_once(const ClaimRequest& request);
  std::string lock_key(std::string_view name) const {
    return prefix_ + "lock:" + std::string(name);
  }
  std::string fence_key(std::string_view name) const {
    return prefix_ + "fence:" + std::string(name);
  }
  std::string channel(std::string_view name) const {
    return prefix_ + "released:" + std::string(name);
  }

  std::string prefix_;
  std::shared_ptr<RedisClient> client_;
  std::shared_ptr<RedisRenewBatch> batch_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_STORE_H_
