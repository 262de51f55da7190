// TcpProxy against servers the tests own: an echo server on a thread, or a bare listening
// socket when a test needs to hold the server's end of the connection itself.
#include "../../tools/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "../../src/file/lock_file.h"
#include "../support/test_support.h"

namespace heartlock::testing {
using tools::TcpProxy;
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// How long a negative check ("nothing arrives") waits, and how long a positive one may take.
constexpr milliseconds kQuiet = 300ms;
constexpr milliseconds kPatience = 5s;

using Fd = detail::UniqueFd;

// A listening socket on 127.0.0.1 at a port the kernel picked.
struct Listener {
  Fd fd;
  int port = 0;
};

Listener listen_loopback() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(fd.get(), SOMAXCONN) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  return Listener{.fd = std::move(fd), .port = ntohs(addr.sin_port)};
}

// The next connection on `listener`, or an invalid Fd if none arrives `within`.
Fd accept_within(const Listener& listener, milliseconds within) {
  pollfd p{.fd = listener.fd.get(), .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(within.count())) != 1) {
    return Fd();
  }
  return Fd(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: writing to a reset connection must fail the test, not kill it with SIGPIPE.
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until `size` bytes arrived, EOF, an error, or `within` passed, at most `chunk` bytes per
// recv(); returns what arrived.
std::string read_up_to(int fd, std::size_t size, milliseconds within,
                       std::size_t chunk = 64 * 1024) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::string got;
  std::vector<char> buf(chunk);
  while (got.size() < size) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
      break;
    }
    ssize_t n = ::recv(fd, buf.data(), std::min(chunk, size - got.size()), 0);
    if (n <= 0) {
      break;
    }
    got.append(buf.data(), static_cast<std::size_t>(n));
  }
  return got;
}

// Whether `fd` reads EOF or ECONNRESET within `within` (skipping any bytes before it).
bool reads_closed(int fd, milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  char buf[4096];
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
      return false;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      return true;
    }
    if (n < 0) {
      return false;
    }
  }
}

// Echoes every byte back on each connection and closes a connection when its client does.
// One thread, one poll loop; replies are written blocking, which is fine for these tests.
// Thread-safety: port() and accepted() may be called from any thread.
class EchoServer {
 public:
  EchoServer()
      : listener_(listen_loopback()),
        wake_(::eventfd(0, EFD_CLOEXEC)),
        thread_([this](std::stop_token stop) { run(stop); }) {}
  ~EchoServer() {
    thread_.request_stop();
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  int port() const { return listener_.port; }
  // Connections accepted so far.
  int accepted() const { return accepted_.load(); }

 private:
  void run(const std::stop_token& stop) {
    std::vector<Fd> conns;
    std::vector<char> buf(64 * 1024);
    while (!stop.stop_requested()) {
      std::vector<pollfd> fds{{.fd = wake_.get(), .events = POLLIN, .revents = 0},
                              {.fd = listener_.fd.get(), .events = POLLIN, .revents = 0}};
      for (const Fd& c : conns) {
        fds.push_back({.fd = c.get(), .events = POLLIN, .revents = 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        continue;
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) {
          continue;
        }
        Fd& c = conns[i - 2];
        ssize_t n = ::recv(c.get(), buf.data(), buf.size(), 0);
        if (n <= 0 ||
            !send_all(c.get(), std::string_view(buf.data(), static_cast<std::size_t>(n)))) {
          c = Fd();
        }
      }
      std::erase_if(conns, [](const Fd& c) { return !c; });
      if ((fds[1].revents & POLLIN) != 0) {
        conns.emplace_back(::accept4(listener_.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        accepted_.fetch_add(1);
      }
    }
  }

  Listener listener_;
  Fd wake_;
  std::atomic<int> accepted_{0};
  std::jthread thread_;  // last: joined before the sockets above close
};

// A client connected through `proxy`; fails the test if it cannot connect.
Fd connect_through(const TcpProxy& proxy) {
  Fd fd(connect_loopback(proxy.port()));
  EXPECT_TRUE(fd) << "cannot connect to the proxy on port " << proxy.port();
  return fd;
}

// Sends `data` on `fd` and returns what comes back, within kPatience.
std::string round_trip(int fd, std::string_view data) {
  if (!send_all(fd, data)) {
    return "(send failed)";
  }
  return read_up_to(fd, data.size(), kPatience);
}

TEST(TcpProxyTest, ForwardsBytesBothWays) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  Fd client = connect_through(proxy);

  EXPECT_EQ(round_trip(client.get(), "hello"), "hello");
  EXPECT_EQ(round_trip(client.get(), "again"), "again");
  EXPECT_EQ(echo.accepted(), 1);
}

// Far more than the proxy buffers and the kernel queues, written while reading: the proxy must
// handle backpressure and partial writes without losing or reordering a byte. The client reads
// in small pieces so that it falls behind: the proxy's socket towards it fills up, which is
// when its writes come out partial (with fast reads they rarely do).
TEST(TcpProxyTest, ForwardsLargeTransferIntact) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  Fd client = connect_through(proxy);
  std::string data(8 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7919 % 251);
  }

  std::atomic<bool> sent{false};
  std::jthread writer([&] { sent = send_all(client.get(), data); });
  std::string got = read_up_to(client.get(), data.size(), 20s, /*chunk=*/1024);
  // If bytes went missing the writer may be stuck in send(); this wakes it (EPIPE).
  ::shutdown(client.get(), SHUT_RDWR);
  writer.join();

  EXPECT_TRUE(sent.load());
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the bytes came back altered";
}

TEST(TcpProxyTest, PassesHalfCloseOnAndDeliversTheReply) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  Fd client = connect_through(proxy);

  ASSERT_TRUE(send_all(client.get(), "last words"));
  ASSERT_EQ(::shutdown(client.get(), SHUT_WR), 0);

  EXPECT_EQ(read_up_to(client.get(), 10, kPatience), "last words");
  EXPECT_TRUE(reads_closed(client.get(), kPatience)) << "the server's close did not come through";
}

TEST(TcpProxyTest, FreezeStopsBothDirections) {
  Listener server = listen_loopback();
  TcpProxy proxy(server.port);
  Fd client = connect_through(proxy);
  Fd upstream = accept_within(server, kPatience);
  ASSERT_TRUE(upstream);
  ASSERT_TRUE(send_all(client.get(), "a"));
  ASSERT_EQ(read_up_to(upstream.get(), 1, kPatience), "a");

  proxy.freeze();
  ASSERT_TRUE(send_all(client.get(), "to server"));
  ASSERT_TRUE(send_all(upstream.get(), "to client"));

  EXPECT_EQ(read_up_to(upstream.get(), 1, kQuiet), "");
  EXPECT_EQ(read_up_to(client.get(), 1, kQuiet), "");
}

// Bytes sent during the freeze are lost, as in a partition; what is sent after thaw() arrives.
TEST(TcpProxyTest, ThawForwardsNewBytesOnly) {
  Listener server = listen_loopback();
  TcpProxy proxy(server.port);
  Fd client = connect_through(proxy);
  Fd upstream = accept_within(server, kPatience);
  ASSERT_TRUE(upstream);
  proxy.freeze();
  ASSERT_TRUE(send_all(client.get(), "old request"));
  ASSERT_TRUE(send_all(upstream.get(), "old reply"));
  ASSERT_EQ(read_up_to(upstream.get(), 1, kQuiet), "");

  proxy.thaw();
  ASSERT_TRUE(send_all(client.get(), "new"));
  ASSERT_TRUE(send_all(upstream.get(), "NEW"));

  EXPECT_EQ(read_up_to(upstream.get(), 3, kPatience), "new");
  EXPECT_EQ(read_up_to(client.get(), 3, kPatience), "NEW");
}

TEST(TcpProxyTest, ConnectionMadeWhileFrozenHangsUntilThaw) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  proxy.freeze();

  Fd client = connect_through(proxy);
  ASSERT_TRUE(send_all(client.get(), "x"));
  EXPECT_EQ(read_up_to(client.get(), 1, kQuiet), "");
  EXPECT_EQ(echo.accepted(), 0) << "the server saw a connection made during the partition";
  EXPECT_TRUE(eventually([&] { return proxy.connections() == 1; }, kPatience));

  proxy.thaw();
  EXPECT_EQ(round_trip(client.get(), "y"), "y");
  EXPECT_EQ(echo.accepted(), 1);
}

TEST(TcpProxyTest, DropConnectionsResetsBothSides) {
  Listener server = listen_loopback();
  TcpProxy proxy(server.port);
  Fd client = connect_through(proxy);
  Fd upstream = accept_within(server, kPatience);
  ASSERT_TRUE(upstream);

  proxy.drop_connections();

  EXPECT_EQ(proxy.connections(), 0U);
  EXPECT_TRUE(reads_closed(client.get(), kPatience));
  EXPECT_TRUE(reads_closed(upstream.get(), kPatience));
}

TEST(TcpProxyTest, DropConnectionsResetsClientsHeldByAFreeze) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  proxy.freeze();
  Fd client = connect_through(proxy);
  ASSERT_TRUE(eventually([&] { return proxy.connections() == 1; }, kPatience));

  proxy.drop_connections();

  EXPECT_EQ(proxy.connections(), 0U);
  EXPECT_TRUE(reads_closed(client.get(), kPatience));
}

TEST(TcpProxyTest, NewConnectionWorksAfterDrop) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  Fd first = connect_through(proxy);
  ASSERT_EQ(round_trip(first.get(), "one"), "one");
  proxy.drop_connections();

  Fd second = connect_through(proxy);

  EXPECT_EQ(round_trip(second.get(), "two"), "two");
}

TEST(TcpProxyTest, CountsOpenConnections) {
  EchoServer echo;
  TcpProxy proxy(echo.port());
  EXPECT_EQ(proxy.connections(), 0U);

  Fd first = connect_through(proxy);
  Fd second = connect_through(proxy);
  EXPECT_TRUE(eventually([&] { return proxy.connections() == 2; }, kPatience))
      << proxy.connections();

  first = Fd();
  EXPECT_TRUE(eventually([&] { return proxy.connections() == 1; }, kPatience))
      << proxy.connections();
}

TEST(TcpProxyTest, SetUpstreamRetargetsNewConnections) {
  EchoServer before;
  EchoServer after;
  TcpProxy proxy(before.port());

  proxy.set_upstream(after.port());
  Fd client = connect_through(proxy);

  EXPECT_EQ(round_trip(client.get(), "where"), "where");
  EXPECT_EQ(after.accepted(), 1);
  EXPECT_EQ(before.accepted(), 0);
}

TEST(TcpProxyTest, ClosesClientWhenNothingListensUpstream) {
  TcpProxy proxy(free_port());
  Fd client = connect_through(proxy);

  EXPECT_TRUE(reads_closed(client.get(), kPatience));
}

}  // namespace
}  // namespace heartlock::testing
