// ExpiryScans: when a FileStore write (claim_slot, put_run_record) must scan the directory for a
// job's files past their retention, instead of scanning at every write.
#ifndef HEARTLOCK_FILE_EXPIRY_SCANS_H_
#define HEARTLOCK_FILE_EXPIRY_SCANS_H_

#include <algorithm>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>

namespace heartlock::detail {

// Remembers, per kind of file and job (a file-name prefix such as "<encoded job>@" plus a kind
// tag), the oldest slot this store knows to be in the directory. A write scans when it has never
// scanned that prefix, when a file it knows of is past its retention (give or take a grace of
// 1/16 of the retention, so that a steady stream of expiring files does not make every write
// scan), or after kRescanEvery writes without a scan (files other processes wrote, which this
// store does not know of). So a file is never removed before its retention ends, and an expired
// one within kRescanEvery writes or the grace.
//
// Thread-safety: all methods may be called concurrently. Memory: one small entry per prefix.
class ExpiryScans {
 public:
  static constexpr int kRescanEvery = 64;

  // Whether this write, which keeps files with a slot of `oldest_kept` (epoch seconds) or later,
  // must scan. `retention_s` is the write's retention in seconds.
  bool scan_due(const std::string& key, long long oldest_kept, long long retention_s) {
    std::lock_guard lock(mu_);
    auto it = known_.find(key);
    if (it == known_.end()) {
      return true;
    }
    Known& k = it->second;
    if (++k.writes >= kRescanEvery) {
      return true;
    }
    const long long grace = retention_s / 16;
    return k.oldest < oldest_kept - grace;
  }

  // After a scan: `oldest` is the oldest slot left in the directory (max() if none).
  void scanned(const std::string& key, long long oldest) {
    std::lock_guard lock(mu_);
    known_[key] = Known{.oldest = oldest, .writes = 0};
  }

  // After a file for `slot` was written (or found) under `key`.
  void added(const std::string& key, long long slot) {
    std::lock_guard lock(mu_);
    auto it = known_.find(key);
    if (it != known_.end()) {
      it->second.oldest = std::min(it->second.oldest, slot);
    }
  }

 private:
  struct Known {
    long long oldest = std::numeric_limits<long long>::max();
    int writes = 0;
  };

  std::mutex mu_;
  std::unordered_map<std::string, Known> known_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_EXPIRY_SCANS_H_
