// TcpProxy: a loopback TCP forwarder a test (or heartlock-torture) puts between a client and a
// server, to partition them (freeze) or reset their connections (drop_connections) while the server
// stays up for everyone who does not go through the proxy.
#ifndef HEARTLOCK_TOOLS_TCP_PROXY_H_
#define HEARTLOCK_TOOLS_TCP_PROXY_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace heartlock::tools {

// Listens on 127.0.0.1:port() and forwards every connection it accepts to
// 127.0.0.1:<upstream port>, bytes in both directions (half-closes too), from one background
// thread that polls non-blocking sockets.
//
// Thread-safety: every public method may be called from any thread, concurrently. freeze(),
// thaw(), drop_connections() and set_upstream() have taken effect on the forwarding thread when
// they return: after freeze() returns, not one more byte is forwarded either way.
// Ownership: owns its listening socket, every proxied connection and the thread; the destructor
// stops the thread and closes all of them (open connections are reset).
class TcpProxy {
 public:
  // Listens on a port the kernel picks. Throws std::system_error if it cannot.
  explicit TcpProxy(int upstream_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // The port clients connect to.
  int port() const { return port_; }

  // A network partition: nothing is forwarded in either direction, and connections accepted
  // meanwhile are held without an upstream connection (their clients hang). The proxy stops
  // reading, so what peers send meanwhile waits in the kernel, and thaw() discards it.
  void freeze();
  // Ends a partition: discards every byte received while frozen (and bytes still buffered from
  // before the freeze), connects held clients upstream, and forwards new data again.
  void thaw();
  // Resets every proxied connection on both sides at once (RST: peers read ECONNRESET or EOF),
  // frozen or not. New connections are accepted as before.
  void drop_connections();
  // Connections accepted from now on go to 127.0.0.1:port (a server restarted on another port);
  // open ones stay where they are.
  void set_upstream(int port);
  // Client connections currently open through the proxy, held ones included.
  std::size_t connections() const;

 private:
  struct Pair;  // one client connection and its upstream connection

  // Bumps requested_, wakes the forwarding thread and waits until it has applied the state
  // under mu_. REQUIRES: `lock` holds mu_.
  void apply_and_wait_locked(std::unique_lock<std::mutex>& lock);
  void wake() const;

  // The forwarding thread and what only it calls.
  void run(std::stop_token stop);
  void apply_requests();
  void accept_clients();
  [[nodiscard]] bool connect_upstream(Pair& pair) const;
  void discard_received(Pair& pair);
  void update_connections();

  int port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd: a public method wants the loop to apply its request

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool frozen_ = false;          // guarded by mu_
  int upstream_port_ = 0;        // guarded by mu_
  std::uint64_t drops_ = 0;      // guarded by mu_: drop_connections() calls so far
  std::uint64_t requested_ = 0;  // guarded by mu_: requests made so far
  std::uint64_t applied_ = 0;    // guarded by mu_: requests the loop has applied
  std::size_t connections_ = 0;  // guarded by mu_
  bool loop_done_ = false;       // guarded by mu_

  // Owned by the forwarding thread while it runs.
  std::vector<std::unique_ptr<Pair>> pairs_;
  bool loop_frozen_ = false;
  int loop_upstream_port_ = 0;
  std::uint64_t loop_drops_ = 0;

  std::jthread thread_;  // last: starts once everything above exists
};

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_TCP_PROXY_H_
