// Asking every node of a store and combining their answers: with one node, its answer; with the
// masters of a Redlock, what a quorum (N/2+1) says. Shared by the store and its leases.
#ifndef HEARTLOCK_REDIS_REDLOCK_QUORUM_H_
#define HEARTLOCK_REDIS_REDLOCK_QUORUM_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "heartlock/lease.h"

#include "../core/clock.h"
#include "client.h"

namespace heartlock::detail {

// The lease's fate from every node's answer to an owner-fenced script (1 done, 0 gone, -1 another
// owner's): done (nullopt) on a quorum, lost if a quorum can no longer be reached, otherwise the
// first node's error (unavailable or permission_denied: retry).
Result<std::optional<LostReason>> quorum_fate(const std::vector<Result<RedisReply>>& answers,
                                              std::size_t quorum);

// The I/O deadline for node `i` of `n` asked one after another: a share of the thread's I/O
// deadline (see redlock_quorum.cc), or kNoIoDeadline when there is none or for the last node.
BootTime node_share(std::size_t i, std::size_t n);

// Runs `script` on every node in turn, each under its node_share() of the I/O deadline; one
// answer per node, in order.
std::vector<Result<RedisReply>> run_on_all(
    const RedisNodes& nodes, const RedisScript& script, const RedisArgs& keys,
    const RedisArgs& args, RedisClient::Patience patience = RedisClient::Patience::once);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDLOCK_QUORUM_H_
