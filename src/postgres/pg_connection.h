// PgConnection: one libpq connection with a time limit on every statement.
//
// libpq's blocking calls wait forever for a server that stopped answering; here every statement
// is sent with the asynchronous API and waited for with poll(2) up to the URL's timeout, after
// which the connection is dropped (broken()) rather than left hanging.
#ifndef HEARTLOCK_POSTGRES_PG_CONNECTION_H_
#define HEARTLOCK_POSTGRES_PG_CONNECTION_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"

#include "pg_url.h"

struct pg_conn;

namespace heartlock::detail {

struct LibpqApi;

using PgValue = std::optional<std::string>;  // nullopt: SQL NULL
using PgRow = std::vector<PgValue>;

// Thread-safety: none; callers serialise. Move-only.
class PgConnection {
 public:
  // Errc::unavailable if the server cannot be reached, Errc::permission_denied for refused
  // credentials; messages never contain the password.
  static Result<std::unique_ptr<PgConnection>> connect(const PgUrl& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters ($1, $2, ...) and returns its rows as text.
  Result<std::vector<PgRow>> exec(std::string_view sql, const std::vector<PgValue>& params = {});

  // After LISTEN: waits up to `timeout` for a notification; true if one (or more) arrived.
  Result<bool> wait_notification(std::chrono::milliseconds timeout);

  bool broken() const { return broken_; }
  // Whether the last failed statement certainly did not run: the session had already ended (the
  // server was shut down, or the backend terminated, while the connection sat idle).
  bool failed_before_running() const { return failed_before_running_; }
  int backend_pid() const;

 private:
  PgConnection() = default;
  Error connection_error(const std::string& what);
  // Waits (up to the timeout) for the statement sent and collects its rows.
  Result<std::vector<PgRow>> finish();
  static std::string prepared_name(std::string_view text);

  const LibpqApi* pq_ = nullptr;
  pg_conn* conn_ = nullptr;
  std::chrono::milliseconds timeout_{5000};
  std::string where_;
  bool broken_ = false;
  bool failed_before_running_ = false;
  std::map<std::string, std::string, std::less<>> prepared_;  // statement text -> name
  bool prepare_ = true;        // false behind a proxy that loses prepared statements
  std::string last_sqlstate_;  // of the last failed statement
};

// A PostgreSQL array literal of text values ({"a","b\"c"}), for unnest($1::text[]).
std::string pg_text_array(const std::vector<std::string>& values);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_CONNECTION_H_
