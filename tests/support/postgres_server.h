// A real PostgreSQL server for tests: initdb in a temporary directory, postgres on a free
// loopback port. Run as the `postgres` system user when the tests run as root (PostgreSQL refuses
// to run as root). Password authentication (scram-sha-256) over TCP for user "heartlock".
#ifndef HEARTLOCK_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define HEARTLOCK_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <string>

#include "test_support.h"

namespace heartlock::testing {

// Starts on construction, stopped on destruction. Throws (failing the test, never skipping it) if
// PostgreSQL is not installed or does not start within seconds.
class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  static constexpr const char* kPassword = "heartlock-test-pw";
  // postgres://heartlock:<password>@127.0.0.1:<port>/postgres[?query]
  std::string url(const std::string& query = "") const;
  int port() const { return port_; }
  // The postmaster's pid (-1 while stopped); its backends are its children.
  pid_t pid() const { return pid_; }
  // Stops (fast shutdown: sessions are ended) and starts again, keeping the data.
  void stop();
  void start();
  // Ends the server at once (SIGQUIT); nothing is kept.
  void shutdown();
  // Runs SQL with psql as the superuser; returns its unaligned, tuples-only output.
  std::string psql(const std::string& sql) const;

 private:
  TempDir dir_;
  std::string bin_;  // PostgreSQL's bin directory
  int port_ = 0;
  pid_t pid_ = -1;
};

// PgBouncer in front of `server`, in transaction pooling mode (each transaction may run on another
// server session, used round robin), as the postgres user when root. URLs as the server's.
class PgBouncer {
 public:
  explicit PgBouncer(const PostgresServer& server);
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;
  std::string url(const std::string& query = "") const;

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One server for the whole test binary, started on first use.
PostgresServer& shared_postgres();

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_POSTGRES_SERVER_H_
