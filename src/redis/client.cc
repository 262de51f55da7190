#include "client.h"

#include <charconv>
#include <thread>

namespace heartlock::detail {

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

Result<std::unique_ptr<RedisConnection>> RedisClient::ask_sentinels() {
  // The Sentinels have their own password (if any) and no database.
  RedisUrl sentinel_url = url_;
  sentinel_url.user.clear();
  sentinel_url.password = url_.sentinel_password;
  sentinel_url.db = 0;
  sentinel_.reset();
  std::string failures;
  auto failed = [&](const std::string& why) { failures += (failures.empty() ? "" : "; ") + why; };
  for (const RedisEndpoint& sentinel : url_.nodes) {
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
  if (!sentinel_ || sentinel_->broken()) {
    return std::nullopt;
  }
  auto addr = sentinel_->command({"SENTINEL", "get-master-addr-by-name", url_.sentinel_master});
  return addr ? master_address(*addr) : std::nullopt;
}

Result<std::unique_ptr<RedisConnection>> RedisClient::connect_once() {
  return url_.sentinel_master.empty() ? RedisConnection::connect(node_, url_) : ask_sentinels();
}

Result<std::unique_ptr<RedisConnection>> RedisClient::connect_new(Patience patience) {
  auto c = connect_once();
  const int attempts = patience == Patience::patient ? url_.reconnect_attempts : 0;
  for (int n = 1; n <= attempts && !c && c.error().code == Errc::unavailable; ++n) {
    // cronlock's rule: the n-th retry waits n-1 times the backoff.
    std::this_thread::sleep_for((n - 1) * url_.reconnect_backoff);
    c = connect_once();
  }
  return c;
}

Result<RedisConnection*> RedisClient::connection_locked(Patience patience) {
  if (conn_ && !url_.sentinel_master.empty()) {
    auto master = current_master_locked();
    if (!master || master->host != master_.host || master->port != master_.port) {
      conn_.reset();  // failed over, or the Sentinel is gone: ask them all again
    }
  }
  if (!conn_ || conn_->broken()) {
    conn_.reset();
    auto c = connect_new(patience);
    if (!c) {
      return std::unexpected(c.error());
    }
    conn_ = std::move(*c);
  }
  return conn_.get();
}

void RedisClient::check_role_locked(const RedisReply& reply) {
  if (reply.is_error() && reply.str.starts_with("READONLY")) {
    conn_.reset();  // the next call asks the Sentinels (or reconnects) again
  }
}

Result<std::vector<RedisReply>> RedisClient::commands(const std::vector<RedisCommand>& commands,
                                                      Patience patience) {
  std::lock_guard lock(mu_);
  auto c = connection_locked(patience);
  if (!c) {
    return std::unexpected(c.error());
  }
  auto replies = (*c)->pipeline(commands);
  if (replies) {
    for (const auto& r : *replies) {
      check_role_locked(r);
    }
  }
  return replies;
}

Result<RedisReply> RedisClient::run(const RedisScript& script, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args, Patience patience) {
  RedisCommand cmd{"EVALSHA", script.sha1, std::to_string(keys.size())};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  std::lock_guard lock(mu_);
  auto c = connection_locked(patience);
  if (!c) {
    return std::unexpected(c.error());
  }
  auto reply = (*c)->command(cmd);
  if (reply && reply->is_error() && reply->str.starts_with("NOSCRIPT")) {
    // First use on this server (or after a restart or SCRIPT FLUSH): send the source once.
    cmd[0] = "EVAL";
    cmd[1] = std::string(script.source);
    reply = (*c)->command(cmd);
  }
  if (!reply) {
    return reply;
  }
  if (reply->is_error()) {
    Error e = redis_reply_error((*c)->where(), *reply);
    check_role_locked(*reply);
    return std::unexpected(std::move(e));
  }
  return reply;
}

}  // namespace heartlock::detail
