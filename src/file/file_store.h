// FileStore: the `file:` backend. Locks of one host live as files in one directory.
//
// Lock file: <dir>/<encoded name>.lock (see name_codec.h). The holder keeps an exclusive flock(2)
// lock on it; that is what util-linux flock(1) takes too, so `flock -n <lock file> cmd` and
// heartlock exclude each other both ways. A takeover of a deadlocked or expired holder renames a
// new, already-locked file over the path (the one atomic arbiter), so the old holder is fenced
// off; flock(1) processes already blocked on the old file are not excluded by that new file.
//
// Tokens: each record carries the token of its acquisition; the next acquisition writes token+1,
// so tokens increase per name over every acquisition while the file exists. (No fsync: on tmpfs
// such as /run/lock the files, and so the counters, start over at boot.)
#ifndef HEARTLOCK_FILE_FILE_STORE_H_
#define HEARTLOCK_FILE_FILE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "../core/leasing_store.h"
#include "expiry_scans.h"
#include "file_lease.h"
#include "lock_file.h"

namespace heartlock::detail {

// Opens (creating with mode 0700 if missing) the directory `path`. Errc::permission_denied if it
// is a symlink, not a directory, owned by another user, not writable, or writable by its group or
// others without the sticky bit.
Result<std::unique_ptr<Store>> open_file_store(std::string path, StoreOptions options);

// The directory default_file_url() names, as a path.
std::string default_lock_dir();

// A token for a lock whose record is unreadable while we hold it (someone overwrote the file):
// the last token is unknown, so use the wall clock in microseconds, and count on from there.
std::uint64_t fallback_token();

// Thread-safety: as Store. Owns its directory (LockDir, shared with its leases, which may outlive
// it) and a pool of idle inotify watches for its waiters.
//
// Where it lives: opening and claiming a lock file in file_store.cc, the release waiter and the
// watch pool in file_waiter.cc, the takeover of a stale holder in file_takeover.cc, inspect, list
// and break_lock in file_admin.cc, claim_slot and last_slot in slots.cc, the run ledger in
// run_ledger.cc.
class FileStore final : public LeasingStore {
 public:
  // `dir_id`: the identity of `dir` when it was opened at `path`.
  FileStore(std::string path, UniqueFd dir, FileId dir_id, StoreOptions options);
  ~FileStore() override;

  Result<std::vector<LockInfo>> list() override;
  Result<SlotClaim> claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                               std::chrono::seconds retention) override;
  Result<std::optional<std::chrono::sys_seconds>> last_slot(std::string_view job) override;
  Result<void> put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                              std::string_view data, std::chrono::seconds retention) override;
  Result<std::vector<RunRecordText>> run_records(std::string_view job, std::size_t limit) override;
  std::string url() const override { return "file://" + path_; }

 protected:
  Result<LockInfo> inspect_lock(std::string_view name) override;
  Result<void> break_lock(std::string_view name, std::uint64_t token) override;
  Result<Attempt> claim(const ClaimRequest& request) override;
  std::unique_ptr<ReleaseWaiter> release_waiter(std::string_view name) override;
  // True: a plain try that finds the lock busy closes its own fd to the lock file, a close event
  // that wakes every waiter watching the directory for one more try each; the Waiter keeps that
  // fd open instead, and costs little to make (an inotify watch from the pool).
  bool arm_before_first_try() const override { return true; }

 private:
  class Waiter;  // inotify on the directory, and the lock file kept open between tries

  // One try of claim() on the open lock file `fd`: the Attempt to return, or nullopt to try
  // again -- with `fd` closed when the file was replaced under us (open the new one), kept when
  // the flock was interrupted or the stale holder was just killed (`killed` set).
  // `path`: path_of(file), built once per claim.
  Result<std::optional<Attempt>> claim_step(const ClaimRequest& request, const std::string& file,
                                            const std::string& path, UniqueFd& fd, const FileId& id,
                                            bool& killed);
  // claim_step when somebody else holds the flock: busy, or kill (once) or take over a holder
  // that may be taken over. Same returns as claim_step.
  Result<std::optional<Attempt>> contend(const ClaimRequest& request, const std::string& file,
                                         UniqueFd& fd, const FileId& id, bool& killed);
  Result<Attempt> claim_locked(const ClaimRequest& request, const std::string& file,
                               const std::string& path, UniqueFd& fd, const FileId& id);
  Result<std::optional<Attempt>> take_over(const ClaimRequest& request, const std::string& file,
                                           int old_fd, const FileId& old_id, const LockInfo& seen);
  // Wraps a lock file we just took in a lease and looks at the paths once more: a move before
  // that look shows here; one after it when the lease's watch starts (FileLease::kArmDelay later,
  // and it checks the paths then), and at once after that. nullptr if the file was replaced or
  // moved meanwhile (fd closed; try again); Errc::unavailable if the directory is no longer at
  // its path.
  Result<std::unique_ptr<FileLease>> start_lease(const std::string& file, const std::string& path,
                                                 UniqueFd fd, const FileId& id, Record record);
  // Writes `record` to a new file (flocked first if `lock_it`) and renames it over `file`: the
  // one atomic step of a takeover or a broken lease. Never unlinks anything but its own temp.
  Result<UniqueFd> replace_file(const std::string& file, const Record& record, bool lock_it,
                                FileId& id);
  // Takes the guard on the lock file `fd` (an empty Guard unless `take_it`), then checks that
  // `file` is still the inode `id`: nullopt once it was renamed over or removed.
  Result<std::optional<Guard>> guard_current(int fd, const FileId& id, const std::string& file,
                                             bool take_it);
  // The token after `previous`: 1 for a new lock file, fallback_token() (logged) for an
  // unreadable record.
  std::uint64_t next_token(const ParsedRecord& previous, const std::string& path);
  // With kill_stale: kills the holder `seen` describes if the record in `fd` still names it.
  void kill_stale_holder(int fd, const LockInfo& seen, const LeaseOptions& options);
  Result<void> kill_holder(std::int64_t pid, std::uint64_t start_ticks,
                           const LeaseOptions& options);
  LockInfo observe(std::string_view name, const std::string& file, int fd, const FileId& id,
                   bool locked_known, bool locked);
  Result<LockInfo> inspect_file(std::string_view name, const std::string& file);
  // Removes up to a bounded number of the ledger entries of the job whose file names start with
  // `prefix` and whose slot is before `oldest_kept` (epoch seconds); best effort. Returns the
  // oldest slot left (max() if none), nullopt if the directory could not be read.
  std::optional<long long> remove_old_runs(const std::string& prefix, long long oldest_kept);
  std::string path_of(std::string_view file) const {
    std::string out;
    out.reserve(path_.size() + 1 + file.size());
    out.append(path_).append(1, '/').append(file);
    return out;
  }
  Record new_record(const ClaimRequest& request, std::uint64_t token, BootTime now) const;

  // An inotify watch on the directory for one Waiter, from the pool; back to the pool after.
  UniqueFd take_watch();
  void return_watch(UniqueFd watch);

  std::string path_;
  std::shared_ptr<LockDir> dir_;
  // Idle inotify watches. Closing an inotify fd waits for an RCU grace period (about 10 ms), so
  // waiters reuse them instead of paying that after every handoff.
  std::mutex watches_mu_;
  std::vector<UniqueFd> idle_watches_;
  // When claim_slot and put_run_record scan for their job's expired files.
  ExpiryScans expiry_scans_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_FILE_STORE_H_
