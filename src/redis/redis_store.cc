#include "redis_store.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "../core/process_identity.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

// How long a waiter sleeps at most between two tries. Waiters are woken by the release message;
// this bound covers a holder that expired (no message is published then) and lost messages.
constexpr milliseconds kMaxWaitSlice{1000};

long long to_ll(std::string_view s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

long long integer_of(const RedisReply& r) {
  return r.type == RedisReply::Type::integer  ? r.integer
         : r.type == RedisReply::Type::string ? to_ll(r.str)
                                              : 0;
}

Error reply_error(const std::string& where, const RedisReply& r) {
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
  return Error{Errc::unavailable, "redis " + where + ": " + r.str};
}

Result<std::optional<LostReason>> verdict(const Result<RedisReply>& r) {
  if (!r) {
    return std::unexpected(r.error());
  }
  switch (integer_of(*r)) {
    case 1:
      return std::optional<LostReason>();
    case 0:
      return std::optional<LostReason>(LostReason::expired);
    default:
      return std::optional<LostReason>(LostReason::taken_over);
  }
}

}  // namespace

// Renews all due leases of a store with one pipelined write of EVALSHA renew calls: one round
// trip per keepalive tick however many leases the process holds.
class RedisRenewBatch final : public RenewBatch {
 public:
  explicit RedisRenewBatch(std::shared_ptr<RedisClient> client) : client_(std::move(client)) {}
  std::vector<Result<std::optional<LostReason>>> renew_all(
      const std::vector<BackendLease*>& leases,
      const std::vector<BootTime>& last_heartbeats) override;

 private:
  std::shared_ptr<RedisClient> client_;
};

namespace {

// A lease on Redis: renew and release run owner-fenced scripts.
class RedisLease final : public BackendLease {
 public:
  RedisLease(std::shared_ptr<RedisClient> client, std::shared_ptr<RedisRenewBatch> batch,
             std::string key, std::string channel, std::string owner, milliseconds ttl)
      : client_(std::move(client)),
        batch_(std::move(batch)),
        key_(std::move(key)),
        channel_(std::move(channel)),
        owner_(std::move(owner)),
        ttl_(ttl) {}

  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override {
    return verdict(client_->run(renew_script(), {key_}, renew_args(last_heartbeat)));
  }

  RenewBatch* batch() override { return batch_.get(); }
  const std::string& key() const { return key_; }

  std::vector<std::string> renew_args(BootTime last_heartbeat) const {
    auto age = std::chrono::duration_cast<milliseconds>(boot_now() - last_heartbeat);
    return {owner_, std::to_string(ttl_.count()),
            std::to_string(std::max<long long>(0, age.count()))};
  }

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    auto hold = std::chrono::ceil<milliseconds>(hold_for);
    auto r =
        client_->run(release_script(), {key_, channel_}, {owner_, std::to_string(hold.count())});
    return verdict(r);
  }

 private:
  std::shared_ptr<RedisClient> client_;
  std::shared_ptr<RedisRenewBatch> batch_;
  std::string key_;
  std::string channel_;
  std::string owner_;
  milliseconds ttl_;
};

}  // namespace

std::vector<Result<std::optional<LostReason>>> RedisRenewBatch::renew_all(
    const std::vector<BackendLease*>& leases, const std::vector<BootTime>& last_heartbeats) {
  std::vector<RedisCommand> commands;
  commands.reserve(leases.size());
  for (std::size_t i = 0; i < leases.size(); ++i) {
    auto* lease = static_cast<RedisLease*>(leases[i]);
    RedisCommand cmd{"EVALSHA", renew_script().sha1, "1", lease->key()};
    auto args = lease->renew_args(last_heartbeats[i]);
    cmd.insert(cmd.end(), args.begin(), args.end());
    commands.push_back(std::move(cmd));
  }
  std::vector<Result<std::optional<LostReason>>> out;
  out.reserve(leases.size());
  auto replies = client_->commands(commands);
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (!replies) {
      out.push_back(std::unexpected(replies.error()));
    } else if ((*replies)[i].is_error() && (*replies)[i].str.starts_with("NOSCRIPT")) {
      // The server does not know the script yet: this one goes alone, with its source.
      out.push_back(leases[i]->renew(last_heartbeats[i]));
    } else if ((*replies)[i].is_error()) {
      out.push_back(std::unexpected(Error{Errc::unavailable, "redis: " + (*replies)[i].str}));
    } else {
      out.push_back(verdict((*replies)[i]));
    }
  }
  return out;
}

Result<RedisConnection*> RedisClient::connection_locked() {
  if (!conn_ || conn_->broken()) {
    conn_.reset();
    auto c = RedisConnection::connect(url_.nodes.front(), url_);
    if (!c) {
      return std::unexpected(c.error());
    }
    conn_ = std::move(*c);
  }
  return conn_.get();
}

Result<std::vector<RedisReply>> RedisClient::commands(const std::vector<RedisCommand>& commands) {
  std::lock_guard lock(mu_);
  auto c = connection_locked();
  if (!c) {
    return std::unexpected(c.error());
  }
  return (*c)->pipeline(commands);
}

Result<RedisReply> RedisClient::run(const RedisScript& script, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) {
  RedisCommand cmd{"EVALSHA", script.sha1, std::to_string(keys.size())};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  std::lock_guard lock(mu_);
  auto c = connection_locked();
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
    return std::unexpected(reply_error((*c)->where(), *reply));
  }
  return reply;
}

LockInfo describe_redis(std::string_view name, const RedisReply& fields, long long pttl_ms,
                        long long now_ms, std::string location) {
  LockInfo info;
  info.name = std::string(name);
  info.location = std::move(location);
  std::map<std::string, std::string, std::less<>> f;
  for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    f[fields.elements[i].str] = fields.elements[i + 1].str;
  }
  if (f.empty()) {
    info.state = LockState::free;
    info.detail = "free";
    return info;
  }
  Holder h;
  h.owner = f["owner"];
  h.host = f["host"];
  h.pid = to_ll(f["pid"]);
  h.token = static_cast<std::uint64_t>(to_ll(f["token"]));
  h.since = std::chrono::system_clock::time_point(milliseconds(to_ll(f["acquired_ms"])));
  h.ttl = milliseconds(to_ll(f["ttl_ms"]));
  h.stale_after = milliseconds(to_ll(f["stale_after_ms"]));
  h.command = f["command"];
  if (!f["slot"].empty()) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(to_ll(f["slot"])));
  }
  h.heartbeat_age = milliseconds(now_ms - to_ll(f["heartbeat_ms"]));
  h.renew_age = milliseconds(now_ms - to_ll(f["renewed_ms"]));
  info.holder = h;
  if (f["state"] == "released") {
    info.state = LockState::held;
    info.min_hold_left = milliseconds(std::max(0LL, pttl_ms));
    info.detail = "released, but min_hold keeps it for " + std::to_string(pttl_ms) + "ms";
  } else if (h.stale_after.count() > 0 && *h.heartbeat_age > h.stale_after) {
    info.state = LockState::deadlocked;
    info.detail = "holder pid " + std::to_string(h.pid) + " on " + h.host +
                  " has not heartbeat for " + std::to_string(h.heartbeat_age->count()) +
                  "ms; its lease expires in " + std::to_string(pttl_ms) + "ms";
  } else {
    info.state = LockState::held;
    info.detail = "held by pid " + std::to_string(h.pid) + " on " + h.host;
  }
  return info;
}

Result<std::unique_ptr<Store>> open_redis_store(std::string_view url, StoreOptions options) {
  auto parsed = parse_redis_url(url);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  if (parsed->nodes.size() > 1) {
    // TODO(#3): Redlock over several independent masters.
    return fail(Errc::unsupported, "Redlock over several Redis hosts is not in this build yet");
  }
  return std::make_unique<RedisStore>(std::move(*parsed), std::move(options));
}

RedisStore::RedisStore(RedisUrl url, StoreOptions options)
    : LeasingStore(std::move(options)),
      prefix_(url.prefix),
      client_(std::make_shared<RedisClient>(std::move(url))),
      batch_(std::make_shared<RedisRenewBatch>(client_)) {}

RedisStore::~RedisStore() { stop_keepalive(); }

Result<Attempt> RedisStore::try_once(const ClaimRequest& request) {
  ProcessIdentity self = self_identity();
  const auto& o = request.options;
  auto r =
      client_->run(acquire_script(), {lock_key(request.name), fence_key(request.name)},
                   {request.owner, std::to_string(o.ttl.count()), self.host,
                    std::to_string(self.pid), o.command, std::to_string(o.stale_after.count()),
                    o.slot ? std::to_string(o.slot->time_since_epoch().count()) : std::string()});
  if (!r) {
    return std::unexpected(r.error());
  }
  const auto& e = r->elements;
  if (r->type != RedisReply::Type::array || e.empty()) {
    return fail(Errc::internal, "redis: unexpected reply to the acquire script");
  }
  if (integer_of(e[0]) == 1 && e.size() >= 2) {
    return Attempt(Claim{
        .lease = std::make_unique<RedisLease>(client_, batch_, lock_key(request.name),
                                              channel(request.name), request.owner, o.ttl),
        .token = static_cast<std::uint64_t>(integer_of(e[1])),
        .location = url() + " " + lock_key(request.name),
        .acquired_at = boot_now(),
    });
  }
  if (e.size() < 4) {
    return fail(Errc::internal, "redis: unexpected reply to the acquire script");
  }
  return Attempt(describe_redis(request.name, e[1], integer_of(e[2]), integer_of(e[3]),
                                url() + " " + lock_key(request.name)));
}

Result<Attempt> RedisStore::claim(const ClaimRequest& request) {
  if (!request.deadline) {
    return try_once(request);
  }
  // Subscribe before the first try, so a release between the try and the wait is not missed.
  auto sub = RedisConnection::connect(client_->url().nodes.front(), client_->url());
  if (!sub) {
    return std::unexpected(sub.error());
  }
  if (auto ok = (*sub)->command({"SUBSCRIBE", channel(request.name)}); !ok) {
    return std::unexpected(ok.error());
  }
  for (;;) {
    auto attempt = try_once(request);
    if (!attempt || std::holds_alternative<Claim>(*attempt)) {
      return attempt;
    }
    const LockInfo& busy = std::get<LockInfo>(*attempt);
    BootTime now = boot_now();
    if (now >= *request.deadline) {
      return attempt;
    }
    // Until the deadline, the key's expiry (no message is sent then), or the slice.
    auto wait =
        std::min(std::chrono::duration_cast<milliseconds>(*request.deadline - now), kMaxWaitSlice);
    if (busy.holder && busy.holder->renew_age) {
      auto expires = busy.min_hold_left
                         ? *busy.min_hold_left
                         : busy.holder->ttl - *busy.holder->renew_age + milliseconds(1);
      wait = std::clamp(expires, milliseconds(1), wait);
    }
    auto pushed = (*sub)->read_push(wait);
    if (!pushed) {
      return std::unexpected(pushed.error());
    }
  }
}

Result<LockInfo> RedisStore::inspect(std::string_view name) {
  if (auto ok = validate_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  auto r = client_->run(inspect_script(), {lock_key(name), fence_key(name)}, {});
  if (!r) {
    return std::unexpected(r.error());
  }
  if (r->elements.size() < 4) {
    return fail(Errc::internal, "redis: unexpected reply to the inspect script");
  }
  const auto& e = r->elements;
  LockInfo info =
      describe_redis(name, e[0], integer_of(e[1]), integer_of(e[2]), url() + " " + lock_key(name));
  if (!info.holder && e[3].type == RedisReply::Type::string) {
    info.holder = Holder{.token = static_cast<std::uint64_t>(to_ll(e[3].str))};
    info.detail = "free (last token " + e[3].str + ")";
  }
  return info;
}

Result<std::vector<LockInfo>> RedisStore::list() {
  // Every name that was ever locked has a fencing counter: list those, like lock files.
  std::vector<std::string> names;
  std::string cursor = "0";
  const std::string pattern = prefix_ + "fence:*";
  do {
    auto r = client_->commands({{"SCAN", cursor, "MATCH", pattern, "COUNT", "500"}});
    if (!r) {
      return std::unexpected(r.error());
    }
    const RedisReply& reply = r->front();
    if (reply.is_error() || reply.elements.size() != 2) {
      return fail(Errc::unavailable, "redis: SCAN failed: " + reply.str);
    }
    cursor = reply.elements[0].str;
    for (const auto& key : reply.elements[1].elements) {
      names.push_back(key.str.substr(prefix_.size() + 6));
    }
  } while (cursor != "0");
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<LockInfo> out;
  for (const auto& name : names) {
    if (auto info = inspect(name)) {
      out.push_back(std::move(*info));
    }
  }
  return out;
}

Result<void> RedisStore::break_lease(std::string_view name, std::uint64_t token) {
  if (auto ok = validate_name(name); !ok) {
    return std::unexpected(ok.error());
  }
  auto r = client_->run(break_script(), {lock_key(name), channel(name)}, {std::to_string(token)});
  if (!r) {
    return std::unexpected(r.error());
  }
  if (integer_of(*r) != 1) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  return {};
}

}  // namespace heartlock::detail
