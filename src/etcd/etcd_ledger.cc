// EtcdStore's run ledger (Store::put_run_record, Store::run_records). Keys, under the prefix:
//   run/<job>/<12 digits: 999999999999 - slot>         the entry (the caller's data)
//   run-index/<12 digits: 999999999999 - slot>/<job>   a copy, in every job's order
// ('/' and '%' in <job> %-encoded, as for slot keys). The slot is stored inverted so that a
// range in etcd's natural key order -- the one a limit applies to without reading the whole
// range, unlike a sorted one -- lists the newest first. An entry and its copy are written in one
// transaction. Retention, on this host's clock as for slots (etcd has none to offer): each write
// first finds the job's entries older than its retention (a bounded keys-only range) and removes
// them and their copies in the same transaction as the write, as claim_slot does with slot
// records: the write's retention decides, and a job nobody writes any more keeps its entries
// (run_records may report them). One lease per entry would cost a round trip per write and a
// lease per entry kept.
#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <set>

#include "../core/ledger_rules.h"
#include "etcd_replies.h"
#include "etcd_store.h"

namespace heartlock::detail {
namespace {

using nlohmann::json;

constexpr long long kNewest = 999'999'999'999;  // 12 digits: slots up to the year 33658
// Key-values asked for per range: 256 entries of at most 4 KiB (base64: 5.5) stay near 1.5 MiB,
// far below kMaxEtcdReplyBytes, whatever `limit` the caller gives.
constexpr long long kPageEntries = 256;
// A write removes at most this many expired entries of its job (the next write takes the rest):
// with their copies and the write itself, 2 + 2 * 32 operations, within etcd's default limit of
// 128 per transaction (--max-txn-ops).
constexpr long long kGcEntries = 32;

std::string inverted(long long slot) {
  return padded_epoch(kNewest - std::clamp(slot, 0LL, kNewest));
}

// The slot of a key's inverted 12 digits; nullopt for anything else.
std::optional<long long> slot_of(std::string_view digits) {
  long long inv = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), inv);
  if (digits.size() != 12 || ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return kNewest - inv;
}

struct KeyValue {
  std::string key;
  std::string value;
};

json range_request(const std::string& from, const std::string& end, long long limit,
                   bool keys_only) {
  json r = {{"key", base64_encode(from)}, {"range_end", base64_encode(end)}, {"limit", limit}};
  if (keys_only) {
    r["keys_only"] = true;
  }
  return r;
}

// The key-values in [from, end), in key order, at most `limit`, a page at a time.
Result<std::vector<KeyValue>> range_kvs(EtcdClient& client, std::string from,
                                        const std::string& end, std::size_t limit,
                                        bool keys_only = false) {
  std::vector<KeyValue> out;
  while (out.size() < limit) {
    const auto want = static_cast<long long>(
        std::min(limit - out.size(), static_cast<std::size_t>(kPageEntries)));
    auto r = client.call("kv/range", range_request(from, end, want, keys_only));
    if (!r) {
      return std::unexpected(r.error());
    }
    const std::string server = client.endpoint();
    auto kvs = reply_array(*r, "kvs", server);
    if (!kvs) {
      return std::unexpected(kvs.error());
    }
    for (const auto& kv : **kvs) {
      auto key = kv.is_object() ? reply_string(kv, "key", server)
                                : Result<std::string>(std::unexpected(
                                      bad_etcd_reply(server, "'kvs' holds a non-object")));
      auto value = key ? reply_string(kv, "value", server) : key;
      if (!value) {
        return std::unexpected(value.error());
      }
      out.push_back(KeyValue{base64_decode(*key), base64_decode(*value)});
    }
    auto more = reply_bool(*r, "more", server);
    if (!more) {
      return std::unexpected(more.error());
    }
    if (!*more || (*kvs)->empty()) {
      break;
    }
    from = out.back().key + '\0';
  }
  return out;
}

}  // namespace

std::string EtcdStore::run_dir(std::string_view job) const {
  return prefix_ + "run/" + key_segment(job) + "/";
}

std::string EtcdStore::run_index_dir() const { return prefix_ + "run-index/"; }

Result<void> EtcdStore::put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                                       std::string_view data, std::chrono::seconds retention) {
  return guarded(*client_, [&] { return put_run_record_checked(job, slot, data, retention); });
}

Result<void> EtcdStore::put_run_record_checked(std::string_view job, std::chrono::sys_seconds slot,
                                               std::string_view data,
                                               std::chrono::seconds retention) {
  if (auto ok = check_run_record(job, retention, data); !ok) {
    return ok;
  }
  const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  const long long oldest_kept = (now - retention).time_since_epoch().count();
  const long long epoch = slot.time_since_epoch().count();
  const std::string dir = run_dir(job);
  const std::string segment = key_segment(job);
  auto index_key = [&](const std::string& inv) { return run_index_dir() + inv + "/" + segment; };
  std::set<std::string> removed;  // entries and their copies
  if (oldest_kept > 0) {
    // Entries older than oldest_kept have larger inverted slots: they come after it. Each goes
    // with its copy, so a bounded number per write (the next write takes the rest).
    const std::string old_from = dir + padded_epoch(kNewest - std::min(oldest_kept, kNewest) + 1);
    auto old = range_kvs(*client_, old_from, range_end(dir), kGcEntries, true);
    if (!old) {
      return std::unexpected(old.error());
    }
    for (const auto& kv : *old) {
      removed.insert(kv.key);
      removed.insert(index_key(kv.key.substr(std::min(dir.size(), kv.key.size()))));
    }
  }
  json ops = json::array();
  const std::string key = dir + inverted(epoch);
  if (epoch >= oldest_kept) {
    for (const auto& k : {key, index_key(inverted(epoch))}) {
      ops.push_back({{"request_put", {{"key", base64_encode(k)}, {"value", base64_encode(data)}}}});
    }
  } else {
    removed.insert(key);  // already past its retention
    removed.insert(index_key(inverted(epoch)));
  }
  for (const auto& k : removed) {
    ops.push_back({{"request_delete_range", {{"key", base64_encode(k)}}}});
  }
  auto r = client_->call("kv/txn", {{"success", ops}});
  if (!r) {
    return std::unexpected(r.error());
  }
  return {};
}

Result<std::vector<RunRecordText>> EtcdStore::run_records(std::string_view job, std::size_t limit) {
  return guarded(*client_, [&] { return run_records_checked(job, limit); });
}

Result<std::vector<RunRecordText>> EtcdStore::run_records_checked(std::string_view job,
                                                                  std::size_t limit) {
  if (auto ok = check_run_query(job); !ok) {
    return std::unexpected(ok.error());
  }
  if (limit == 0) {
    return std::vector<RunRecordText>();
  }
  const std::string dir = job.empty() ? run_index_dir() : run_dir(job);
  auto kvs = range_kvs(*client_, dir, range_end(dir), limit);
  if (!kvs) {
    return std::unexpected(kvs.error());
  }
  if (job.empty() && kvs->size() == limit) {
    // Within one slot the copies sort by the encoded job name, which is not quite the order of the
    // names ('%' sorts before '&'): the rest of the last slot's copies may belong before some
    // already read. Bounded by the jobs that share that slot.
    const std::string group = kvs->back().key.substr(0, dir.size() + 13);
    auto rest = range_kvs(*client_, kvs->back().key + '\0', range_end(group),
                          std::numeric_limits<std::size_t>::max());
    if (!rest) {
      return std::unexpected(rest.error());
    }
    kvs->insert(kvs->end(), rest->begin(), rest->end());
  }
  std::vector<RunRecordText> out;
  out.reserve(kvs->size());
  for (auto& kv : *kvs) {
    const std::string_view rest =
        std::string_view(kv.key).substr(std::min(dir.size(), kv.key.size()));
    std::optional<long long> slot = slot_of(job.empty() ? rest.substr(0, 12) : rest);
    std::optional<std::string> name =
        job.empty() ? (rest.size() > 13 && rest[12] == '/' ? key_segment_name(rest.substr(13))
                                                           : std::nullopt)
                    : std::optional<std::string>(job);
    if (!kv.key.starts_with(dir) || !slot || !name) {
      return std::unexpected(
          bad_etcd_reply(client_->endpoint(), "a key under " + dir + " is not a run record's"));
    }
    out.push_back(RunRecordText{.job = std::move(*name),
                                .slot = std::chrono::sys_seconds(std::chrono::seconds(*slot)),
                                .data = std::move(kv.value)});
  }
  order_run_records(out, limit);
  return out;
}

}  // namespace heartlock::detail
