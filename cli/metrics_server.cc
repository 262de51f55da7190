// Why libmicrohttpd and not a server of our own: an HTTP/1.1 server that a hostile client cannot
// hang or exhaust needs request parsing (pipelining, chunked bodies, oversized or endless
// headers), per-connection timeouts and connection limits done right; libmicrohttpd is a small
// C library Debian packages and keeps patched, built for embedding exactly this, and it runs its
// own event thread, so the daemon's loop never blocks on a scraper. Its C types stay in this file.
//
// It is loaded with dlopen when a server starts, as libpq and libcurl are (src/postgres/
// libpq_api.h): libmicrohttpd links GnuTLS and eight more libraries, which the dynamic loader would
// otherwise map at every start of `heartlock run`; only `heartlock cron --metrics-listen` needs
// them.
#include "metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <exception>
#include <mutex>
#include <system_error>
#include <utility>

#include <dlfcn.h>
#include <microhttpd.h>

namespace heartlock::cli {
namespace {

constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kIndexPage =
    "heartlock cron\n\nMetrics in Prometheus's text format: /metrics\n";
// Pending connections the kernel queues before the server's thread accepts them.
constexpr int kListenBacklog = 64;

// The libmicrohttpd functions used here, by their own names.
struct MhdApi {
  decltype(&::MHD_start_daemon) start_daemon = nullptr;
  decltype(&::MHD_stop_daemon) stop_daemon = nullptr;
  decltype(&::MHD_create_response_from_buffer) create_response_from_buffer = nullptr;
  decltype(&::MHD_add_response_header) add_response_header = nullptr;
  decltype(&::MHD_queue_response) queue_response = nullptr;
  decltype(&::MHD_destroy_response) destroy_response = nullptr;
};

// Loads libmicrohttpd.so.12, once. Errc::unavailable if it is not installed.
Result<const MhdApi*> mhd_api() {
  static MhdApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      failure = std::string("cannot load libmicrohttpd (install libmicrohttpd12): ") + ::dlerror();
      return;
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (fn == nullptr && failure.empty()) {
        failure = std::string("libmicrohttpd lacks ") + name;
      }
    };
    load(api.start_daemon, "MHD_start_daemon");
    load(api.stop_daemon, "MHD_stop_daemon");
    load(api.create_response_from_buffer, "MHD_create_response_from_buffer");
    load(api.add_response_header, "MHD_add_response_header");
    load(api.queue_response, "MHD_queue_response");
    load(api.destroy_response, "MHD_destroy_response");
    // The library stays loaded for the life of the process.
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "metrics server: " + failure);
  }
  return &api;
}

std::string errno_text(int err) { return std::system_category().message(err); }

// A bound, listening, non-blocking socket; close-on-exec, so the jobs the daemon forks do not
// inherit it (and keep the port after the daemon exits).
Result<int> listen_socket(const ListenAddress& address, std::string_view shown) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (address.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    ::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr);
    length = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr);
    length = sizeof(sockaddr_in);
  }
  const std::string where = "metrics server on " + std::string(shown) + ": ";
  const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Errc::unavailable, where + "socket: " + errno_text(errno));
  }
  // SO_REUSEADDR: a restarted daemon binds again while connections of the last one linger in
  // TIME_WAIT; another socket listening on the port still makes bind fail (EADDRINUSE).
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&storage), length) != 0 ||
      ::listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    ::close(fd);
    switch (err) {
      case EADDRINUSE:
        return fail(Errc::unavailable, where + "the port is in use");
      case EADDRNOTAVAIL:
        return fail(Errc::invalid_argument, where + "not an address of this host");
      case EACCES:
        return fail(Errc::permission_denied, where + "permission denied (a port below 1024?)");
      default:
        return fail(Errc::unavailable, where + errno_text(err));
    }
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return 0;
  }
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

}  // namespace

struct MetricsServer::Daemon {
  const MhdApi* api = nullptr;
  MHD_Daemon* mhd = nullptr;
  Render render;
};

namespace {

MHD_Result respond(const MhdApi& api, MHD_Connection* connection, unsigned status,
                   std::string_view body, const char* content_type, bool allow = false) {
  MHD_Response* response = api.create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) {
    return MHD_NO;  // out of memory: libmicrohttpd closes the connection
  }
  api.add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (allow) {
    api.add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  }
  const MHD_Result queued = api.queue_response(connection, status, response);
  api.destroy_response(response);  // the connection holds its own reference
  return queued;
}

// libmicrohttpd's request handler, on its thread. It answers on the first call, once the headers
// are in: a request body (only a wrong method sends one) is never read, and libmicrohttpd closes
// such a connection after the answer.
MHD_Result handle(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/,
                  std::size_t* /*upload_data_size*/, void** /*con_cls*/) {
  const auto& daemon = *static_cast<const MetricsServer::Daemon*>(cls);
  const MhdApi& api = *daemon.api;
  const std::string_view m = method;
  if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
    return respond(api, connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                   "text/plain; charset=utf-8", true);
  }
  const std::string_view path = url;
  if (path == "/metrics") {
    std::string text;
    try {
      text = daemon.render();
    } catch (const std::exception& e) {
      return respond(api, connection, MHD_HTTP_INTERNAL_SERVER_ERROR,
                     std::string("cannot render the metrics: ") + e.what() + "\n",
                     "text/plain; charset=utf-8");
    }
    return respond(api, connection, MHD_HTTP_OK, text, kExpositionType);
  }
  if (path == "/") {
    return respond(api, connection, MHD_HTTP_OK, kIndexPage, "text/plain; charset=utf-8");
  }
  return respond(api, connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n",
                 "text/plain; charset=utf-8");
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string shown = "metrics address \"" + std::string(text) + "\": ";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(Errc::invalid_argument, shown + "expected HOST:PORT, e.g. 127.0.0.1:9464");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  ListenAddress address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    address.ipv6 = true;
  }
  address.host = std::string(host);
  in6_addr scratch{};
  const int family = address.ipv6 ? AF_INET6 : AF_INET;
  if (address.host.empty() || ::inet_pton(family, address.host.c_str(), &scratch) != 1) {
    return fail(Errc::invalid_argument,
                shown +
                    "the host must be an IPv4 address or an IPv6 one in brackets, "
                    "e.g. 127.0.0.1 or [::1]");
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return fail(Errc::invalid_argument, shown + "the port must be a number from 0 to 65535");
  }
  address.port = static_cast<std::uint16_t>(port);
  return address;
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string_view listen, Render render,
                                                            const MetricsServerOptions& options) {
  auto address = parse_listen_address(listen);
  if (!address) {
    return std::unexpected(address.error());
  }
  auto api = mhd_api();
  if (!api) {
    return std::unexpected(api.error());
  }
  auto fd = listen_socket(*address, listen);
  if (!fd) {
    return std::unexpected(fd.error());
  }
  auto daemon = std::make_unique<Daemon>(Daemon{.api = *api, .render = std::move(render)});
  // One internal thread polls every connection (MHD_USE_AUTO picks epoll here); ITC lets
  // MHD_stop_daemon wake it at once. The listening socket is ours (bound above, so the errors
  // are precise); libmicrohttpd closes it when stopped.
  daemon->mhd = (*api)->start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC, 0, nullptr, nullptr, &handle, daemon.get(),
      MHD_OPTION_LISTEN_SOCKET, *fd, MHD_OPTION_CONNECTION_LIMIT, options.connection_limit,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.per_ip_connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(options.idle_timeout.count()),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory, MHD_OPTION_END);
  if (daemon->mhd == nullptr) {
    // The socket is not closed here: whether libmicrohttpd already closed it depends on where it
    // failed, and leaking one descriptor on this rare path beats closing a number that another
    // thread may have been given since.
    return fail(Errc::unavailable, "metrics server on " + std::string(listen) +
                                       ": libmicrohttpd could not start (threads or memory)");
  }
  const std::uint16_t port = bound_port(*fd);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(daemon), port));
}

MetricsServer::MetricsServer(std::unique_ptr<Daemon> daemon, std::uint16_t port)
    : daemon_(std::move(daemon)), port_(port) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::stop() noexcept {
  if (daemon_ && daemon_->mhd != nullptr) {
    // Joins libmicrohttpd's thread: no render call is running or will start after this.
    daemon_->api->stop_daemon(daemon_->mhd);
    daemon_->mhd = nullptr;
  }
}

}  // namespace heartlock::cli
