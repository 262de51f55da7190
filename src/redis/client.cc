#include "client.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <charconv>
#include <thread>

#include "../core/io_deadline.h"

namespace heartlock::detail {

IdleWatch::IdleWatch() : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {}

IdleWatch::~IdleWatch() {
  if (epfd_ >= 0) {
    ::close(epfd_);
  }
}

void IdleWatch::watch(int fd) const {
  // Level-triggered: the set stays readable for as long as something waits on an idle connection.
  // EPOLLRDHUP: the server's FIN, even before any data.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (epfd_ >= 0 && fd >= 0) {
    (void)::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);  // EEXIST: already watched
  }
}

void IdleWatch::unwatch(int fd) const {
  if (epfd_ >= 0 && fd >= 0) {
    (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // ENOENT: not watched
  }
}

Error redis_reply_error(const std::string& where, const RedisReply& r) {
  if (r.str.starts_with("NOAUTH") || r.str.starts_with("WRONGPASS") ||
      r.str.starts_with("NOPERM")) {
    return Error{Errc::permission_denied, "redis " + where + ": " + r.str};
  }
  if (r.str.find("unauthenticated") != std::string::npos) {
    // Redis answers a long command from a client that has not authenticated with a protocol
    // error instead of NOAUTH (and closes the connection): it is still a credentials problem.
    return Error{Errc::permission_denied,
                 "redis " + where + ": authentication required (give user and password): " + r.str};
  }
  if (r.str.starts_with("READONLY")) {
    return Error{Errc::unavailable,
                 "redis " + where + " is a read-only replica (a failover?): " + r.str};
  }
  return Error{Errc::unavailable, "redis " + where + ": " + r.str};
}

std::string RedisClient::where() const {
  return url_.sentinel_master.empty() ? node_.text() : "master " + url_.sentinel_master;
}

namespace {

// The master's address from a Sentinel's answer to get-master-addr-by-name.
std::optional<RedisEndpoint> master_address(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::array || reply.elements.size() != 2) {
    return std::nullopt;
  }
  RedisEndpoint master{.host = reply.elements[0].str};
  const std::string& port = reply.elements[1].str;
  std::from_chars(port.data(), port.data() + port.size(), master.port);
  return master;
}

}  // namespace

Result<std::unique_ptr<RedisConnection>> RedisClient::ask_sentinels(BootTime& started) {
  // The Sentinels have their own password (if any) and no database.
  RedisUrl sentinel_url = url_;
  sentinel_url.user.clear();
  sentinel_url.password = url_.sentinel_password;
  sentinel_url.db = 0;
  sentinel_.reset();
  std::string failures;
  auto failed = [&](const std::string& why) { failures += (failures.empty() ? "" : "; ") + why; };
  for (const RedisEndpoint& sentinel : url_.nodes) {
    if (io_deadline_passed()) {
      failed("deadline passed");
      break;
    }
    // One Sentinel's attempt -- its answer, then the master's connection and ROLE -- ends within
    // the timeout; one that did not answer does not count against the next.
    started = boot_now();
    ScopedIoDeadline attempt(started + url_.timeout);
    auto s = RedisConnection::connect(sentinel, sentinel_url);
    if (!s) {
      failed("sentinel " + s.error().message);
      continue;
    }
    auto addr = (*s)->command({"SENTINEL", "get-master-addr-by-name", url_.sentinel_master});
    if (!addr) {
      failed("sentinel " + addr.error().message);
      continue;
    }
    if (addr->is_error()) {
      failed("sentinel " + sentinel.text() + ": " + addr->str);
      continue;
    }
    auto master = master_address(*addr);
    if (!master) {
      failed("sentinel " + sentinel.text() + " knows no master named '" + url_.sentinel_master +
             "'");
      continue;
    }
    auto m = RedisConnection::connect(*master, url_);
    if (!m) {
      if (m.error().code == Errc::permission_denied) {
        return m;  // the same credentials would fail on any master
      }
      failed(m.error().message);
      continue;
    }
    // Right after a failover a Sentinel may still name the old master, now a replica.
    auto role = (*m)->command({"ROLE"});
    if (!role) {
      failed(role.error().message);
      continue;
    }
    if (!role->is_error() && !role->elements.empty() && role->elements[0].str != "master") {
      failed("sentinel " + sentinel.text() + " names " + master->text() +
             " as master, but it is a " + role->elements[0].str);
      continue;
    }
    sentinel_ = std::move(*s);
    master_ = *master;
    return m;
  }
  return fail(Errc::unavailable,
              "redis-sentinel: no master '" + url_.sentinel_master + "' found: " + failures);
}

std::optional<RedisEndpoint> RedisClient::current_master_locked() {
  if (!sentinel_ || !sentinel_->usable_when_idle()) {
    return std::nullopt;
  }
  auto addr = sentinel_->command({"SENTINEL", "get-master-addr-by-name", url_.sentinel_master});
  return addr ? master_address(*addr) : std::nullopt;
}

Result<std::unique_ptr<RedisConnection>> RedisClient::connect_once(BootTime& started) {
  started = boot_now();
  return url_.sentinel_master.empty() ? RedisConnection::connect(node_, url_)
                                      : ask_sentinels(started);
}

Result<std::unique_ptr<RedisConnection>> RedisClient::connect_new(Patience patience) {
  BootTime started{};
  return connect_new(patience, started);
}

Result<std::unique_ptr<RedisConnection>> RedisClient::connect_new(Patience patience,
                                                                  BootTime& started) {
  auto c = connect_once(started);
  const int attempts = patience == Patience::patient ? url_.reconnect_attempts : 0;
  for (int n = 1; n <= attempts && !c && c.error().code == Errc::unavailable; ++n) {
    // cronlock's rule: the n-th retry waits n-1 times the backoff -- unless that would outlast
    // the I/O deadline; then the last failure is the answer.
    const auto pause = (n - 1) * url_.reconnect_backoff;
    if (capped(pause) < pause || io_deadline_passed()) {
      break;
    }
    std::this_thread::sleep_for(pause);
    c = connect_once(started);
  }
  return c;
}

Result<RedisConnection*> RedisClient::connection_locked(Patience patience, BootTime& started) {
  started = boot_now();
  if (conn_ && watch_) {
    watch_->unwatch(conn_->fd());
  }
  if (conn_ && !url_.sentinel_master.empty()) {
    auto master = current_master_locked();
    if (!master || master->host != master_.host || master->port != master_.port) {
      conn_.reset();  // failed over, or the Sentinel is gone: ask them all again
    }
  }
  // A connection the server closed while it sat idle (a restart) is found here, before anything
  // was sent on it: the call goes to a new one at once instead of failing.
  if (!conn_ || !conn_->usable_when_idle()) {
    conn_.reset();
    auto c = connect_new(patience, started);
    if (!c) {
      return std::unexpected(c.error());
    }
    conn_ = std::move(*c);
  }
  return conn_.get();
}

RedisClient::~RedisClient() {
  // Out of the set before the socket closes: the kernel drops a closed descriptor from an epoll
  // set only once no other process (a child forked meanwhile) holds the socket too.
  if (conn_ && watch_) {
    watch_->unwatch(conn_->fd());
  }
}

void RedisClient::done_locked() {
  if (conn_ && conn_->broken()) {
    conn_.reset();
  } else if (conn_ && watch_) {
    watch_->watch(conn_->fd());
  }
}

template <class Call>
auto RedisClient::with_connection(Patience patience, Call&& call)
    -> decltype(call(std::declval<RedisConnection&>())) {
  std::lock_guard lock(mu_);
  BootTime started{};
  auto c = connection_locked(patience, started);
  if (!c) {
    done_locked();
    return std::unexpected(c.error());
  }
  // One attempt -- connecting (TCP, TLS, AUTH, SELECT) or the Sentinel's check, then every
  // command of the call (EVALSHA and the EVAL after NOSCRIPT) -- ends within the URL's timeout
  // in all, not each exchange within its own: a server that answers each just in time, or drips
  // its replies, cannot stretch a call. Only a patient call's reconnects and backoff come before.
  ScopedIoDeadline attempt(started + url_.timeout);
  auto result = call(**c);
  done_locked();
  return result;
}

void RedisClient::check_role_locked(const RedisReply& reply) {
  if (reply.is_error() && reply.str.starts_with("READONLY")) {
    conn_.reset();  // the next call asks the Sentinels (or reconnects) again
  }
}

Result<std::vector<RedisReply>> RedisClient::commands(const std::vector<RedisCommand>& commands,
                                                      Patience patience) {
  return with_connection(patience, [&](RedisConnection& c) {
    auto replies = c.pipeline(commands);
    if (replies) {
      for (const auto& r : *replies) {
        check_role_locked(r);
      }
    }
    return replies;
  });
}

Result<RedisReply> RedisClient::run(const RedisScript& script, const RedisArgs& keys,
                                    const RedisArgs& args, Patience patience) {
  return with_connection(patience, [&](RedisConnection& c) -> Result<RedisReply> {
    request_.clear();
    append_script_call(request_, "EVALSHA", script.sha1, keys, args);
    auto reply = c.exchange(request_);
    if (reply && reply->is_error() && reply->str.starts_with("NOSCRIPT")) {
      // First use on this server (or after a restart or SCRIPT FLUSH): send the source once.
      request_.clear();
      append_script_call(request_, "EVAL", script.source, keys, args);
      reply = c.exchange(request_);
    }
    if (!reply) {
      return reply;
    }
    if (reply->is_error()) {
      Error e = redis_reply_error(c.where(), *reply);
      check_role_locked(*reply);  // may drop the connection: `c` is not used after this
      return std::unexpected(std::move(e));
    }
    return reply;
  });
}

}  // namespace heartlock::detail
