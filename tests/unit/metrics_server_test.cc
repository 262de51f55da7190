// The HTTP server of `heartlock cron --metrics-listen` (cli/metrics_server.h), driven by a plain
// socket client on loopback.
#include "../../cli/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace heartlock::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A connected socket to 127.0.0.1:port, closed at scope exit.
class Client {
 public:
  explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view text) const {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }
  // Everything until the server closes; nullopt if it has not within `limit`.
  std::optional<std::string> read_to_end(std::chrono::milliseconds limit = 5000ms) const {
    std::string out;
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        return out;  // closed (or reset: what a refused connection sees)
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return std::nullopt;
  }

 private:
  int fd_;
  bool connected_ = false;
};

std::string request(std::uint16_t port, std::string_view method, std::string_view path) {
  Client c(port);
  EXPECT_TRUE(c.connected());
  c.send(std::string(method) + " " + std::string(path) +
         " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  return c.read_to_end().value_or("(no answer)");
}

std::unique_ptr<MetricsServer> start_ok(std::string_view listen = "127.0.0.1:0",
                                        const MetricsServerOptions& options = {}) {
  auto server = MetricsServer::start(
      listen, [] { return std::string("heartlock_cron_jobs 3\n"); }, options);
  EXPECT_TRUE(server.has_value()) << server.error().message;
  return server ? std::move(*server) : nullptr;
}

TEST(MetricsServerTest, ServesTheRenderedTextAtMetrics) {
  auto server = start_ok();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  const std::string answer = request(server->port(), "GET", "/metrics");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << answer;
  EXPECT_NE(answer.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nheartlock_cron_jobs 3\n")) << answer;
}

TEST(MetricsServerTest, HeadAnswersWithoutABody) {
  auto server = start_ok();
  ASSERT_TRUE(server);
  const std::string answer = request(server->port(), "HEAD", "/metrics");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\n")) << answer;
}

TEST(MetricsServerTest, TheRootIsAPageThatLinksToMetrics) {
  auto server = start_ok();
  ASSERT_TRUE(server);
  const std::string answer = request(server->port(), "GET", "/");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << answer;
  EXPECT_NE(answer.find("/metrics"), std::string::npos) << answer;
}

TEST(MetricsServerTest, AnyOtherPathIsNotFound) {
  auto server = start_ok();
  ASSERT_TRUE(server);
  EXPECT_EQ(request(server->port(), "GET", "/metricsx").rfind("HTTP/1.1 404 ", 0), 0U);
  EXPECT_EQ(request(server->port(), "GET", "/favicon.ico").rfind("HTTP/1.1 404 ", 0), 0U);
}

TEST(MetricsServerTest, OtherMethodsAreNotAllowed) {
  auto server = start_ok();
  ASSERT_TRUE(server);
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    const std::string answer = request(server->port(), method, "/metrics");
    EXPECT_EQ(answer.rfind("HTTP/1.1 405 ", 0), 0U) << method << ": " << answer;
    EXPECT_NE(answer.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << answer;
  }
}

TEST(MetricsServerTest, ARenderThatThrowsIsAServerError) {
  auto server = MetricsServer::start("127.0.0.1:0",
                                     []() -> std::string { throw std::runtime_error("boom"); });
  ASSERT_TRUE(server.has_value()) << server.error().message;
  const std::string answer = request((*server)->port(), "GET", "/metrics");
  EXPECT_EQ(answer.rfind("HTTP/1.1 500 ", 0), 0U) << answer;
  EXPECT_NE(answer.find("boom"), std::string::npos) << answer;
}

TEST(MetricsServerTest, ListensOnIpv6Loopback) {
  auto server = MetricsServer::start("[::1]:0", [] { return std::string("x 1\n"); });
  if (!server && server.error().code == Errc::invalid_argument) {
    GTEST_SKIP() << "no IPv6 loopback here: " << server.error().message;
  }
  ASSERT_TRUE(server.has_value()) << server.error().message;
  EXPECT_NE((*server)->port(), 0);
}

TEST(MetricsServerTest, BadAddressesAreInvalidArguments) {
  for (const char* bad : {"", "9464", "127.0.0.1", "127.0.0.1:", "localhost:9464", ":9464",
                          "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:94x", "::1:9464",
                          "[::1:9464", "[127.0.0.1]:9464", "[]:9464", "1.2.3:80"}) {
    auto server = MetricsServer::start(bad, [] { return std::string(); });
    ASSERT_FALSE(server.has_value()) << bad;
    EXPECT_EQ(server.error().code, Errc::invalid_argument) << bad;
    EXPECT_NE(server.error().message.find(bad), std::string::npos) << server.error().message;
  }
}

TEST(MetricsServerTest, ParsesBothFamilies) {
  auto v4 = parse_listen_address("0.0.0.0:9464");
  ASSERT_TRUE(v4.has_value());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 9464);
  EXPECT_FALSE(v4->ipv6);
  auto v6 = parse_listen_address("[::]:0");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->host, "::");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->ipv6);
}

TEST(MetricsServerTest, AnAddressNotOnThisHostIsAnInvalidArgument) {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a host; only bind() sees it.
  auto server = MetricsServer::start("192.0.2.1:0", [] { return std::string(); });
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().code, Errc::invalid_argument) << server.error().message;
}

TEST(MetricsServerTest, APortInUseIsUnavailableAndStopFreesIt) {
  auto first = start_ok();
  ASSERT_TRUE(first);
  const std::string again = "127.0.0.1:" + std::to_string(first->port());
  auto second = MetricsServer::start(again, [] { return std::string(); });
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, Errc::unavailable);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
  first->stop();
  first->stop();  // idempotent
  auto third = MetricsServer::start(again, [] { return std::string(); });
  EXPECT_TRUE(third.has_value()) << third.error().message;
}

TEST(MetricsServerTest, AnIdleConnectionIsClosedAfterTheTimeout) {
  auto server = start_ok("127.0.0.1:0", {.idle_timeout = 1s});
  ASSERT_TRUE(server);
  Client idle(server->port());
  ASSERT_TRUE(idle.connected());
  idle.send("GET /metrics HTTP/1.1\r\n");  // and never the rest
  EXPECT_TRUE(idle.read_to_end(5000ms).has_value());
}

TEST(MetricsServerTest, OversizedHeadersAreRefusedWithinTheMemoryLimit) {
  auto server = start_ok("127.0.0.1:0", {.connection_memory = 8 * 1024});
  ASSERT_TRUE(server);
  Client c(server->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(64 * 1024, 'a') +
         "\r\n\r\n");
  const auto answer = c.read_to_end();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->find("200 OK"), std::string::npos) << *answer;
}

// Connections past the limit wait in the kernel's queue (libmicrohttpd stops accepting at the
// limit) until idle ones time out: clients that never finish a request cannot hold it for good.
TEST(MetricsServerTest, ConnectionsPastTheLimitWaitForIdleOnesToTimeOut) {
  auto server = start_ok("127.0.0.1:0", {.connection_limit = 2, .idle_timeout = 2s});
  ASSERT_TRUE(server);
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 2; ++i) {
    idle.push_back(std::make_unique<Client>(server->port()));
    idle.back()->send("GET /metrics HTTP/1.1\r\n");  // and never the rest
  }
  // The kernel queues connections in order: the server takes the idle two first.
  Client probe(server->port());
  ASSERT_TRUE(probe.connected());
  probe.send("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(probe.read_to_end(500ms).has_value()) << "answered past the connection limit";
  const auto answer = probe.read_to_end(10s);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->rfind("HTTP/1.1 200 OK", 0), 0U) << *answer;
  for (const auto& client : idle) {
    EXPECT_TRUE(client->read_to_end(5s).has_value());
  }
}

}  // namespace
}  // namespace heartlock::cli
