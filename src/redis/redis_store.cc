#include "redis_store.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "../core/io_deadline.h"
#include "../core/process_identity.h"
#include "../core/slots.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;
using Patience = RedisClient::Patience;

long long to_ll(std::string_view s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// Bounds for the times and durations of a record, which the server hands back as it holds them
// (garbage, if someone else wrote it): 9e12 ms is 285 years (since the epoch: the year 2255),
// which still fits a system_clock time point in nanoseconds, and a difference of two such values
// cannot overflow. A heartbeat or renewal "in the future" by more than a day is garbage too: no
// clock is that far off, and ages are only computed from times within [0, now + 1 day].
constexpr long long kMaxRecordMs = 9'000'000'000'000;
constexpr long long kMaxFutureMs = 24LL * 3600 * 1000;

// The whole of `s` as an integer within [min, max], or nullopt.
std::optional<long long> checked_ll(std::string_view s, long long min, long long max) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}

// How long ago `field` (server time in ms) was at `now_ms`; nullopt when either is garbage.
std::optional<milliseconds> age_of(std::string_view field, long long now_ms) {
  if (now_ms < 0 || now_ms > kMaxRecordMs) {
    return std::nullopt;
  }
  auto at = checked_ll(field, 0, now_ms + kMaxFutureMs);
  if (!at) {
    return std::nullopt;
  }
  return milliseconds(std::max(0LL, now_ms - *at));
}

long long integer_of(const RedisReply& r) {
  return r.type == RedisReply::Type::integer  ? r.integer
         : r.type == RedisReply::Type::string ? to_ll(r.str)
                                              : 0;
}

// The lease's fate from every node's answer to an owner-fenced script (1 done, 0 gone, -1 another
// owner's): done on a quorum, lost if a quorum can no longer be reached, otherwise unknown (the
// error: retry).
Result<std::optional<LostReason>> combine(const std::vector<Result<RedisReply>>& answers,
                                          std::size_t quorum) {
  std::size_t done = 0;
  std::size_t unanswered = 0;
  bool other_owner = false;
  const Error* first_error = nullptr;
  for (const auto& a : answers) {
    if (!a) {
      ++unanswered;
      first_error = first_error != nullptr ? first_error : &a.error();
      continue;
    }
    long long v = integer_of(*a);
    done += v == 1 ? 1 : 0;
    other_owner = other_owner || v < 0;
  }
  if (done >= quorum) {
    return std::optional<LostReason>();
  }
  if (done + unanswered >= quorum) {
    std::string message = first_error->message;
    if (answers.size() > 1) {
      message = "Redlock: " + std::to_string(done) + " of " + std::to_string(answers.size()) +
                " nodes confirmed (" + std::to_string(quorum) + " needed): " + message;
    }
    return std::unexpected(Error{first_error->code, message});
  }
  return std::optional<LostReason>(other_owner ? LostReason::taken_over : LostReason::expired);
}

// Redlock asks the nodes one after another. Under an I/O deadline (a renewal or release: the
// lease's deadline), node i of n gets at most 1/(n-i) of the time left, so that a node that stopped
// answering cannot use up the time of the ones after it, which together may still make a
// majority; what a quick node leaves goes to the next. kNoIoDeadline (no bound) without one.
BootTime node_share(std::size_t i, std::size_t n) {
  const BootTime deadline = io_deadline();
  if (deadline == kNoIoDeadline || i + 1 >= n) {
    return kNoIoDeadline;
  }
  const BootTime now = boot_now();
  return now + (deadline - now) / static_cast<long>(n - i);
}

std::vector<Result<RedisReply>> run_on_all(const RedisNodes& nodes, const RedisScript& script,
                                           const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args,
                                           Patience patience = Patience::once) {
  std::vector<Result<RedisReply>> out;
  out.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    ScopedIoDeadline share(node_share(i, nodes.size()));
    out.push_back(nodes[i]->run(script, keys, args, patience));
  }
  return out;
}

}  // namespace

// Renews all due leases of a store with one pipelined write of EVALSHA renew calls per node: one
// round trip per keepalive tick (per Redlock node) however many leases the process holds.
class RedisRenewBatch final : public RenewBatch {
 public:
  RedisRenewBatch(RedisNodes nodes, const RedisScripts& scripts, std::size_t quorum)
      : nodes_(std::move(nodes)), scripts_(scripts), quorum_(quorum) {}
  std::vector<Result<std::optional<LostReason>>> renew_all(
      const std::vector<BackendLease*>& leases,
      const std::vector<BootTime>& last_heartbeats) override;

 private:
  RedisNodes nodes_;
  const RedisScripts& scripts_;
  std::size_t quorum_;
};

namespace {

// A lease on Redis: renew and release run owner-fenced scripts on every node.
class RedisLease final : public BackendLease {
 public:
  RedisLease(RedisNodes nodes, std::shared_ptr<RedisRenewBatch> batch,
             std::shared_ptr<const IdleWatch> watch, const RedisScripts& scripts,
             std::vector<std::string> keys, std::string owner, milliseconds ttl, std::size_t quorum)
      : nodes_(std::move(nodes)),
        batch_(std::move(batch)),
        watch_(std::move(watch)),
        scripts_(scripts),
        keys_(std::move(keys)),
        owner_(std::move(owner)),
        ttl_(ttl),
        quorum_(quorum) {}

  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override {
    return combine(run_on_all(nodes_, scripts_.renew, keys_, renew_args(last_heartbeat)), quorum_);
  }

  RenewBatch* batch() override { return batch_.get(); }

  // The store's IdleWatch: readable when a node closed the connection this lease is renewed on
  // (a restart without persistence has forgotten the lease; a renewal on a new connection finds
  // out) or sent something unasked. Constant and open while this lease holds it; its own
  // descriptor, so reading it races with nothing.
  int watch_fd() const override { return watch_ ? watch_->fd() : -1; }

  const std::vector<std::string>& keys() const { return keys_; }

  std::vector<std::string> renew_args(BootTime last_heartbeat) const {
    auto age = std::chrono::duration_cast<milliseconds>(boot_now() - last_heartbeat);
    return {owner_, std::to_string(ttl_.count()),
            std::to_string(std::max<long long>(0, age.count()))};
  }

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    auto hold = std::chrono::ceil<milliseconds>(hold_for);
    return combine(
        run_on_all(nodes_, scripts_.release, keys_, {owner_, std::to_string(hold.count())}),
        quorum_);
  }

 private:
  RedisNodes nodes_;
  std::shared_ptr<RedisRenewBatch> batch_;
  std::shared_ptr<const IdleWatch> watch_;
  const RedisScripts& scripts_;
  std::vector<std::string> keys_;
  std::string owner_;
  milliseconds ttl_;
  std::size_t quorum_;
};

}  // namespace

std::vector<Result<std::optional<LostReason>>> RedisRenewBatch::renew_all(
    const std::vector<BackendLease*>& leases, const std::vector<BootTime>& last_heartbeats) {
  std::vector<RedisCommand> commands;
  commands.reserve(leases.size());
  for (std::size_t i = 0; i < leases.size(); ++i) {
    auto* lease = static_cast<RedisLease*>(leases[i]);
    RedisCommand cmd{"EVALSHA", scripts_.renew.sha1, std::to_string(lease->keys().size())};
    cmd.insert(cmd.end(), lease->keys().begin(), lease->keys().end());
    auto args = lease->renew_args(last_heartbeats[i]);
    cmd.insert(cmd.end(), args.begin(), args.end());
    commands.push_back(std::move(cmd));
  }
  // answers[lease][node]
  std::vector<std::vector<Result<RedisReply>>> answers(leases.size());
  for (std::size_t n = 0; n < nodes_.size(); ++n) {
    const auto& node = nodes_[n];
    ScopedIoDeadline share(node_share(n, nodes_.size()));
    auto replies = node->commands(commands);
    auto noscript = [&](std::size_t i) {
      return replies && (*replies)[i].is_error() && (*replies)[i].str.starts_with("NOSCRIPT");
    };
    bool any_noscript = false;
    for (std::size_t i = 0; i < leases.size() && !any_noscript; ++i) {
      any_noscript = noscript(i);
    }
    if (any_noscript) {
      // The server does not know the script (first use, or it restarted): load it once and send
      // those again in one pipeline -- not one round trip per lease, which with thousands of
      // leases after a restart would outlast their ttl.
      std::vector<std::size_t> again;
      std::vector<RedisCommand> retry = {{"SCRIPT", "LOAD", std::string(scripts_.renew.source)}};
      for (std::size_t i = 0; i < leases.size(); ++i) {
        if (noscript(i)) {
          again.push_back(i);
          retry.push_back(commands[i]);
        }
      }
      auto retried = node->commands(retry);
      for (std::size_t k = 0; k < again.size(); ++k) {
        if (!retried) {
          (*replies)[again[k]] =
              RedisReply{.type = RedisReply::Type::error, .str = retried.error().message};
        } else {
          (*replies)[again[k]] = std::move((*retried)[k + 1]);
        }
      }
    }
    for (std::size_t i = 0; i < leases.size(); ++i) {
      if (!replies) {
        answers[i].push_back(std::unexpected(replies.error()));
      } else if ((*replies)[i].is_error()) {
        answers[i].push_back(std::unexpected(redis_reply_error(node->where(), (*replies)[i])));
      } else {
        answers[i].push_back(std::move((*replies)[i]));
      }
    }
  }
  std::vector<Result<std::optional<LostReason>>> out;
  out.reserve(leases.size());
  for (auto& a : answers) {
    out.push_back(combine(a, quorum_));
  }
  return out;
}

LockInfo describe_redis(std::string_view name, const RedisReply& fields, long long free_in_ms,
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
  if (f["kind"] == "cronlock") {
    // Written by cronlock (or golock): a deadline and nothing else.
    const std::string& deadline = f["deadline_s"];
    h.foreign = true;
    h.owner = "cronlock:" + deadline;
    info.holder = h;
    info.state = LockState::held;
    bool numeric = !deadline.empty() && std::all_of(deadline.begin(), deadline.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
    info.detail = numeric
                      ? "held by cronlock (no heartlock record) until epoch second " + deadline +
                            ", in " + std::to_string(std::max(0LL, free_in_ms / 1000)) + "s"
                      : "holds '" + deadline.substr(0, 40) +
                            "', which is not a cronlock deadline: never taken over (end it "
                            "with `heartlock release --force`)";
    return info;
  }
  h.owner = f["owner"];
  h.host = f["host"];
  h.pid = to_ll(f["pid"]);
  h.token = static_cast<std::uint64_t>(to_ll(f["token"]));
  // Out-of-range numbers (a record someone else wrote) read as unknown: 0, or no value.
  h.since = std::chrono::system_clock::time_point(
      milliseconds(checked_ll(f["acquired_ms"], 0, kMaxRecordMs).value_or(0)));
  h.ttl = milliseconds(checked_ll(f["ttl_ms"], 0, kMaxRecordMs).value_or(0));
  h.stale_after = milliseconds(checked_ll(f["stale_after_ms"], 0, kMaxRecordMs).value_or(0));
  h.command = f["command"];
  if (auto slot = checked_ll(f["slot"], 0, kMaxRecordMs / 1000)) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(*slot));
  }
  h.heartbeat_age = age_of(f["heartbeat_ms"], now_ms);
  h.renew_age = age_of(f["renewed_ms"], now_ms);
  info.holder = h;
  if (f["state"] == "released") {
    info.state = LockState::held;
    info.min_hold_left = milliseconds(std::max(0LL, free_in_ms));
    info.detail = "released, but min_hold keeps it for " + std::to_string(free_in_ms) + "ms";
  } else if (!h.heartbeat_age) {
    info.state = LockState::held;
    info.detail = "held by pid " + std::to_string(h.pid) + " on " + h.host +
                  "; its heartbeat time (heartbeat_ms) or the server's time (" +
                  std::to_string(now_ms) + "ms) is missing or out of range: age unknown";
  } else if (h.stale_after.count() > 0 && *h.heartbeat_age > h.stale_after) {
    info.state = LockState::deadlocked;
    info.detail = "holder pid " + std::to_string(h.pid) + " on " + h.host +
                  " has not heartbeat for " + std::to_string(h.heartbeat_age->count()) +
                  "ms; its lease expires in " + std::to_string(free_in_ms) + "ms";
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
  return std::make_unique<RedisStore>(std::move(*parsed), std::move(options));
}

namespace {

RedisNodes make_nodes(const RedisUrl& url, const std::shared_ptr<const IdleWatch>& watch) {
  RedisNodes nodes;
  if (!url.sentinel_master.empty()) {
    nodes.push_back(std::make_shared<RedisClient>(url, url.nodes.front(), watch));
  } else {
    for (const auto& node : url.nodes) {
      nodes.push_back(std::make_shared<RedisClient>(url, node, watch));
    }
  }
  return nodes;
}

}  // namespace

RedisStore::RedisStore(RedisUrl url, StoreOptions options)
    : LeasingStore(std::move(options)),
      url_(url.redacted()),
      layout_(url.prefix, url.cronlock),
      timeout_(url.timeout),
      watch_(std::make_shared<IdleWatch>()),
      nodes_(make_nodes(url, watch_)),
      batch_(std::make_shared<RedisRenewBatch>(nodes_, layout_.scripts(), quorum())) {}

RedisStore::~RedisStore() { stop_keepalive(); }

Result<Attempt> RedisStore::claim(const ClaimRequest& request) {
  ProcessIdentity self = self_identity();
  const auto& o = request.options;
  const auto keys = layout_.keys(request.name);
  const std::vector<std::string> args = {
      request.owner,
      std::to_string(o.ttl.count()),
      self.host,
      std::to_string(self.pid),
      o.command,
      std::to_string(o.stale_after.count()),
      o.slot ? std::to_string(o.slot->time_since_epoch().count()) : std::string()};
  const BootTime start = boot_now();
  auto answers = run_on_all(nodes_, layout_.scripts().acquire, keys, args, Patience::patient);

  std::vector<std::size_t> granted;
  std::uint64_t token = 0;
  std::optional<LockInfo> busy;
  const Error* first_error = nullptr;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i]) {
      first_error = first_error != nullptr ? first_error : &answers[i].error();
      continue;
    }
    const auto& e = answers[i]->elements;
    if (answers[i]->type != RedisReply::Type::array || e.empty() ||
        (integer_of(e[0]) == 1 ? e.size() < 2 : e.size() < 4)) {
      return fail(Errc::internal, "redis: unexpected reply to the acquire script");
    }
    if (integer_of(e[0]) == 1) {
      granted.push_back(i);
      token = std::max(token, static_cast<std::uint64_t>(integer_of(e[1])));
    } else if (!busy) {
      busy = describe_redis(request.name, e[1], integer_of(e[2]), integer_of(e[3]),
                            location(request.name));
    }
  }
  auto claim = [&] {
    return Attempt(Claim{
        .lease = std::make_unique<RedisLease>(nodes_, batch_, watch_, layout_.scripts(), keys,
                                              request.owner, o.ttl, quorum()),
        .token = token,
        .location = location(request.name),
        .acquired_at = start,
    });
  };
  if (nodes_.size() == 1) {
    if (first_error != nullptr) {
      return std::unexpected(*first_error);
    }
    return granted.empty() ? Attempt(std::move(*busy)) : claim();
  }

  // Redlock. Validity: what is left of the ttl after the round trips, less the clock drift that
  // the nodes' expiry timers may accumulate over a ttl (Redlock's 1% + 2 ms).
  const auto elapsed = boot_now() - start;
  const auto drift = o.ttl / 100 + milliseconds(2);
  std::string why;
  if (granted.size() >= quorum() && elapsed + drift < o.ttl) {
    // Hand out the largest counter, after writing it back to the granting nodes (see the header).
    RedisNodes granters;
    for (auto i : granted) {
      granters.push_back(nodes_[i]);
    }
    auto raised = run_on_all(granters, layout_.scripts().raise_fence, keys,
                             {request.owner, std::to_string(token)});
    auto ok = combine(raised, quorum());
    if (ok && !ok->has_value() && boot_now() - start + drift < o.ttl) {
      return claim();
    }
    why = "the fencing token could not be recorded on a majority";
  } else if (granted.size() >= quorum()) {
    why = "acquiring took longer than the ttl allows";
  }
  // Not held: give back what was granted (owner-fenced, so only ours).
  for (auto i : granted) {
    (void)nodes_[i]->run(layout_.scripts().release, keys, {request.owner, "0"});
  }
  if (busy && why.empty()) {
    busy->detail += " (Redlock: " + std::to_string(granted.size()) + " of " +
                    std::to_string(nodes_.size()) + " nodes were free)";
    return Attempt(std::move(*busy));
  }
  if (why.empty()) {
    why = "only " + std::to_string(granted.size()) + " of " + std::to_string(nodes_.size()) +
          " nodes granted the lock and " + std::to_string(quorum()) + " are needed";
  }
  return fail(Errc::unavailable, "Redlock " + url_ + ": " + why +
                                     (first_error != nullptr ? ": " + first_error->message : ""));
}

namespace {

// A waiter woken by the release message (SUBSCRIBE on the lock's channel). On Redlock one node's
// message is enough: every node publishes the release, so the first node that takes the
// subscription serves. The holder's expiry publishes nothing: next_look() times that.
class RedisReleaseWaiter final : public PushWaiter {
 public:
  RedisReleaseWaiter(RedisNodes nodes, std::string channel)
      : nodes_(std::move(nodes)), channel_(std::move(channel)) {}

 private:
  bool connected() const override { return sub_ != nullptr; }
  void disconnect() override { sub_.reset(); }
  int socket() const override { return sub_->fd(); }

  Result<void> connect() override {
    for (const auto& node : nodes_) {
      auto c = node->connect_new(Patience::patient);
      if (!c && c.error().code == Errc::permission_denied) {
        return std::unexpected(c.error());
      }
      if (c && (*c)->command({"SUBSCRIBE", channel_})) {
        sub_ = std::move(*c);
        return {};
      }
    }
    return {};
  }

  Result<bool> read_message(milliseconds timeout) override {
    auto pushed = sub_->read_push(timeout);
    if (!pushed) {
      return std::unexpected(pushed.error());
    }
    return pushed->has_value();
  }

  RedisNodes nodes_;
  std::string channel_;
  std::unique_ptr<RedisConnection> sub_;
};

}  // namespace

std::unique_ptr<ReleaseWaiter> RedisStore::release_waiter(std::string_view name) {
  return std::make_unique<RedisReleaseWaiter>(nodes_, layout_.channel(name));
}

Result<LockInfo> RedisStore::inspect_node(RedisClient& node, std::string_view name) {
  auto r = node.run(layout_.scripts().inspect, layout_.keys(name), {}, Patience::patient);
  if (!r) {
    return std::unexpected(r.error());
  }
  if (r->elements.size() < 4) {
    return fail(Errc::internal, "redis: unexpected reply to the inspect script");
  }
  const auto& e = r->elements;
  LockInfo info = describe_redis(name, e[0], integer_of(e[1]), integer_of(e[2]), location(name));
  if (!info.holder && e[3].type == RedisReply::Type::string) {
    info.holder = Holder{.token = static_cast<std::uint64_t>(to_ll(e[3].str))};
    info.detail = "free (last token " + e[3].str + ")";
  }
  return info;
}

Result<LockInfo> RedisStore::inspect_lock(std::string_view name) {
  if (nodes_.size() == 1) {
    return inspect_node(*nodes_.front(), name);
  }
  // Redlock: what a majority says. A holder seen on fewer nodes is an acquisition in progress or
  // the rest of a failed one, which expires by itself.
  std::map<std::string, std::pair<std::size_t, LockInfo>> holders;
  std::optional<LockInfo> free;
  std::size_t free_nodes = 0;
  const Error* first_error = nullptr;
  std::vector<Result<LockInfo>> infos;
  for (const auto& node : nodes_) {
    infos.push_back(inspect_node(*node, name));
  }
  for (auto& info : infos) {
    if (!info) {
      first_error = first_error != nullptr ? first_error : &info.error();
    } else if (info->state == LockState::free) {
      ++free_nodes;
      if (!free || (info->holder && (!free->holder || info->holder->token > free->holder->token))) {
        free = *info;
      }
    } else {
      auto& [count, seen] = holders[info->holder->owner];
      if (count++ == 0) {
        seen = *info;
      }
    }
  }
  const std::string of_n = " of " + std::to_string(nodes_.size()) + " nodes";
  auto most = std::max_element(holders.begin(), holders.end(), [](const auto& a, const auto& b) {
    return a.second.first < b.second.first;
  });
  if (most != holders.end()) {
    auto [count, info] = most->second;
    info.detail += count >= quorum() ? " (on " + std::to_string(count) + of_n + ")"
                                     : " (only on " + std::to_string(count) + of_n +
                                           ": not a majority; it expires by itself)";
    return info;
  }
  if (free && free_nodes >= quorum()) {
    return *free;
  }
  return fail(Errc::unavailable, "Redlock " + url_ + ": only " + std::to_string(free_nodes) + of_n +
                                     " answered" +
                                     (first_error != nullptr ? ": " + first_error->message : ""));
}

Result<std::vector<LockInfo>> RedisStore::list() {
  // Every name that was ever locked has a fencing counter (or, cronlock's, a key): list those,
  // like lock files.
  std::set<std::string> names;
  std::vector<Error> errors;
  std::size_t answered = 0;
  // Each SCAN is bounded by the timeout, but a server (or an impostor on its port) that never
  // ends the iteration, or names without end, must not hold `status` forever or fill the memory:
  // 100000 rounds of 500 cover 50 million keys under the prefix.
  constexpr int kMaxRounds = 100'000;
  constexpr std::size_t kMaxNames = 1'000'000;
  for (const auto& node : nodes_) {
    std::string cursor = "0";
    bool ok = true;
    int rounds = 0;
    do {
      if (++rounds > kMaxRounds || names.size() > kMaxNames) {
        errors.push_back(
            Error{Errc::unavailable, "redis: SCAN of " + url_ + " did not finish after " +
                                         std::to_string(rounds - 1) + " rounds and " +
                                         std::to_string(names.size()) + " names; giving up"});
        ok = false;
        break;
      }
      auto r = node->commands({{"SCAN", cursor, "MATCH", layout_.scan_pattern(), "COUNT", "500"}},
                              Patience::patient);
      if (!r || r->front().is_error() || r->front().elements.size() != 2) {
        errors.push_back(!r ? r.error()
                            : Error{Errc::unavailable, "redis: SCAN failed: " + r->front().str});
        ok = false;
        break;
      }
      const RedisReply& reply = r->front();
      cursor = reply.elements[0].str;
      for (const auto& key : reply.elements[1].elements) {
        if (auto name = layout_.name_of(key.str)) {
          names.insert(*name);
        }
      }
    } while (cursor != "0");
    answered += ok ? 1 : 0;
  }
  if (answered < quorum()) {
    return std::unexpected(errors.front());
  }
  std::vector<LockInfo> out;
  for (const auto& name : names) {
    // A key heartlock cannot read (a name it would refuse, a server error) is listed with why,
    // never left out.
    auto info = inspect(name);
    out.push_back(info ? std::move(*info)
                       : LockInfo{.name = name,
                                  .state = LockState::unknown,
                                  .location = location(name),
                                  .detail = info.error().message});
  }
  return out;
}

Result<void> RedisStore::run_break(std::string_view name, std::uint64_t token,
                                   const std::string& value) {
  auto answers = run_on_all(nodes_, layout_.scripts().break_lease, layout_.keys(name),
                            {std::to_string(token), value}, Patience::patient);
  std::size_t ended = 0;
  const Error* first_error = nullptr;
  for (const auto& a : answers) {
    if (!a) {
      first_error = first_error != nullptr ? first_error : &a.error();
    } else {
      ended += integer_of(*a) == 1 ? 1 : 0;
    }
  }
  if (ended > 0) {
    return {};
  }
  if (first_error != nullptr) {
    return std::unexpected(*first_error);
  }
  return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                   std::to_string(token) + "; nothing changed");
}

Result<void> RedisStore::break_lock(std::string_view name, std::uint64_t token) {
  return run_break(name, token, "");
}

Result<void> RedisStore::break_lease(const LockInfo& seen) {
  if (seen.holder && seen.holder->foreign && seen.holder->owner.starts_with("cronlock:")) {
    // A lock cronlock wrote: fenced by the exact value seen.
    if (auto ok = check_name(seen.name); !ok) {
      return std::unexpected(ok.error());
    }
    return run_break(seen.name, 0, seen.holder->owner.substr(9));
  }
  return Store::break_lease(seen);
}

Result<SlotClaim> RedisStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                         std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = layout_.check_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string me = slot_claimant();
  const std::string key = layout_.slot_key(job, slot.time_since_epoch().count());
  const std::vector<std::string> args = {me, std::to_string(slot.time_since_epoch().count()),
                                         std::to_string(retention.count())};
  // Redlock: the nodes in a fixed order, stopping at the first one that names someone else, so
  // that the first node's choice carries on and racing callers cannot split the nodes between
  // them (exactly one winner while all nodes answer; at most one always).
  std::size_t won = 0;
  SlotClaim out;
  const Error* first_error = nullptr;
  std::vector<Result<RedisReply>> answers;
  answers.reserve(nodes_.size());
  for (const auto& node : nodes_) {
    answers.push_back(node->run(slot_script(), {key}, args, Patience::patient));
    const auto& a = answers.back();
    if (!a) {
      first_error = first_error != nullptr ? first_error : &a.error();
      continue;
    }
    if (a->elements.size() == 2 && integer_of(a->elements[0]) == 1) {
      ++won;
      continue;
    }
    if (a->elements.size() == 2) {
      out.claimed_by = a->elements[1].str;
    }
    break;
  }
  if (won < quorum() && out.claimed_by.empty() && first_error != nullptr) {
    return std::unexpected(*first_error);  // too few nodes answered to know
  }
  out.won = won >= quorum();
  if (out.won) {
    out.claimed_by = me;
  }
  return out;
}

}  // namespace heartlock::detail
