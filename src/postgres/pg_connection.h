// PgConnection: one libpq connection with a time limit on every statement.
//
// libpq's blocking calls wait forever for a server that stopped answering; here the connection is
// made, and every statement sent and waited for, with the asynchronous API on a non-blocking
// socket and poll(2), up to the URL's timeout cut short by the thread's I/O deadline
// (io_deadline.h). A statement that timed out leaves the connection broken(): its answer may
// still come, so it is never used again.
#ifndef HEARTLOCK_POSTGRES_PG_CONNECTION_H_
#define HEARTLOCK_POSTGRES_PG_CONNECTION_H_

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"

#include "pg_url.h"

struct pg_conn;
struct pg_result;

namespace heartlock::detail {

struct LibpqApi;

using PgValue = std::optional<std::string>;  // nullopt: SQL NULL
using PgRow = std::vector<PgValue>;

// Thread-safety: none; callers serialise. Move-only.
class PgConnection {
 public:
  // Errc::unavailable if the server cannot be reached (within the URL's timeout, at least 2 s as
  // libpq's connect_timeout, and the I/O deadline), Errc::permission_denied for refused
  // credentials; messages never contain the password.
  static Result<std::unique_ptr<PgConnection>> connect(const PgUrl& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters ($1, $2, ...) and returns its rows as text.
  // Errc::unavailable ("deadline passed") without sending anything once the I/O deadline has
  // passed; the connection stays usable then.
  Result<std::vector<PgRow>> exec(std::string_view sql, const std::vector<PgValue>& params = {});
  // The same with the parameters as NUL-terminated text (nullptr: NULL), not copied.
  Result<std::vector<PgRow>> exec(std::string_view sql, std::span<const char* const> params);

  // After LISTEN: reads what arrived on the socket, without blocking (poll socket() to wait);
  // true if one or more notifications came. Errc::unavailable if the session ended.
  Result<bool> read_notifications();

  // For a connection with no statement in flight: reads what arrived meanwhile (a notice, a
  // notification, the server's goodbye) and answers whether the session still lives. Never blocks.
  bool usable_when_idle();

  bool broken() const { return broken_; }
  // The socket, for polling only (never read outside this class); -1 if there is none.
  int socket() const;
  // Whether the last failed statement certainly did not run: the session had already ended (the
  // server was shut down, or the backend terminated, while the connection sat idle).
  bool failed_before_running() const { return failed_before_running_; }
  int backend_pid() const;

 private:
  PgConnection() = default;
  Error connection_error(const std::string& what);
  // Sends what libpq buffered, waits up to `deadline` (`budget` from the start of the statement)
  // for the statement's answer and collects its rows.
  Result<std::vector<PgRow>> finish(std::chrono::steady_clock::time_point deadline,
                                    std::chrono::milliseconds budget);
  // Waits for `events` on the socket until `deadline`; false on timeout.
  Result<bool> wait_socket(short events, std::chrono::steady_clock::time_point deadline);
  // libpq's notice receiver: notices are dropped (the library never writes to stderr, as libpq's
  // default would), and a FATAL one (the server ending the session) is remembered.
  static void on_notice(void* self, const pg_result* notice);
  static std::string prepared_name(std::string_view text);

  const LibpqApi* pq_ = nullptr;
  pg_conn* conn_ = nullptr;
  std::chrono::milliseconds timeout_{5000};
  std::string where_;
  bool broken_ = false;
  bool failed_before_running_ = false;
  bool session_ended_ = false;                                // a FATAL notice arrived while idle
  std::map<std::string, std::string, std::less<>> prepared_;  // statement text -> name
  bool prepare_ = true;        // false behind a proxy that loses prepared statements
  std::string last_sqlstate_;  // of the last failed statement
};

// A PostgreSQL array literal of text values ({"a","b\"c"}), for unnest($1::text[]).
std::string pg_text_array(const std::vector<std::string>& values);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_CONNECTION_H_
