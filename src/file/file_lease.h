// FileLease: a held lock file. The holder keeps an exclusive flock(2) on the file for the whole
// lease, so when the process dies the kernel frees it at once, and it writes its record only
// through its own fd: after a takeover renames a new file over the path, the old holder's writes
// land in its own orphaned inode and can never touch the newcomer's.
#ifndef HEARTLOCK_FILE_FILE_LEASE_H_
#define HEARTLOCK_FILE_FILE_LEASE_H_

#include <memory>
#include <string>

#include "../core/backend_lease.h"
#include "lock_file.h"
#include "record.h"

namespace heartlock::detail {

// Thread-safety: none needed; LeaseState serialises calls. Keeps the directory fd alive itself.
class FileLease final : public BackendLease {
 public:
  FileLease(std::shared_ptr<const UniqueFd> dir, std::string file, std::string path, UniqueFd fd,
            FileId id, Record record)
      : dir_(std::move(dir)),
        file_(std::move(file)),
        path_(std::move(path)),
        fd_(std::move(fd)),
        id_(id),
        record_(std::move(record)) {}

  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override;
  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override;

 private:
  // Whether the path still names our file; a LostReason if not.
  Result<std::optional<LostReason>> check_linked();

  std::shared_ptr<const UniqueFd> dir_;
  std::string file_;
  std::string path_;
  UniqueFd fd_;
  FileId id_;
  Record record_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_FILE_LEASE_H_
