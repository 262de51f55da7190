#include "redis_lease.h"

#include <algorithm>

#include "../core/io_deadline.h"
#include "redlock_quorum.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

bool is_noscript(const Result<std::vector<RedisReply>>& replies, std::size_t i) {
  return replies && (*replies)[i].is_error() && (*replies)[i].str.starts_with("NOSCRIPT");
}

// The server does not know the script (first use, or it restarted): load it once and send the
// commands it refused again in one pipeline -- not one round trip per lease, which with thousands
// of leases after a restart would outlast their ttl. Their replies replace the NOSCRIPT errors.
void retry_noscript(RedisClient& node, const RedisScript& script,
                    const std::vector<RedisCommand>& commands,
                    Result<std::vector<RedisReply>>& replies) {
  std::vector<std::size_t> again;
  std::vector<RedisCommand> retry = {{"SCRIPT", "LOAD", std::string(script.source)}};
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (is_noscript(replies, i)) {
      again.push_back(i);
      retry.push_back(commands[i]);
    }
  }
  auto retried = node.commands(retry);
  for (std::size_t k = 0; k < again.size(); ++k) {
    if (!retried) {
      (*replies)[again[k]] =
          RedisReply{.type = RedisReply::Type::error, .str = retried.error().message};
    } else {
      (*replies)[again[k]] = std::move((*retried)[k + 1]);
    }
  }
}

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
    bool any_noscript = false;
    for (std::size_t i = 0; i < leases.size() && !any_noscript; ++i) {
      any_noscript = is_noscript(replies, i);
    }
    if (any_noscript) {
      retry_noscript(*node, scripts_.renew, commands, replies);
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
    out.push_back(quorum_fate(a, quorum_));
  }
  return out;
}

Result<std::optional<LostReason>> RedisLease::renew(BootTime last_heartbeat) {
  return quorum_fate(run_on_all(nodes_, scripts_.renew, keys_, renew_args(last_heartbeat)),
                     quorum_);
}

std::vector<std::string> RedisLease::renew_args(BootTime last_heartbeat) const {
  auto age = std::chrono::duration_cast<milliseconds>(boot_now() - last_heartbeat);
  return {owner_, std::to_string(ttl_.count()),
          std::to_string(std::max<long long>(0, age.count()))};
}

Result<std::optional<LostReason>> RedisLease::release(std::chrono::nanoseconds hold_for) {
  auto hold = std::chrono::ceil<milliseconds>(hold_for);
  return quorum_fate(
      run_on_all(nodes_, scripts_.release, keys_, {owner_, std::to_string(hold.count())}), quorum_);
}

}  // namespace heartlock::detail
