// Where a lock's keys live on Redis, in heartlock's own layout or in cronlock's.
//
// heartlock (default), under the URL's prefix (default "heartlock:"):
//   <prefix>lock:<name>      a hash: owner, token, host, pid, command, ttl_ms, stale_after_ms,
//                            state, acquired_ms / renewed_ms / heartbeat_ms (server clock); it
//                            carries the lease's ttl (PEXPIRE), so the server frees a dead holder
//   <prefix>fence:<name>     the fencing counter (INCR); no ttl: tokens grow over every
//                            acquisition the server remembers (persist it, or tokens restart
//                            with an empty server)
//   <prefix>released:<name>  the pub/sub channel that wakes waiters on release
//   <prefix>slot:<job>@<epoch s>  who claimed that schedule slot; expires after the retention
//   <prefix>last-slot:<job>  the latest slot claimed for the job (epoch s); expires with the
//                            latest-expiring record claimed since
//   <prefix>run:<job>@<epoch s>  the run ledger's entry of that slot (Store::put_run_record):
//                            the caller's data; expires after the retention
//   <prefix>run-index:<job>  a sorted set of the job's entries: member <epoch s>, score -epoch
//   <prefix>run-index        a sorted set of every job's entries: member <epoch s>@<job>, score
//                            -epoch, so that ZRANGE lists them newest first and, within a slot,
//                            by job name (equal scores sort by member bytes); both expire with
//                            the latest-expiring entry written since
// cronlock (compat=cronlock; cronlock's prefix is "cronlock."):
//   <prefix><name>                  the deadline in epoch seconds, as cronlock reads and writes it
//   <prefix><name>:heartlock        heartlock's owner record (the hash above, plus deadline_s)
//   <prefix><name>:heartlock:fence  the fencing counter
//   <prefix><name>:heartlock:released
//   <prefix><job>:heartlock:slot:<epoch s>
//   <prefix><job>:heartlock:last-slot
//   <prefix><job>:heartlock:run:<epoch s>
//   <prefix><job>:heartlock:run-index
//   <prefix>:heartlock:run-index    (no job is empty, and none contains ":heartlock")
// In cronlock's layout a name is a key, so a name containing ":heartlock" could be another lock's
// record, counter or slot (`foo:heartlock:fence` once reset foo's tokens): such names are
// refused. heartlock's layout puts each kind under its own prefix, so no name can collide.
#ifndef HEARTLOCK_REDIS_LAYOUT_H_
#define HEARTLOCK_REDIS_LAYOUT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/store.h"

#include "scripts.h"

namespace heartlock::detail {

class RedisLayout {
 public:
  RedisLayout(std::string prefix, bool cronlock)
      : prefix_(std::move(prefix)), cronlock_(cronlock) {}

  // KEYS for every script: lock, meta, fence, channel. Each key is one allocation.
  std::vector<std::string> keys(std::string_view name) const {
    if (cronlock_) {
      return {join(name, ""), join(name, ":heartlock"), join(name, ":heartlock:fence"),
              join(name, ":heartlock:released")};
    }
    return {join("lock:", name), join("lock:", name), join("fence:", name),
            join("released:", name)};
  }
  // validate_name(), and in cronlock's layout no ":heartlock" inside (see above).
  Result<void> check_name(std::string_view name) const {
    if (auto ok = validate_name(name); !ok) {
      return ok;
    }
    if (cronlock_ && name.find(kReserved) != std::string_view::npos) {
      return fail(Errc::invalid_argument,
                  "lock name '" + std::string(name) + "' contains '" + std::string(kReserved) +
                      "', which cronlock's key layout keeps for heartlock's own keys");
    }
    return {};
  }
  std::string lock_key(std::string_view name) const {
    return cronlock_ ? join(name, "") : join("lock:", name);
  }
  // The record of one schedule slot of a job (see Store::claim_slot).
  std::string slot_key(std::string_view job, long long slot) const {
    return cronlock_ ? prefix_ + std::string(job) + ":heartlock:slot:" + std::to_string(slot)
                     : prefix_ + "slot:" + std::string(job) + "@" + std::to_string(slot);
  }
  // The latest slot claimed for a job (see Store::last_slot), kept by the slot script.
  std::string last_slot_key(std::string_view job) const {
    return cronlock_ ? prefix_ + std::string(job) + ":heartlock:last-slot"
                     : prefix_ + "last-slot:" + std::string(job);
  }
  std::string channel(std::string_view name) const {
    return cronlock_ ? join(name, ":heartlock:released") : join("released:", name);
  }

  // The run ledger (see above). An entry's key is run_key_head() + job + run_key_middle() +
  // epoch: the ledger scripts build it from an index member the same way.
  std::string run_key_head() const { return cronlock_ ? prefix_ : prefix_ + "run:"; }
  std::string run_key_middle() const { return cronlock_ ? ":heartlock:run:" : "@"; }
  std::string run_key(std::string_view job, long long slot) const {
    return run_key_head() + std::string(job) + run_key_middle() + std::to_string(slot);
  }
  // The index of one job's entries, and of every job's.
  std::string run_index_key(std::string_view job) const {
    return cronlock_ ? prefix_ + std::string(job) + ":heartlock:run-index"
                     : prefix_ + "run-index:" + std::string(job);
  }
  std::string all_runs_index_key() const {
    return cronlock_ ? prefix_ + ":heartlock:run-index" : prefix_ + "run-index";
  }

  const RedisScripts& scripts() const { return cronlock_ ? cronlock_scripts() : native_scripts(); }

  // SCAN pattern that finds every lock's name, and the name a matching key belongs to (nullopt:
  // not a lock's key).
  std::string scan_pattern() const { return cronlock_ ? prefix_ + "*" : prefix_ + "fence:*"; }
  std::optional<std::string> name_of(std::string_view key) const {
    if (!key.starts_with(prefix_)) {
      return std::nullopt;
    }
    key.remove_prefix(prefix_.size());
    if (!cronlock_) {
      return key.starts_with("fence:") ? std::optional<std::string>(key.substr(6)) : std::nullopt;
    }
    // cronlock: lock keys (written by either tool) and heartlock's counters (locks now free).
    const std::string kFence = std::string(kReserved) + ":fence";
    if (key.ends_with(kFence)) {
      return std::string(key.substr(0, key.size() - kFence.size()));
    }
    if (key.find(kReserved) != std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(key);
  }

 private:
  static constexpr std::string_view kReserved = ":heartlock";

  // prefix_ + a + b.
  std::string join(std::string_view a, std::string_view b) const {
    std::string out;
    out.reserve(prefix_.size() + a.size() + b.size());
    out.append(prefix_).append(a).append(b);
    return out;
  }

  std::string prefix_;
  bool cronlock_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_LAYOUT_H_
