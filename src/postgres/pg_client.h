// PgClient: the connection a PostgreSQL store and its leases share, made again when it breaks,
// with a one-time setup (creating the lease table) before the first statement.
#ifndef HEARTLOCK_POSTGRES_PG_CLIENT_H_
#define HEARTLOCK_POSTGRES_PG_CLIENT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "pg_connection.h"
#include "pg_url.h"

namespace heartlock::detail {

// Thread-safety: every method may be called concurrently; statements are serialised.
class PgClient {
 public:
  using Setup = std::function<Result<void>(PgConnection&)>;
  PgClient(PgUrl url, Setup setup) : url_(std::move(url)), setup_(std::move(setup)) {}

  Result<std::vector<PgRow>> exec(std::string_view sql, const std::vector<PgValue>& params = {});
  // The parameters as NUL-terminated text (nullptr: NULL), not copied (the hot statements).
  Result<std::vector<PgRow>> exec(std::string_view sql, std::span<const char* const> params);
  // A connection of its own (LISTEN, advisory locks), after the setup.
  Result<std::unique_ptr<PgConnection>> connect_new();
  const PgUrl& url() const { return url_; }

 private:
  Result<void> set_up_locked(PgConnection& c);
  template <class Params>
  Result<std::vector<PgRow>> exec_any(std::string_view sql, const Params& params);

  const PgUrl url_;
  const Setup setup_;
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
  bool set_up_ = false;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_CLIENT_H_
