#include "session_pool.h"

#include "pg_values.h"

namespace heartlock::detail {

Result<std::unique_ptr<PgConnection>> SessionPool::take(bool& reused) {
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty()) {
      auto s = std::move(idle_.back());
      idle_.pop_back();
      // Sessions the server ended meanwhile (a restart) said so on their sockets: skipped here
      // rather than found out by a statement.
      if (s->usable_when_idle()) {
        reused = true;
        return s;
      }
    }
  }
  reused = false;
  auto session = client_->connect_new();
  if (!session) {
    return session;
  }
  // A session lock needs a session: behind a transaction-pooling proxy each statement may run
  // on another backend, and the lock would stay behind on one we no longer talk to.
  PgConnection& s = **session;
  auto first = s.exec("SELECT pg_backend_pid()");
  auto second = s.exec("SELECT pg_backend_pid()");
  if (!first || !second) {
    return std::unexpected(!first ? first.error() : second.error());
  }
  if (first->empty() || second->empty() || first->front()[0] != second->front()[0] ||
      to_ll(first->front()[0]) != s.backend_pid()) {
    return fail(Errc::unsupported,
                "postgres " + url_ +
                    ": the backend changed between two statements -- a transaction-pooling "
                    "proxy (e.g. pgbouncer pool_mode=transaction) is in front, and session "
                    "advisory locks do not survive it; connect to PostgreSQL directly, or use "
                    "mode=lease");
  }
  return session;
}

void SessionPool::give(std::unique_ptr<PgConnection> session) {
  if (!session || session->broken()) {
    return;
  }
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdle) {
    idle_.push_back(std::move(session));
  }
}

}  // namespace heartlock::detail
