// RedisStore::claim_slot: who runs one schedule slot of a job (Store::claim_slot), on one server
// or a Redlock's majority.
#include "../core/slots.h"
#include "redis_store.h"
#include "reply_values.h"

namespace heartlock::detail {

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
    answers.push_back(node->run(slot_script(), {key}, args, RedisClient::Patience::patient));
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
