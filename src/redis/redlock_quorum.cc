#include "redlock_quorum.h"

#include "../core/io_deadline.h"
#include "reply_values.h"

namespace heartlock::detail {

Result<std::optional<LostReason>> quorum_fate(const std::vector<Result<RedisReply>>& answers,
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
                                           const RedisArgs& keys, const RedisArgs& args,
                                           RedisClient::Patience patience) {
  std::vector<Result<RedisReply>> out;
  out.reserve(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    ScopedIoDeadline share(node_share(i, nodes.size()));
    out.push_back(nodes[i]->run(script, keys, args, patience));
  }
  return out;
}

}  // namespace heartlock::detail
