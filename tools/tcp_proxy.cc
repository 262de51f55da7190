#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

namespace heartlock::tools {
namespace {

// Bytes read from one side and not yet written to the other, per direction. Past this the proxy
// stops reading that side until the other drains: backpressure instead of unbounded memory.
constexpr std::size_t kMaxPending = 256 * 1024;
constexpr std::size_t kChunk = 64 * 1024;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// The proxy should add no latency of its own: Nagle's algorithm would hold back the small
// writes it makes while the endpoint's delayed ACK is pending (40 ms on Linux).
void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Closes `fd` (if open) and sets it to -1. With `reset`, SO_LINGER 0 makes close() send RST
// instead of FIN, so the peer reads ECONNRESET, as after a server crash or a middlebox reset.
void close_fd(int& fd, bool reset) {
  if (fd < 0) {
    return;
  }
  if (reset) {
    linger lg{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  ::close(fd);
  fd = -1;
}

// Reads and drops exactly the bytes queued on `fd` now (FIONREAD), not whatever keeps arriving,
// so a peer that keeps sending cannot keep the loop here. An EOF behind them stays queued for
// the next poll.
void discard_queued(int fd) {
  int queued = 0;
  if (fd < 0 || ::ioctl(fd, FIONREAD, &queued) != 0) {
    return;
  }
  std::array<char, kChunk> buf;
  auto left = static_cast<std::size_t>(queued);
  while (left > 0) {
    ssize_t n = ::recv(fd, buf.data(), std::min(left, buf.size()), 0);
    if (n <= 0) {
      return;
    }
    left -= static_cast<std::size_t>(n);
  }
}

// One direction of a pair: bytes read from `from` waiting to be written to `to`.
struct Pipe {
  std::string pending;  // a std::string erased from the front: O(n), fine at kMaxPending
  bool eof = false;     // `from` sent FIN
  bool shut = false;    // FIN passed on to `to` (shutdown SHUT_WR) once pending drained

  // Moves what is readable on `from` to `to`, writing what it can now and buffering the rest.
  // Returns false on a reset or error on either socket: the pair must close.
  bool pump(int from, int to) {
    if (!eof && pending.size() < kMaxPending) {
      std::array<char, kChunk> buf;
      ssize_t n = ::recv(from, buf.data(), std::min(buf.size(), kMaxPending - pending.size()), 0);
      if (n > 0) {
        pending.append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0) {
        eof = true;
      } else if (!would_block(errno)) {
        return false;
      }
    }
    if (!pending.empty()) {
      // MSG_NOSIGNAL: a peer that went away is an EPIPE for this pair, not SIGPIPE for the test.
      ssize_t n = ::send(to, pending.data(), pending.size(), MSG_NOSIGNAL);
      if (n > 0) {
        pending.erase(0, static_cast<std::size_t>(n));
      } else if (n < 0 && !would_block(errno)) {
        return false;
      }
    }
    if (eof && pending.empty() && !shut) {
      // Pass the half-close on, so a client that shuts down its side still gets the reply.
      if (::shutdown(to, SHUT_WR) != 0) {
        return false;
      }
      shut = true;
    }
    return true;
  }
};

}  // namespace

struct TcpProxy::Pair {
  int client = -1;
  int upstream = -1;        // -1 while held (accepted during a freeze)
  bool connecting = false;  // a non-blocking connect() to upstream still in progress
  Pipe up;                  // client -> upstream
  Pipe down;                // upstream -> client

  bool closed() const { return client < 0; }
  void close(bool reset) {
    close_fd(client, reset);
    close_fd(upstream, reset);
  }

  // What to poll for: nothing while connecting except the connect's outcome; reads while
  // there is room to buffer; writes while something is buffered.
  short client_events() const {
    if (connecting) {
      return 0;
    }
    short events = 0;
    if (!up.eof && up.pending.size() < kMaxPending) {
      events |= POLLIN;
    }
    if (!down.pending.empty()) {
      events |= POLLOUT;
    }
    return events;
  }
  short upstream_events() const {
    if (connecting) {
      return POLLOUT;
    }
    short events = 0;
    if (!down.eof && down.pending.size() < kMaxPending) {
      events |= POLLIN;
    }
    if (!up.pending.empty()) {
      events |= POLLOUT;
    }
    return events;
  }

  // Handles poll's answer for this pair. Returns false when the pair must be reset.
  bool serve(short client_revents, short upstream_revents) {
    // Nothing happened (or the pair was not polled: frozen, held): touch nothing. Pumping
    // anyway would forward what a frozen pair must not.
    if ((client_revents | upstream_revents) == 0) {
      return true;
    }
    if (((client_revents | upstream_revents) & POLLERR) != 0) {
      return false;
    }
    if (connecting) {
      if (upstream_revents == 0) {
        return true;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(upstream, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        return false;
      }
      connecting = false;
    }
    return up.pump(client, upstream) && down.pump(upstream, client);
  }
};

TcpProxy::TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
  // Port 0 rather than free_port(): the kernel picks a free port and we keep it, with no window
  // in which someone else could take it.
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, SOMAXCONN) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close_fd(listen_fd_, false);
    throw std::system_error(err, std::system_category(), "TcpProxy: listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int err = errno;
    close_fd(listen_fd_, false);
    throw std::system_error(err, std::system_category(), "TcpProxy: eventfd");
  }
  loop_upstream_port_ = upstream_port;
  thread_ = std::jthread([this](std::stop_token stop) { run(std::move(stop)); });
}

TcpProxy::~TcpProxy() {
  thread_.request_stop();
  wake();
  thread_.join();
  close_fd(listen_fd_, false);
  close_fd(wake_fd_, false);
}

void TcpProxy::freeze() {
  std::unique_lock lock(mu_);
  frozen_ = true;
  apply_and_wait_locked(lock);
}

void TcpProxy::thaw() {
  std::unique_lock lock(mu_);
  frozen_ = false;
  apply_and_wait_locked(lock);
}

void TcpProxy::drop_connections() {
  std::unique_lock lock(mu_);
  ++drops_;
  apply_and_wait_locked(lock);
}

void TcpProxy::set_upstream(int port) {
  std::unique_lock lock(mu_);
  upstream_port_ = port;
  apply_and_wait_locked(lock);
}

std::size_t TcpProxy::connections() const {
  std::lock_guard lock(mu_);
  return connections_;
}

// A generation counter rather than a flag: several callers may wait at once, and each needs to
// know that the loop has applied a state at least as new as its own request.
void TcpProxy::apply_and_wait_locked(std::unique_lock<std::mutex>& lock) {
  const std::uint64_t mine = ++requested_;
  wake();
  cv_.wait(lock, [&] { return applied_ >= mine || loop_done_; });
}

void TcpProxy::wake() const {
  const std::uint64_t one = 1;
  // Can only fail if the counter would overflow, and then a wake-up is pending anyway.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

// One poll(2) loop for every socket. Requests are applied at the top of an iteration, after the
// previous iteration's forwarding, so once a request is acknowledged no forwarding decided under
// the old state can still happen.
void TcpProxy::run(std::stop_token stop) {
  std::vector<pollfd> fds;
  while (!stop.stop_requested()) {
    apply_requests();
    fds.clear();
    fds.push_back({.fd = wake_fd_, .events = POLLIN, .revents = 0});
    fds.push_back({.fd = listen_fd_, .events = POLLIN, .revents = 0});
    // Frozen: the pairs are not polled at all (fd -1 is skipped), so nothing is read, written,
    // or even noticed (a FIN or RST waits for thaw(), as it would behind a partition).
    for (const auto& pair : pairs_) {
      const bool served = !loop_frozen_ && pair->upstream >= 0;
      fds.push_back(
          {.fd = served ? pair->client : -1, .events = pair->client_events(), .revents = 0});
      fds.push_back(
          {.fd = served ? pair->upstream : -1, .events = pair->upstream_events(), .revents = 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
    }
    // Pairs first: accept_clients() appends to pairs_, past the ones indexed in fds.
    for (std::size_t i = 0; i + 2 < fds.size(); i += 2) {
      Pair& pair = *pairs_[i / 2];
      if (!pair.serve(fds[i + 2].revents, fds[i + 3].revents)) {
        pair.close(/*reset=*/true);
      } else if (pair.up.shut && pair.down.shut) {
        pair.close(/*reset=*/false);
      }
    }
    if ((fds[1].revents & POLLIN) != 0) {
      accept_clients();
    }
    std::erase_if(pairs_, [](const auto& pair) { return pair->closed(); });
    update_connections();
  }
  for (auto& pair : pairs_) {
    pair->close(/*reset=*/true);
  }
  pairs_.clear();
  std::lock_guard lock(mu_);
  loop_done_ = true;
  connections_ = 0;
  cv_.notify_all();
}

void TcpProxy::apply_requests() {
  bool frozen = false;
  std::uint64_t drops = 0;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (applied_ == requested_) {
      return;
    }
    frozen = frozen_;
    drops = drops_;
    loop_upstream_port_ = upstream_port_;
    generation = requested_;
  }
  if (drops != loop_drops_) {
    loop_drops_ = drops;
    for (auto& pair : pairs_) {
      pair->close(/*reset=*/true);
    }
  }
  if (loop_frozen_ && !frozen) {
    for (auto& pair : pairs_) {
      discard_received(*pair);
      if (!pair->closed() && pair->upstream < 0 && !connect_upstream(*pair)) {
        pair->close(/*reset=*/true);
      }
    }
  }
  loop_frozen_ = frozen;
  std::erase_if(pairs_, [](const auto& pair) { return pair->closed(); });
  {
    std::lock_guard lock(mu_);
    applied_ = generation;
    connections_ = pairs_.size();
  }
  cv_.notify_all();
}

void TcpProxy::accept_clients() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == ECONNABORTED) {
        continue;  // that client gave up before we got to it
      }
      return;  // EAGAIN: none left
    }
    set_nodelay(fd);
    auto pair = std::make_unique<Pair>();
    pair->client = fd;
    // Frozen: hold the client; thaw() connects it. The server must not see it meanwhile.
    if (!loop_frozen_ && !connect_upstream(*pair)) {
      pair->close(/*reset=*/true);  // nothing upstream: the client sees the refusal as a reset
      continue;
    }
    pairs_.push_back(std::move(pair));
  }
}

// Starts a non-blocking connect, so a slow upstream never stalls the other pairs; loopback
// usually answers at once, otherwise poll reports the outcome (POLLOUT, then SO_ERROR).
bool TcpProxy::connect_upstream(Pair& pair) const {
  pair.upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (pair.upstream < 0) {
    return false;
  }
  set_nodelay(pair.upstream);
  sockaddr_in addr = loopback(loop_upstream_port_);
  if (::connect(pair.upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return true;
  }
  pair.connecting = errno == EINPROGRESS;
  return pair.connecting;
}

// thaw() forwards new data only. We chose to stop reading while frozen and discard on thaw
// (rather than read and drop while frozen): the kernel queues what arrives during the freeze,
// and here, at thaw, everything queued and everything we had buffered but not yet written is
// thrown away, like packets lost in a partition.
void TcpProxy::discard_received(Pair& pair) {
  pair.up.pending.clear();
  pair.down.pending.clear();
  discard_queued(pair.client);
  // Even while `connecting`: the connect may have completed during the freeze, unnoticed because
  // the pair was not polled, and the server may have sent since. (A socket really still in
  // SYN_SENT reports 0 queued bytes.)
  discard_queued(pair.upstream);
}

void TcpProxy::update_connections() {
  std::lock_guard lock(mu_);
  connections_ = pairs_.size();
}

}  // namespace heartlock::tools
