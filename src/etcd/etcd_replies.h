// What the etcd store's files share: the bounds of what a reply or record may hold, the boundary
// that turns a nlohmann exception into an error, and readers of the key-values in range and txn
// replies.
#ifndef HEARTLOCK_ETCD_ETCD_REPLIES_H_
#define HEARTLOCK_ETCD_ETCD_REPLIES_H_

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "etcd_client.h"

namespace heartlock::detail {

inline constexpr long long kMaxInt64 = std::numeric_limits<long long>::max();

// The last resort at the API boundary: a nlohmann exception -- a reply of a shape the checked
// readers (etcd_client.h) did not foresee, or a dump() of a string that is not UTF-8 -- becomes
// Errc::unavailable instead of crossing include/heartlock/.
template <class F>
auto guarded(EtcdClient& client, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::unavailable, "etcd " + client.endpoint() + ": " + e.what());
  }
}

// The first key-value of a range reply's "kvs", or nullptr when there is none. Errc::unavailable
// for a reply of the wrong shape.
Result<const nlohmann::json*> first_kv(const nlohmann::json& range, std::string_view server);

// The first key-value a failed transaction's range request found (its first response), or
// nullptr when there is none. Errc::unavailable for a reply of the wrong shape.
Result<const nlohmann::json*> txn_range_kv(const nlohmann::json& reply, std::string_view server);

// A txn compare: `key` exists with create revision `revision` ("0": does not exist).
nlohmann::json created_at(const std::string& key, const std::string& revision);

// The end of the range of every key starting with `prefix`: the prefix with its last byte
// incremented.
std::string range_end(std::string prefix);

// A job name as one segment of a key: '/' and '%' %-encoded, so that one job's keys never share a
// prefix with another's; key_segment_name() reverses it (nullopt: not what key_segment() writes).
std::string key_segment(std::string_view job);
std::optional<std::string> key_segment_name(std::string_view segment);

// An epoch in seconds as 12 digits (0 for a negative one), so keys sort as the numbers do.
std::string padded_epoch(long long epoch);

// The lease ttl in whole seconds, rounded up (etcd raises it to its own minimum).
long long ttl_seconds(std::chrono::milliseconds ttl);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_REPLIES_H_
