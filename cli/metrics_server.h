// MetricsServer: the HTTP endpoint of `heartlock cron --metrics-listen HOST:PORT` that Prometheus
// scrapes. GET (or HEAD) /metrics answers the render callback's text as
// `text/plain; version=0.0.4; charset=utf-8`; / answers a short page that links to it; any other
// path is 404, any other method 405.
//
// It runs on libmicrohttpd's own thread (metrics_server.cc says why that library), which calls the
// render callback: the callback must be thread-safe (CronMetrics::render is). That thread inherits
// the signal mask of the thread that calls start(): a daemon that takes its signals with sigwait
// or a signalfd blocks them before, or a SIGTERM may land on the server's thread.
//
// Thread-safety: port() may be called from any thread; stop() (and the destructor) from one
// thread at a time, never from inside the render callback.
// Lifetime: the render callback is called until stop() returns, never after.
#ifndef HEARTLOCK_CLI_METRICS_SERVER_H_
#define HEARTLOCK_CLI_METRICS_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "heartlock/error.h"

namespace heartlock::cli {

// An address to listen on, as parsed from "HOST:PORT".
struct ListenAddress {
  std::string host;  // numeric: "127.0.0.1", "::1" (without the brackets)
  std::uint16_t port = 0;
  bool ipv6 = false;
};

// "127.0.0.1:9464", "0.0.0.0:9464", "[::1]:9464", "[::]:0" (0: a free port the kernel picks).
// Host names are not resolved: a daemon's listen address should not depend on DNS at start.
// Errc::invalid_argument with what is wrong.
[[nodiscard]] Result<ListenAddress> parse_listen_address(std::string_view text);

// Bounds that keep a hostile or broken client from exhausting the server; the defaults fit a
// handful of Prometheus servers scraping one daemon.
struct MetricsServerOptions {
  unsigned connection_limit = 32;             // open connections in all
  unsigned per_ip_connection_limit = 8;       // from one client address
  std::chrono::seconds idle_timeout{10};      // a connection silent this long is closed
  std::size_t connection_memory = 32 * 1024;  // per connection, for the request's headers
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `listen` and serves until stop(). Errors: Errc::invalid_argument for an address
  // that does not parse or is not on this host; Errc::unavailable when the port is in use or
  // libmicrohttpd cannot be loaded or started; Errc::permission_denied for a privileged port.
  [[nodiscard]] static Result<std::unique_ptr<MetricsServer>> start(
      std::string_view listen, Render render, const MetricsServerOptions& options = {});

  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port bound (the one the kernel chose for port 0).
  std::uint16_t port() const noexcept { return port_; }
  // Stops serving and closes the listening socket; in-flight connections are dropped. Idempotent.
  void stop() noexcept;

  struct Daemon;  // libmicrohttpd's state; defined in the .cc

 private:
  MetricsServer(std::unique_ptr<Daemon> daemon, std::uint16_t port);

  std::unique_ptr<Daemon> daemon_;
  const std::uint16_t port_;
};

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_METRICS_SERVER_H_
