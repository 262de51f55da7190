// A real redis-server for tests, on a free loopback port in a temporary directory.
#ifndef HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_
#define HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "test_support.h"

namespace heartlock::testing {

// Starts on construction and is killed on destruction. Throws (failing the test, never skipping
// it) if redis-server is missing or does not answer PING within seconds.
class RedisServer {
 public:
  // With `tls`, the server listens only for TLS on port(); pass the tls-* arguments in extra_args.
  explicit RedisServer(std::vector<std::string> extra_args = {}, bool tls = false);
  // A Sentinel (redis-server --sentinel) watching master `name` at 127.0.0.1:`master_port`,
  // quorum 1, which notices a dead master after 1 s.
  static std::unique_ptr<RedisServer> sentinel(int master_port, const std::string& name);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // SIGKILL, as a crash would; start() brings it back on the same port (with no data).
  void kill();
  void start();

 private:
  struct Deferred {};
  explicit RedisServer(Deferred);  // not started yet
  void start_with(std::vector<std::string> args);

  TempDir dir_;
  std::string sentinel_config_;  // a Sentinel when non-empty
  std::vector<std::string> extra_args_;
  bool tls_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

// Makes a CA and a server certificate for 127.0.0.1 with openssl in `dir`: ca.pem, server.pem,
// server.key. Throws if openssl fails.
void make_test_certificates(const TempDir& dir, const std::string& ca_name = "ca");

// One server for the whole test binary, started on first use.
RedisServer& shared_redis();

// Three independent servers for Redlock, started on first use: "redis://h:p1,h:p2,h:p3".
std::string shared_redlock_url();

// A master watched by a Sentinel, started on first use: "redis-sentinel://h:p/shared".
std::string shared_sentinel_url();

// A fresh key prefix, so tests sharing a server do not see each other's locks.
std::string unique_prefix();

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_
