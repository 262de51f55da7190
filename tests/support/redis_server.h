// A real redis-server for tests, on a free loopback port in a temporary directory.
#ifndef HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_
#define HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

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
  TempDir dir_;
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

// A fresh key prefix, so tests sharing a server do not see each other's locks.
std::string unique_prefix();

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_REDIS_SERVER_H_
