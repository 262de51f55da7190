// A real etcd server for tests (Debian's etcd-server), a single member on free loopback ports
// with its data in a temporary directory.
#ifndef HEARTLOCK_TESTS_SUPPORT_ETCD_SERVER_H_
#define HEARTLOCK_TESTS_SUPPORT_ETCD_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace heartlock::testing {

// Starts on construction and is killed on destruction. Throws (failing the test, never skipping
// it) if etcd is missing or does not answer within seconds.
class EtcdServer {
 public:
  explicit EtcdServer(std::vector<std::string> extra_args = {}, bool tls = false);
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  std::string url() const {
    return std::string(tls_ ? "etcds" : "etcd") + "://127.0.0.1:" + std::to_string(port_);
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 while killed
  const TempDir& dir() const { return dir_; }
  // SIGKILL, as a crash would; start() brings it back with its data.
  void kill();
  void start();

 private:
  TempDir dir_;
  std::vector<std::string> extra_args_;
  bool tls_ = false;
  int port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

// One server for the whole test binary, started on first use.
EtcdServer& shared_etcd();

}  // namespace heartlock::testing

#endif  // HEARTLOCK_TESTS_SUPPORT_ETCD_SERVER_H_
