// LoopbackServer: a TCP server on 127.0.0.1 (a free port) for fuzz targets whose parser sits
// behind a client library (the etcd gateway's JSON, Redis's RESP): the target plays the server
// and the real client code reads what it is told. One connection at a time, on one thread that
// lives as long as the process; the handler gets each accepted socket and it is closed after.
//
// Thread-safety: port() may be called from any thread; the handler runs on the server's thread.
#ifndef HEARTLOCK_FUZZ_LOOPBACK_SERVER_H_
#define HEARTLOCK_FUZZ_LOOPBACK_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string_view>
#include <thread>
#include <utility>

#include "fuzz_check.h"

namespace heartlock::fuzz {

class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int fd)> handle) : handle_(std::move(handle)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(listen_fd_ >= 0, "a socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
    FUZZ_CHECK(::listen(listen_fd_, 64) == 0, "listen");
    socklen_t len = sizeof addr;
    FUZZ_CHECK(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0, "port");
    port_ = ntohs(addr.sin_port);
    // Never joined: fuzz targets keep their server in a static that is never destroyed.
    std::thread([this] { serve(); }).detach();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }

  // Writes all of `bytes`; false if the peer went away.
  static bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

 private:
  void serve() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      handle_(fd);
      ::close(fd);
    }
  }

  std::function<void(int fd)> handle_;
  int listen_fd_ = -1;
  int port_ = 0;
};

}  // namespace heartlock::fuzz

#endif  // HEARTLOCK_FUZZ_LOOPBACK_SERVER_H_
