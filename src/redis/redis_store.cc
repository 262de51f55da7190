#include "redis_store.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <span>

#include "../core/process_identity.h"
#include "redis_lease.h"
#include "redlock_quorum.h"
#include "reply_values.h"

namespace heartlock::detail {

// What the nodes answered to the acquire script.
struct RedisVotes {
  std::vector<std::size_t> granted;  // the nodes that granted the lock
  std::uint64_t token = 0;           // the largest of their fencing counters
  std::optional<LockInfo> busy;      // the holder the first refusing node named
  std::optional<Error> first_error;  // the first node that did not answer
};

namespace {

using std::chrono::milliseconds;
using Patience = RedisClient::Patience;

// The answers to the acquire script, counted. Errc::internal for a reply of the wrong shape.
Result<RedisVotes> count_votes(const std::vector<Result<RedisReply>>& answers,
                               std::string_view name, const std::string& location) {
  RedisVotes votes;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i]) {
      if (!votes.first_error) {
        votes.first_error = answers[i].error();
      }
      continue;
    }
    const auto& e = answers[i]->elements;
    if (answers[i]->type != RedisReply::Type::array || e.empty() ||
        (integer_of(e[0]) == 1 ? e.size() < 2 : e.size() < 4)) {
      return fail(Errc::internal, "redis: unexpected reply to the acquire script");
    }
    if (integer_of(e[0]) == 1) {
      votes.granted.push_back(i);
      votes.token = std::max(votes.token, static_cast<std::uint64_t>(integer_of(e[1])));
    } else if (!votes.busy) {
      votes.busy = describe_redis(name, e[1], integer_of(e[2]), integer_of(e[3]), location);
    }
  }
  return votes;
}

}  // namespace

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
  auto keys = layout_.keys(request.name);
  // The arguments as views: the numbers written into buffers on the stack, nothing copied.
  std::array<char, 24> ttl{};
  std::array<char, 24> pid{};
  std::array<char, 24> stale{};
  std::array<char, 24> slot{};
  const std::string_view args[] = {
      request.owner,
      decimal(ttl, o.ttl.count()),
      self.host,
      decimal(pid, self.pid),
      o.command,
      decimal(stale, o.stale_after.count()),
      o.slot ? decimal(slot, o.slot->time_since_epoch().count()) : std::string_view()};
  std::string where = url_ + " " + keys.front();  // location(request.name)
  const BootTime start = boot_now();
  auto votes = count_votes(run_on_all(nodes_, layout_.scripts().acquire, keys,
                                      std::span<const std::string_view>(args), Patience::patient),
                           request.name, where);
  if (!votes) {
    return std::unexpected(votes.error());
  }
  if (nodes_.size() == 1) {
    if (votes->first_error) {
      return std::unexpected(*votes->first_error);
    }
    return votes->granted.empty()
               ? Attempt(std::move(*votes->busy))
               : granted_claim(request, std::move(keys), votes->token, start, std::move(where));
  }
  return settle_redlock(request, keys, *votes, start);
}

Attempt RedisStore::granted_claim(const ClaimRequest& request, std::vector<std::string> keys,
                                  std::uint64_t token, BootTime start, std::string where) {
  return Attempt(Claim{
      .lease =
          std::make_unique<RedisLease>(nodes_, batch_, watch_, layout_.scripts(), std::move(keys),
                                       request.owner, request.options.ttl, quorum()),
      .token = token,
      .location = std::move(where),
      .acquired_at = start,
  });
}

Result<Attempt> RedisStore::settle_redlock(const ClaimRequest& request,
                                           const std::vector<std::string>& keys,
                                           const RedisVotes& votes, BootTime start) {
  const auto& o = request.options;
  const auto& granted = votes.granted;
  // Validity: what is left of the ttl after the round trips, less the clock drift that the
  // nodes' expiry timers may accumulate over a ttl (Redlock's 1% + 2 ms).
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
                             {request.owner, std::to_string(votes.token)});
    auto ok = quorum_fate(raised, quorum());
    if (ok && !ok->has_value() && boot_now() - start + drift < o.ttl) {
      return granted_claim(request, keys, votes.token, start, location(request.name));
    }
    why = "the fencing token could not be recorded on a majority";
  } else if (granted.size() >= quorum()) {
    why = "acquiring took longer than the ttl allows";
  }
  // Not held: give back what was granted (owner-fenced, so only ours).
  for (auto i : granted) {
    (void)nodes_[i]->run(layout_.scripts().release, keys, {request.owner, "0"});
  }
  if (votes.busy && why.empty()) {
    LockInfo busy = *votes.busy;
    busy.detail += " (Redlock: " + std::to_string(granted.size()) + " of " +
                   std::to_string(nodes_.size()) + " nodes were free)";
    return Attempt(std::move(busy));
  }
  if (why.empty()) {
    why = "only " + std::to_string(granted.size()) + " of " + std::to_string(nodes_.size()) +
          " nodes granted the lock and " + std::to_string(quorum()) + " are needed";
  }
  return fail(Errc::unavailable,
              "Redlock " + url_ + ": " + why +
                  (votes.first_error ? ": " + votes.first_error->message : std::string()));
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

}  // namespace heartlock::detail
