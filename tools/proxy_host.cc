#include "proxy_host.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "tcp_proxy.h"

namespace heartlock::tools {

bool ProxyHost::start(int count, int upstream) {
  int cmd[2];
  int ack[2];
  if (::pipe2(cmd, O_CLOEXEC) != 0 || ::pipe2(ack, O_CLOEXEC) != 0) {
    return false;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(cmd[1]);
    ::close(ack[0]);
    std::vector<std::unique_ptr<TcpProxy>> proxies;
    for (int i = 0; i < count; ++i) {
      proxies.push_back(std::make_unique<TcpProxy>(upstream));
      int port = proxies.back()->port();
      (void)!::write(ack[1], &port, sizeof port);
    }
    unsigned char c[2];
    while (::read(cmd[0], c, 2) == 2) {
      auto& proxy = *proxies.at(c[1]);
      c[0] == 'F' ? proxy.freeze() : proxy.thaw();
      (void)!::write(ack[1], c, 1);
    }
    ::_exit(0);
  }
  ::close(cmd[0]);
  ::close(ack[1]);
  cmd_ = cmd[1];
  ack_ = ack[0];
  for (int i = 0; i < count; ++i) {
    int port = 0;
    if (::read(ack_, &port, sizeof port) != sizeof port) {
      return false;
    }
    ports_.push_back(port);
  }
  return true;
}

ProxyHost::~ProxyHost() {
  if (pid_ > 0) {
    ::close(cmd_);
    ::close(ack_);
    ::waitpid(pid_, nullptr, 0);
  }
}

void ProxyHost::set(int slot, bool frozen) {
  unsigned char c[2] = {static_cast<unsigned char>(frozen ? 'F' : 'T'),
                        static_cast<unsigned char>(slot)};
  (void)!::write(cmd_, c, 2);
  (void)!::read(ack_, c, 1);
}

int loopback_port(const std::string& url) {
  auto at = url.find("127.0.0.1:");
  if (at == std::string::npos) {
    return 0;
  }
  return std::atoi(url.c_str() + at + 10);
}

std::string with_port(const std::string& url, int port) {
  auto at = url.find("127.0.0.1:") + 10;
  auto end = url.find_first_not_of("0123456789", at);
  return url.substr(0, at) + std::to_string(port) +
         (end == std::string::npos ? "" : url.substr(end));
}

}  // namespace heartlock::tools
