// EtcdStore::claim_slot: who runs one schedule slot of a job (Store::claim_slot), by one
// transaction that also drops the job's records past the retention; EtcdStore::last_slot.
#include <algorithm>
#include <charconv>
#include <optional>

#include "../core/slots.h"
#include "etcd_replies.h"
#include "etcd_store.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;

// The directory of a job's slot keys.
std::string slot_dir(const std::string& prefix, std::string_view job) {
  return prefix + "slot/" + key_segment(job) + "/";
}

}  // namespace

Result<SlotClaim> EtcdStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                        std::chrono::seconds retention) {
  return guarded(*client_, [&] { return claim_slot_checked(job, slot, retention); });
}

Result<SlotClaim> EtcdStore::claim_slot_checked(std::string_view job, std::chrono::sys_seconds slot,
                                                std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  // etcd has no clock of its own to offer: the retention is measured on this host's clock.
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const long long oldest_kept = (now - retention).time_since_epoch().count();
  if (slot.time_since_epoch().count() < oldest_kept) {
    return SlotClaim{.won = false, .claimed_by = "(slot older than the retention)"};
  }
  const std::string dir = slot_dir(prefix_, job);
  const std::string key = dir + padded_epoch(slot.time_since_epoch().count());
  const std::string me = slot_claimant();
  // One transaction: drop the job's records past the retention, claim the slot if nobody has.
  json gc = {{"request_delete_range",
              {{"key", base64_encode(dir)},
               {"range_end", base64_encode(dir + padded_epoch(oldest_kept))}}}};
  json txn = {
      {"compare", json::array({created_at(key, "0")})},
      {"success",
       {{{"request_put", {{"key", base64_encode(key)}, {"value", base64_encode(me)}}}}, gc}},
      {"failure", {{{"request_range", {{"key", base64_encode(key)}}}}, gc}}};
  auto r = client_->call("kv/txn", txn);
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto succeeded = reply_bool(*r, "succeeded", server);
  if (!succeeded) {
    return std::unexpected(succeeded.error());
  }
  if (*succeeded) {
    return SlotClaim{.won = true, .claimed_by = me};
  }
  auto kv = txn_range_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  SlotClaim lost;
  if (*kv != nullptr) {
    auto value = reply_string(**kv, "value", server);
    if (!value) {
      return std::unexpected(value.error());
    }
    lost.claimed_by = base64_decode(*value);
  }
  return lost;
}

Result<std::optional<std::chrono::sys_seconds>> EtcdStore::last_slot(std::string_view job) {
  return guarded(*client_, [&] { return last_slot_checked(job); });
}

// One range over the job's slot keys, newest first, one key: the padded epochs sort as numbers.
Result<std::optional<std::chrono::sys_seconds>> EtcdStore::last_slot_checked(std::string_view job) {
  if (auto ok = validate_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string dir = slot_dir(prefix_, job);
  auto r = client_->call("kv/range", {{"key", base64_encode(dir)},
                                      {"range_end", base64_encode(range_end(dir))},
                                      {"limit", 1},
                                      {"sort_order", "DESCEND"},
                                      {"sort_target", "KEY"},
                                      {"keys_only", true}});
  if (!r) {
    return std::unexpected(r.error());
  }
  const std::string server = client_->endpoint();
  auto kv = first_kv(*r, server);
  if (!kv) {
    return std::unexpected(kv.error());
  }
  if (*kv == nullptr) {
    return std::optional<std::chrono::sys_seconds>();
  }
  auto key64 = reply_string(**kv, "key", server);
  if (!key64) {
    return std::unexpected(key64.error());
  }
  const std::string key = base64_decode(*key64);
  const std::string_view epoch = std::string_view(key).substr(std::min(dir.size(), key.size()));
  long long slot = 0;
  auto [end, ec] = std::from_chars(epoch.data(), epoch.data() + epoch.size(), slot);
  if (!key.starts_with(dir) || epoch.empty() || ec != std::errc() ||
      end != epoch.data() + epoch.size()) {
    return std::unexpected(
        bad_etcd_reply(server, "the newest key under " + dir + " does not end in a slot's epoch"));
  }
  return std::optional(std::chrono::sys_seconds(std::chrono::seconds(slot)));
}

}  // namespace heartlock::detail
