// ExpiryScans: when a FileStore write (claim_slot, put_run_record) must scan the directory for a
// job's files past their retention, instead of scanning at every write.
#ifndef HEARTLOCK_FILE_EXPIRY_SCANS_H_
#define HEARTLOCK_FILE_EXPIRY_SCANS_H_

#include <algorithm>
#include <cstddef>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace heartlock::detail {

// Remembers, per kind of file and job (a file-name prefix such as "<encoded job>@" plus a kind
// tag), the oldest slot this store knows to be in the directory and when (wall clock) it last
// scanned it. A write scans when:
//   - it knows nothing of the prefix (never scanned, the last scan failed, or forgotten);
//   - a file it knows of is past its retention by more than a grace of 1/16 of the retention
//     (so that a steady stream of expiring files does not make every write scan);
//   - the grace has passed on the wall clock since the last scan began, or kRescanEvery writes
//     were made without a scan: files other processes wrote, which this store does not know of.
// So no file is removed before its retention ends, and a file past it is removed by the first
// write of its job with that retention made at least retention + retention/16 after its slot
// (or sooner), whoever wrote it. All times are epoch seconds.
//
// Thread-safety: all methods may be called concurrently; scans of one prefix may overlap (a file
// added while any of them runs is kept in `pending` and never forgotten). Memory: one small entry
// per prefix with files left, at most kMaxEntries (past that all are forgotten: a forgotten
// prefix only costs its next write a scan).
class ExpiryScans {
 public:
  static constexpr int kRescanEvery = 64;
  static constexpr std::size_t kMaxEntries = 4096;

  // Whether this write, made at `now` and keeping files with a slot of `oldest_kept` or later,
  // must scan. `retention_s` is the write's retention in seconds. When true, the caller scans and
  // then calls scanned() with the same `now`, whether the scan worked or not.
  bool scan_due(const std::string& key, long long now, long long oldest_kept,
                long long retention_s) {
    std::lock_guard lock(mu_);
    if (known_.size() >= kMaxEntries && !known_.contains(key)) {
      known_.clear();
    }
    Known& k = known_[key];
    const long long grace = retention_s / 16;
    bool due = !k.scanned || now - k.scanned_at >= grace || k.oldest < oldest_kept - grace;
    if (++k.writes >= kRescanEvery) {
      due = true;
    }
    if (due && k.in_flight++ == 0) {
      k.pending = kNone;  // what is added from now on, the scan may miss
    }
    return due;
  }

  // After the scan scan_due() asked for, begun at `began`: `oldest` is the oldest slot it left in
  // the directory (kNone if none), nullopt if it could not read the directory (the next write
  // scans again).
  void scanned(const std::string& key, long long began, std::optional<long long> oldest) {
    std::lock_guard lock(mu_);
    auto it = known_.find(key);
    if (it == known_.end()) {
      return;  // forgotten meanwhile (kMaxEntries)
    }
    Known& k = it->second;
    k.in_flight = std::max(k.in_flight - 1, 0);
    if (oldest) {
      k.oldest = std::min(*oldest, k.pending);
      k.scanned_at = std::max(k.scanned_at, began);
      k.writes = 0;
      k.scanned = true;
    }
    if (k.in_flight == 0 && k.scanned && k.oldest == kNone) {
      known_.erase(it);  // nothing left to expire: the next write scans once more
    }
  }

  // After a file for `slot` was written (or found) under `key`.
  void added(const std::string& key, long long slot) {
    std::lock_guard lock(mu_);
    auto it = known_.find(key);
    if (it != known_.end()) {
      it->second.oldest = std::min(it->second.oldest, slot);
      it->second.pending = std::min(it->second.pending, slot);
    }
  }

  static constexpr long long kNone = std::numeric_limits<long long>::max();

 private:
  struct Known {
    long long oldest = kNone;  // valid once scanned
    // The oldest slot added since the first of the scans in flight began.
    long long pending = kNone;
    long long scanned_at = std::numeric_limits<long long>::min();  // when the last scan began
    int writes = 0;                                                // since the last scan
    int in_flight = 0;                                             // scans begun, not ended
    bool scanned = false;
  };

  std::mutex mu_;
  std::unordered_map<std::string, Known> known_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_EXPIRY_SCANS_H_
