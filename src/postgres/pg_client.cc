#include "pg_client.h"

namespace heartlock::detail {

Result<void> PgClient::set_up_locked(PgConnection& c) {
  if (set_up_ || !setup_) {
    return {};
  }
  auto ok = setup_(c);
  if (ok) {
    set_up_ = true;
  }
  return ok;
}

Result<std::vector<PgRow>> PgClient::exec(std::string_view sql,
                                          const std::vector<PgValue>& params) {
  return exec_any(sql, params);
}

Result<std::vector<PgRow>> PgClient::exec(std::string_view sql,
                                          std::span<const char* const> params) {
  return exec_any(sql, params);
}

template <class Params>
Result<std::vector<PgRow>> PgClient::exec_any(std::string_view sql, const Params& params) {
  std::lock_guard lock(mu_);
  for (int attempt = 0;; ++attempt) {
    if (!conn_ || conn_->broken()) {
      conn_.reset();
      auto c = PgConnection::connect(url_);
      if (!c) {
        return std::unexpected(c.error());
      }
      conn_ = std::move(*c);
    }
    if (auto ok = set_up_locked(*conn_); !ok) {
      return std::unexpected(ok.error());
    }
    auto rows = conn_->exec(sql, params);
    const bool retry = !rows && attempt == 0 && conn_->failed_before_running();
    if (conn_->broken()) {
      // Closed at once: after a statement that timed out its answer may still come, and must
      // never be read as another statement's.
      conn_.reset();
    }
    // A session that ended while idle (restart, pg_terminate_backend) is found only now; the
    // statement never ran, so it is sent once more on a new connection.
    if (!retry) {
      return rows;
    }
  }
}

Result<std::unique_ptr<PgConnection>> PgClient::connect_new() {
  auto c = PgConnection::connect(url_);
  if (!c) {
    return c;
  }
  std::lock_guard lock(mu_);
  if (auto ok = set_up_locked(**c); !ok) {
    return std::unexpected(ok.error());
  }
  return c;
}

}  // namespace heartlock::detail
