// RedisConnection's connect(): socket, TLS handshake and login, in that order, within one budget
// (the URL's timeout cut short by the thread's I/O deadline). The transport itself is in
// connection.cc.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <hiredis/hiredis.h>

#include "../core/io_deadline.h"
#include "connection.h"
#include "reply_builder.h"
#include "socket_io.h"
#include "tls_api.h"

namespace heartlock::detail {
namespace {

using Clock = std::chrono::steady_clock;

bool is_ip_address(const std::string& host) {
  in6_addr buf{};
  return ::inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

}  // namespace

Result<std::unique_ptr<RedisConnection>> RedisConnection::connect(const RedisEndpoint& endpoint,
                                                                  const RedisUrl& url) {
  std::unique_ptr<RedisConnection> c(new RedisConnection());
  c->where_ = endpoint.text();
  c->timeout_ = url.timeout;
  // Connect and TLS handshake share the URL's timeout, cut short by the thread's I/O deadline: a
  // reconnect made for a lease's renewal never outlasts the lease. (getaddrinfo cannot be bounded;
  // URLs name hosts the resolver answers for at once, or addresses.)
  const auto budget = capped(url.timeout);
  if (budget <= std::chrono::milliseconds(0)) {
    return fail(Errc::unavailable, "redis " + c->where_ + ": deadline passed (not connected)");
  }
  const auto deadline = Clock::now() + budget;
  // AUTH and SELECT are part of connecting: they share its budget rather than each getting the
  // timeout again.
  ScopedIoDeadline handshake(boot_now() + budget);

  if (auto ok = c->open_socket(endpoint, deadline); !ok) {
    return std::unexpected(ok.error());
  }
  if (url.tls) {
    if (auto ok = c->start_tls(endpoint, url, deadline); !ok) {
      return std::unexpected(ok.error());
    }
  }
  auto* reader = redisReaderCreateWithFunctions(redis_reply_functions());
  if (reader == nullptr) {
    return fail(Errc::internal, "redis " + c->where_ + ": cannot create a reply reader");
  }
  c->reader_ = reader;
  c->builder_ = std::make_unique<RedisReplyBuilder>();
  reader->privdata = c->builder_.get();
  if (auto ok = c->log_in(url); !ok) {
    return std::unexpected(ok.error());
  }
  return c;
}

Result<void> RedisConnection::open_socket(const RedisEndpoint& endpoint,
                                          Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail(Errc::unavailable,
                "redis " + where_ + ": cannot resolve host: " + ::gai_strerror(rc));
  }
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = errno_message(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        ::close(fd);
        last_error = "connect timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last_error = errno_message(errno);
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    break;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    return fail(Errc::unavailable, "redis " + where_ + ": " + last_error);
  }
  return {};
}

Result<void> RedisConnection::start_tls(const RedisEndpoint& endpoint, const RedisUrl& url,
                                        Clock::time_point deadline) {
  if (auto ok = make_tls_context(url); !ok) {
    return ok;
  }
  const TlsApi& tls = *tls_;
  NoSigpipe no_sigpipe;  // the handshake writes too
  SSL* ssl = tls.SSL_new(ssl_ctx_);
  ssl_ = ssl;
  if (ssl == nullptr) {
    return fail(Errc::internal, "redis " + where_ + ": " + ssl_error_text(tls));
  }
  tls.SSL_set_fd(ssl, fd_);
  if (!is_ip_address(endpoint.host)) {
    // SNI: SSL_set_tlsext_host_name, a macro over SSL_ctrl.
    tls.SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(endpoint.host.c_str()));
    tls.SSL_set1_host(ssl, endpoint.host.c_str());  // and check the name
  } else {
    tls.X509_VERIFY_PARAM_set1_ip_asc(tls.SSL_get0_param(ssl), endpoint.host.c_str());
  }
  for (;;) {
    int rc = tls.SSL_connect(ssl);
    if (rc == 1) {
      return {};
    }
    int err = tls.SSL_get_error(ssl, rc);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
        wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    long verify = tls.SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return fail(Errc::permission_denied, "redis " + where_ +
                                               ": TLS certificate did not verify: " +
                                               tls.X509_verify_cert_error_string(verify));
    }
    return fail(Errc::unavailable,
                "redis " + where_ + ": TLS handshake failed: " + ssl_error_text(tls));
  }
}

Result<void> RedisConnection::make_tls_context(const RedisUrl& url) {
  auto api = tls_api();
  if (!api) {
    return fail(Errc::unavailable, "redis " + where_ + ": " + api.error().message);
  }
  tls_ = *api;
  const TlsApi& tls = *tls_;
  SSL_CTX* ctx = tls.SSL_CTX_new(tls.TLS_client_method());
  ssl_ctx_ = ctx;
  if (ctx == nullptr) {
    return fail(Errc::internal, "redis " + where_ + ": " + ssl_error_text(tls));
  }
  if (url.insecure) {
    tls.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    tls.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = url.cacert.empty()
                 ? tls.SSL_CTX_set_default_verify_paths(ctx)
                 : tls.SSL_CTX_load_verify_locations(ctx, url.cacert.c_str(), nullptr);
    if (ok != 1) {
      return fail(Errc::invalid_argument,
                  "redis " + where_ + ": cannot load CA certificates: " + ssl_error_text(tls));
    }
  }
  if (!url.cert.empty() &&
      (tls.SSL_CTX_use_certificate_chain_file(ctx, url.cert.c_str()) != 1 ||
       tls.SSL_CTX_use_PrivateKey_file(ctx, (url.key.empty() ? url.cert : url.key).c_str(),
                                       SSL_FILETYPE_PEM) != 1)) {
    return fail(Errc::invalid_argument,
                "redis " + where_ + ": cannot load the client certificate: " + ssl_error_text(tls));
  }
  return {};
}

Result<void> RedisConnection::log_in(const RedisUrl& url) {
  if (!url.password.empty()) {
    RedisCommand auth = url.user.empty() ? RedisCommand{"AUTH", url.password}
                                         : RedisCommand{"AUTH", url.user, url.password};
    auto reply = command(auth);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (reply->is_error()) {
      // The server's message names no password ("WRONGPASS invalid username-password pair").
      return fail(Errc::permission_denied,
                  "redis " + where_ + ": authentication failed: " + reply->str);
    }
  }
  if (url.db != 0) {
    auto reply = command({"SELECT", std::to_string(url.db)});
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (reply->is_error()) {
      return fail(Errc::invalid_argument, "redis " + where_ + ": cannot select database " +
                                              std::to_string(url.db) + ": " + reply->str);
    }
  }
  return {};
}

}  // namespace heartlock::detail
