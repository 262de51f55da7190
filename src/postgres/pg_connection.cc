#include "pg_connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../core/io_deadline.h"
#include "../core/sha256.h"
#include "../core/url_parts.h"
#include "libpq_api.h"

namespace heartlock::detail {
namespace {

using Clock = std::chrono::steady_clock;

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// The class of an error from its SQLSTATE (see PostgreSQL's errcodes appendix).
Errc errc_for_sqlstate(std::string_view state) {
  if (state.starts_with("28") || state == "42501") {
    return Errc::permission_denied;  // invalid authorization, insufficient privilege
  }
  if (state.starts_with("08") || state.starts_with("57") || state.starts_with("53") ||
      state == "40001" || state == "40P01") {
    return Errc::unavailable;  // connection, operator intervention, resources, retry
  }
  if (state.starts_with("22") || state.starts_with("42")) {
    return Errc::invalid_argument;  // bad data or names (a table name from the URL)
  }
  return Errc::unavailable;
}

}  // namespace

std::string pg_text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i > 0 ? ",\"" : "\"";
    for (char c : values[i]) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
      }
      out.push_back(c);
    }
    out.push_back('"');
  }
  return out + "}";
}

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const PgUrl& url) {
  auto api = libpq_api();
  if (!api) {
    return std::unexpected(api.error());
  }
  std::unique_ptr<PgConnection> c(new PgConnection());
  c->pq_ = *api;
  c->timeout_ = url.timeout;
  c->where_ = url.redacted;
  // libpq's blocking connect (PQconnectdb) waits connect_timeout per host, and nothing shorter:
  // the connection is made with PQconnectPoll instead, bounded by the same time (libpq's minimum
  // of 2 s, whole seconds) for all hosts together, and by the thread's I/O deadline.
  const std::chrono::seconds connect_timeout(
      std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(url.timeout).count()));
  const auto budget = capped(connect_timeout);
  if (budget <= std::chrono::milliseconds(0)) {
    return fail(Errc::unavailable,
                "postgres " + url.redacted + ": deadline passed (not connected)");
  }
  const auto deadline = Clock::now() + budget;
  // Defaults first; the URI (expanded from dbname) overrides them.
  const std::string connect_timeout_text = std::to_string(connect_timeout.count());
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {connect_timeout_text.c_str(), "heartlock", url.conninfo.c_str(), nullptr};
  c->conn_ = c->pq_->PQconnectStartParams(keywords, values, 1);
  if (c->conn_ == nullptr) {
    return fail(Errc::internal, "postgres: out of memory");
  }
  c->pq_->PQsetNoticeReceiver(c->conn_, &PgConnection::on_notice, c.get());
  // As libpq's documentation says: start as if PQconnectPoll had asked to wait for writing.
  PostgresPollingStatusType status =
      c->pq_->PQstatus(c->conn_) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED) {
    auto ready = c->wait_socket(status == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
    if (!ready) {
      return std::unexpected(ready.error());
    }
    if (!*ready) {
      return fail(
          Errc::unavailable,
          "postgres " + url.redacted + ": cannot connect within " + std::to_string(budget.count()) +
              "ms" +
              (budget < connect_timeout ? " (the I/O deadline of the lease it was for)" : ""));
    }
    status = c->pq_->PQconnectPoll(c->conn_);
  }
  if (status == PGRES_POLLING_FAILED || c->pq_->PQstatus(c->conn_) != CONNECTION_OK) {
    std::string message = trimmed(c->pq_->PQerrorMessage(c->conn_));
    bool auth = message.find("authentication failed") != std::string::npos ||
                message.find("no password supplied") != std::string::npos ||
                message.find("no pg_hba.conf entry") != std::string::npos ||
                message.find("does not exist") != std::string::npos;
    // libpq may repeat pieces of the connection string it was given: never the password.
    return fail(auth ? Errc::permission_denied : Errc::unavailable,
                "postgres " + url.redacted + ": " + scrub_secrets(message, url.conninfo));
  }
  // Non-blocking from here on: sending a statement never waits on a full socket buffer (a
  // server that stopped reading), and PQfinish in the destructor never blocks.
  if (c->pq_->PQsetnonblocking(c->conn_, 1) != 0) {
    return fail(Errc::internal,
                "postgres " + url.redacted + ": cannot go non-blocking: " +
                    scrub_secrets(trimmed(c->pq_->PQerrorMessage(c->conn_)), url.conninfo));
  }
  return c;
}

void PgConnection::on_notice(void* self, const pg_result* notice) {
  auto* c = static_cast<PgConnection*>(self);
  const char* severity = c->pq_->PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  // Outside a statement the server's ERROR or FATAL arrives here: "terminating connection due to
  // administrator command" (57P01) just before it closes the session.
  if (severity != nullptr &&
      (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
    c->session_ended_ = true;
  }
}

Result<bool> PgConnection::wait_socket(short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return false;
    }
    // The socket may change while connecting (another host, another attempt): asked each time.
    pollfd p{.fd = pq_->PQsocket(conn_), .events = events, .revents = 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) {
      return true;
    }
    if (n < 0 && errno != EINTR) {
      return std::unexpected(connection_error("poll"));
    }
  }
}

int PgConnection::socket() const { return conn_ != nullptr ? pq_->PQsocket(conn_) : -1; }

bool PgConnection::usable_when_idle() {
  if (broken_ || conn_ == nullptr) {
    return false;
  }
  pollfd p{.fd = pq_->PQsocket(conn_), .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, 0) > 0) {
    // PQconsumeInput reads; PQisBusy parses (notices to on_notice, notifications queued for
    // PQnotifies). EOF or a reset: the session is gone.
    if (pq_->PQconsumeInput(conn_) == 0) {
      broken_ = true;
      return false;
    }
    (void)pq_->PQisBusy(conn_);
  }
  if (session_ended_ || pq_->PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return false;
  }
  return true;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) {
    pq_->PQfinish(conn_);
  }
}

int PgConnection::backend_pid() const { return conn_ != nullptr ? pq_->PQbackendPID(conn_) : 0; }

Error PgConnection::connection_error(const std::string& what) {
  broken_ = true;
  return Error{Errc::unavailable,
               "postgres " + where_ + ": " + what + ": " + trimmed(pq_->PQerrorMessage(conn_))};
}

Result<std::vector<PgRow>> PgConnection::exec(std::string_view sql,
                                              const std::vector<PgValue>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p ? p->c_str() : nullptr);
  }
  return exec(sql, std::span<const char* const>(values));
}

Result<std::vector<PgRow>> PgConnection::exec(std::string_view sql,
                                              std::span<const char* const> values) {
  failed_before_running_ = false;
  // A session the server ended while this connection sat idle (pg_terminate_backend, a restart)
  // is found here, before anything is sent on it.
  if (!usable_when_idle()) {
    failed_before_running_ = true;
    broken_ = true;
    return fail(Errc::unavailable, "postgres " + where_ + ": connection lost");
  }
  // One bound for the statement, prepare included: the URL's timeout, cut short by the I/O
  // deadline. With no time left nothing is sent, and the connection stays usable.
  const auto budget = capped(timeout_);
  if (budget <= std::chrono::milliseconds(0)) {
    return fail(Errc::unavailable, "postgres " + where_ + ": deadline passed (nothing sent)");
  }
  const auto deadline = Clock::now() + budget;
  const int n_params = static_cast<int>(values.size());
  // Statements with parameters are the hot ones (acquire, renew, release): each is prepared once
  // per connection, so the server parses and plans it once, not at every call. Behind a
  // transaction-pooling proxy (pgbouncer before 1.21) a prepared statement may be gone at the next
  // call (26000, the proxy chose another server session): that connection then sends every
  // statement with its text. Names are a hash of the text, so that a session shared through such
  // a proxy never runs another client's statement under our name ("already exists", 42P05, then
  // means the same text).
  // The prepared statement is found by the text as given; a NUL-terminated copy is made only to
  // prepare it or send it as text.
  auto send_text = [&] {
    const std::string text(sql);
    if (pq_->PQsendQueryParams(conn_, text.c_str(), n_params, nullptr, values.data(), nullptr,
                               nullptr, 0) == 0) {
      failed_before_running_ = true;
      return Result<std::vector<PgRow>>(std::unexpected(connection_error("cannot send")));
    }
    return finish(deadline, budget);
  };
  if (values.empty() || !prepare_) {
    return send_text();
  }
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string text(sql);
    if (pq_->PQsendPrepare(conn_, prepared_name(text).c_str(), text.c_str(), n_params, nullptr) ==
        0) {
      failed_before_running_ = true;
      return std::unexpected(connection_error("cannot send"));
    }
    if (auto done = finish(deadline, budget); !done && last_sqlstate_ != "42P05") {
      return done;
    }
    it = prepared_.emplace(text, prepared_name(text)).first;
  }
  if (pq_->PQsendQueryPrepared(conn_, it->second.c_str(), n_params, values.data(), nullptr, nullptr,
                               0) == 0) {
    failed_before_running_ = true;
    return std::unexpected(connection_error("cannot send"));
  }
  auto rows = finish(deadline, budget);
  if (!rows && last_sqlstate_ == "26000") {
    prepare_ = false;
    return send_text();
  }
  return rows;
}

std::string PgConnection::prepared_name(std::string_view text) {
  return "heartlock_" + sha1_hex(text).substr(0, 24);
}

Result<std::vector<PgRow>> PgConnection::finish(Clock::time_point deadline,
                                                std::chrono::milliseconds budget) {
  last_sqlstate_.clear();
  auto timed_out = [&] {
    broken_ = true;  // the statement may still run and answer; this connection is not used again
    return fail(Errc::unavailable,
                "postgres " + where_ + ": no answer within " + std::to_string(budget.count()) +
                    "ms" +
                    (budget < timeout_ ? " (the I/O deadline of the lease it was for)" : ""));
  };
  // Non-blocking: what does not fit into the socket is sent as it drains. Reading meanwhile
  // keeps a server that answers while we still send from stalling both sides (libpq's advice).
  // Waits for the socket (up to the deadline), then reads what arrived.
  auto wait_and_consume = [&](short events) -> Result<void> {
    auto ready = wait_socket(events, deadline);
    if (!ready) {
      return std::unexpected(ready.error());
    }
    if (!*ready) {
      return timed_out();
    }
    if (pq_->PQconsumeInput(conn_) == 0) {
      return std::unexpected(connection_error("connection lost"));
    }
    return {};
  };
  for (int left = pq_->PQflush(conn_); left != 0; left = pq_->PQflush(conn_)) {
    if (left < 0) {
      return std::unexpected(connection_error("cannot send"));
    }
    if (auto ok = wait_and_consume(static_cast<short>(POLLIN | POLLOUT)); !ok) {
      return std::unexpected(ok.error());
    }
  }
  // PQgetResult blocks, without a bound, until its answer is complete; called only once PQisBusy
  // says it will not -- before each result, since the one after (or the end) may not be here yet.
  auto until_not_busy = [&]() -> Result<void> {
    while (pq_->PQisBusy(conn_) != 0) {
      if (auto ok = wait_and_consume(POLLIN); !ok) {
        return ok;
      }
    }
    return {};
  };
  std::vector<PgRow> rows;
  std::optional<Error> error;
  for (;;) {
    if (auto ok = until_not_busy(); !ok) {
      return std::unexpected(ok.error());
    }
    PGresult* r = pq_->PQgetResult(conn_);
    if (r == nullptr) {
      break;
    }
    ExecStatusType status = pq_->PQresultStatus(r);
    if (status == PGRES_TUPLES_OK) {
      const int n = pq_->PQntuples(r);
      const int m = pq_->PQnfields(r);
      for (int i = 0; i < n; ++i) {
        PgRow row;
        row.reserve(static_cast<std::size_t>(m));
        for (int j = 0; j < m; ++j) {
          row.push_back(
              pq_->PQgetisnull(r, i, j) != 0
                  ? PgValue()
                  : PgValue(std::string(pq_->PQgetvalue(r, i, j),
                                        static_cast<std::size_t>(pq_->PQgetlength(r, i, j)))));
        }
        rows.push_back(std::move(row));
      }
    } else if (status != PGRES_COMMAND_OK && !error) {
      const char* state = pq_->PQresultErrorField(r, PG_DIAG_SQLSTATE);
      last_sqlstate_ = state != nullptr ? state : "";
      // 57P01..57P03: the session was ended by a shutdown or pg_terminate_backend, which the
      // server announces at once; the client reads it only with its next statement, which
      // therefore never ran.
      failed_before_running_ = state != nullptr && std::string_view(state).starts_with("57P0");
      broken_ = broken_ || failed_before_running_;
      error = Error{errc_for_sqlstate(state != nullptr ? state : ""),
                    "postgres " + where_ + ": " + trimmed(pq_->PQresultErrorMessage(r))};
      if (pq_->PQstatus(conn_) != CONNECTION_OK) {
        broken_ = true;
        error->code = Errc::unavailable;
      }
    }
    pq_->PQclear(r);
  }
  if (pq_->PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
  }
  if (error) {
    return std::unexpected(*error);
  }
  return rows;
}

Result<bool> PgConnection::read_notifications() {
  if (pq_->PQconsumeInput(conn_) == 0) {
    return std::unexpected(connection_error("connection lost"));
  }
  bool any = false;
  while (PGnotify* n = pq_->PQnotifies(conn_)) {
    any = true;
    pq_->PQfreemem(n);
  }
  return any;
}

}  // namespace heartlock::detail
