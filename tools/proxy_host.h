// The proxies of heartlock-torture --partition: one loopback TCP proxy (tcp_proxy.h) per worker
// slot, in a process of their own, forked before anything else so that the driver stays
// single-threaded and can fork workers at any time. Commands on a pipe: 'F'/'T' and a slot byte
// (freeze/thaw), each answered with one byte once done.
#ifndef HEARTLOCK_TOOLS_PROXY_HOST_H_
#define HEARTLOCK_TOOLS_PROXY_HOST_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace heartlock::tools {

// Owned by the driver; not thread-safe.
class ProxyHost {
 public:
  ProxyHost() = default;
  ~ProxyHost();  // ends the process
  ProxyHost(const ProxyHost&) = delete;
  ProxyHost& operator=(const ProxyHost&) = delete;

  // Forks the host with `count` proxies to 127.0.0.1:`upstream`; false if it cannot.
  bool start(int count, int upstream);
  // Freezes (a partition: requests hang) or thaws the proxy of `slot`; returns once done.
  void set(int slot, bool frozen);
  int port(int slot) const { return ports_.at(static_cast<std::size_t>(slot)); }

 private:
  pid_t pid_ = -1;
  int cmd_ = -1;
  int ack_ = -1;
  std::vector<int> ports_;
};

// The port of the single 127.0.0.1:PORT in `url`, or 0.
int loopback_port(const std::string& url);
// `url` with the port of its 127.0.0.1:PORT replaced by `port`.
std::string with_port(const std::string& url, int port);

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_PROXY_HOST_H_
