// SessionPool: the advisory mode's spare sessions.
#ifndef HEARTLOCK_POSTGRES_SESSION_POOL_H_
#define HEARTLOCK_POSTGRES_SESSION_POOL_H_

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg_client.h"
#include "pg_connection.h"

namespace heartlock::detail {

// Sessions that held an advisory lock and released it cleanly (or never got one), kept for the
// next acquire: a new session costs a connection set-up (~3 ms here), a kept one nothing.
//
// Thread-safety: all methods may be called concurrently (guarded by mu_). Owned by shared_ptr:
// the store and its leases, which give their session back on a clean release.
class SessionPool {
 public:
  SessionPool(std::shared_ptr<PgClient> client, std::string url)
      : client_(std::move(client)), url_(std::move(url)) {}

  // A kept session (`reused` set), else a new one checked for a transaction-pooling proxy.
  // Errc::unavailable when no session can be made, Errc::unsupported behind a transaction-pooling
  // proxy.
  Result<std::unique_ptr<PgConnection>> take(bool& reused);

  // Keeps a session that holds no lock (at most a few).
  void give(std::unique_ptr<PgConnection> session);

 private:
  static constexpr std::size_t kMaxIdle = 8;
  std::shared_ptr<PgClient> client_;
  const std::string url_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mu_
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_SESSION_POOL_H_
