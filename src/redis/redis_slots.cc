// RedisStore::claim_slot: who runs one schedule slot of a job (Store::claim_slot), on one server
// or a Redlock's majority; and RedisStore::last_slot, from the key the slot script keeps.
#include <algorithm>
#include <charconv>
#include <optional>

#include "../core/slots.h"
#include "redis_store.h"
#include "reply_values.h"

namespace heartlock::detail {
namespace {

// The slot a node's reply to GET of the last-slot key names (nullopt: no key). Errc::unavailable
// for an error reply or a value that is not an epoch: the key is the slot script's alone.
Result<std::optional<long long>> last_slot_of(const RedisReply& reply, const std::string& where,
                                              const std::string& key) {
  if (reply.is_error()) {
    return std::unexpected(redis_reply_error(where, reply));
  }
  if (reply.type == RedisReply::Type::nil) {
    return std::optional<long long>();
  }
  long long slot = 0;
  const std::string& v = reply.str;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), slot);
  if (reply.type != RedisReply::Type::string || ec != std::errc() || end != v.data() + v.size()) {
    return fail(Errc::unavailable, "redis " + key + " at " + where + " holds '" + v.substr(0, 40) +
                                       "', not a slot's epoch");
  }
  return std::optional(slot);
}

}  // namespace

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
    answers.push_back(node->run(slot_script(), {key, layout_.last_slot_key(job)}, args,
                                RedisClient::Patience::patient));
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

// One GET of the job's last-slot key per node. On Redlock a slot that was won was recorded on a
// majority of the nodes (the slot script raises the key on each), and any majority shares a node
// with that one: the largest answer of a majority is at least every slot won.
Result<std::optional<std::chrono::sys_seconds>> RedisStore::last_slot(std::string_view job) {
  if (auto ok = layout_.check_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string key = layout_.last_slot_key(job);
  std::optional<long long> last;
  std::size_t answered = 0;
  std::optional<Error> first_error;
  for (const auto& node : nodes_) {
    auto r = node->commands({{"GET", key}}, RedisClient::Patience::patient);
    auto slot = r ? last_slot_of(r->front(), node->where(), key)
                  : Result<std::optional<long long>>(std::unexpected(r.error()));
    if (!slot) {
      first_error = first_error ? first_error : slot.error();
      continue;
    }
    ++answered;
    if (*slot) {
      last = std::max(last.value_or(**slot), **slot);
    }
  }
  if (answered < quorum()) {
    if (nodes_.size() == 1) {
      return std::unexpected(*first_error);
    }
    return fail(Errc::unavailable,
                "Redlock " + url_ + ": only " + std::to_string(answered) + " of " +
                    std::to_string(nodes_.size()) + " nodes answered GET " + key + " and " +
                    std::to_string(quorum()) + " are needed: " + first_error->message);
  }
  if (!last) {
    return std::optional<std::chrono::sys_seconds>();
  }
  return std::optional(std::chrono::sys_seconds(std::chrono::seconds(*last)));
}

}  // namespace heartlock::detail
