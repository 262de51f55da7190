// Store: a place where named locks live, opened from a URL.
#ifndef HEARTLOCK_STORE_H_
#define HEARTLOCK_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/export.h"
#include "heartlock/lease.h"
#include "heartlock/options.h"

namespace heartlock {

// The answer of Store::claim_slot.
struct HEARTLOCK_API SlotClaim {
  bool won = false;        // this caller is the first for the slot: it runs the job
  std::string claimed_by;  // who was first ("host:pid"), when known
};

// One entry of a store's run ledger (Store::put_run_record), as the store keeps it.
struct HEARTLOCK_API RunRecordText {
  std::string job;
  std::chrono::sys_seconds slot;
  std::string data;  // what put_run_record stored: opaque to the store (heartlock/ledger.h)
};

// The largest `data` of one ledger entry.
inline constexpr std::size_t kMaxRunRecordBytes = 4096;

// A wait for Store::acquire without a time limit: until the lock is ours, an error, or a stop.
inline constexpr std::chrono::milliseconds kWaitForever = std::chrono::milliseconds::max();

// How long slot records are kept by default.
inline constexpr std::chrono::seconds kDefaultSlotRetention{7 * 24 * 3600};

// The interface every lock backend implements.
//
// Thread-safety: all methods may be called concurrently.
// Lifetime: a Store must outlive every Lease it returned.
class HEARTLOCK_API Store {
 public:
  // Opens a store from a URL (docs/redis.md, docs/postgres.md and docs/etcd.md give each
  // backend's parameters):
  //   file:///some/dir, file:NAME, or a plain directory path   the file backend (one host)
  //   "" (empty)                                  the default directory (default_file_url())
  //   redis://[user:pw@]host[:port][/db][?...]    Redis; rediss:// over TLS
  //   redis://host1,host2,host3[?...]             Redlock over independent Redis servers
  //   redis-sentinel://host[,host...]/master      Redis behind Sentinel
  //   postgres://... or postgresql://...          PostgreSQL (libpq's URL syntax)
  //   etcd://[user:pw@]host:port[,host:port...]   etcd v3; etcds:// over TLS
  // Scheme names are case-insensitive.
  // Errc::invalid_argument for an unknown scheme or a malformed URL; Errc::permission_denied for a
  // directory that is a symlink, owned by another user, or not writable; Errc::unsupported for a
  // backend this build does not include.
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(std::string_view url,
                                                           StoreOptions options = {});

  virtual ~Store() = default;

  // Tries once, without waiting. Returns an Acquired holding a Lease, or busy with the current
  // holder (a deadlocked or expired holder is taken over instead). Errc::invalid_argument for a
  // bad name or options, Errc::unavailable if the backend did not answer (retry),
  // Errc::permission_denied if it refused access.
  [[nodiscard]] virtual Result<Acquired> try_acquire(std::string_view name,
                                                     const LeaseOptions& options) = 0;

  // Like try_acquire, but waits up to `wait` (kWaitForever: no limit) for the lock to be freed.
  // A waiter is woken when the holder releases or dies, not by a polling sleep. Busy if still held
  // after `wait`. A stop request on `stop` (from any thread) ends the wait promptly: the call then
  // returns what the last try found -- busy, with the holder -- without trying again. A token
  // already stopped on entry still makes exactly one try, like try_acquire. Errors as try_acquire,
  // and Errc::invalid_argument for a negative `wait`.
  [[nodiscard]] virtual Result<Acquired> acquire(std::string_view name, const LeaseOptions& options,
                                                 std::chrono::milliseconds wait,
                                                 std::stop_token stop) = 0;

  // acquire() that nobody can stop but `wait`.
  [[nodiscard]] Result<Acquired> acquire(std::string_view name, const LeaseOptions& options,
                                         std::chrono::milliseconds wait) {
    return acquire(name, options, wait, std::stop_token());
  }

  // The state of one lock. Errc::invalid_argument for a bad name.
  [[nodiscard]] virtual Result<LockInfo> inspect(std::string_view name) = 0;

  // Every lock this store knows, held or not.
  [[nodiscard]] virtual Result<std::vector<LockInfo>> list() = 0;

  // Administrative: ends the lease with fencing token `token` on `name`, whoever holds it, and
  // clears any min_hold. The old holder learns on its next renewal that it lost the lease.
  // Errc::not_owner if `token` is no longer the lock's current lease (nothing is changed).
  [[nodiscard]] virtual Result<void> break_lease(std::string_view name, std::uint64_t token) = 0;

  // Ends exactly the lease `seen` (from inspect()) describes, also one held by a foreign tool
  // that hands out no token (e.g. cronlock, fenced by the value it wrote). Errc::not_owner if the
  // lock changed since; Errc::invalid_argument if `seen` shows it free.
  [[nodiscard]] virtual Result<void> break_lease(const LockInfo& seen);

  // Once per schedule slot: the first caller for (`job`, `slot`) across every process and host
  // sharing this store wins, and every later caller learns who did -- at most one run per slot,
  // also when hosts' schedulers fire at slightly different times. `slot` is the *scheduled* fire
  // time in UTC (whole seconds), never the time of the call. Records are kept for `retention`
  // after their slot and then removed: on the file backend by the first claim for the job, from
  // any process, made with that retention at least retention + retention/16 after the slot (or
  // by an earlier one). A slot already older than `retention` is never won (its record may be
  // gone). Errc::invalid_argument for a bad job name or retention.
  [[nodiscard]] virtual Result<SlotClaim> claim_slot(
      std::string_view job, std::chrono::sys_seconds slot,
      std::chrono::seconds retention = kDefaultSlotRetention) = 0;

  // The latest slot claimed for `job` (by claim_slot, from any process or host sharing this
  // store) whose record is still kept, or nullopt if none is: what a scheduler asks after an
  // outage to decide which runs it missed. Records past their retention may be reported until a
  // later claim for the job removes them (file backend: see claim_slot for which one); on Redis,
  // where they expire on their own, a job whose claims used different retentions may report its
  // latest slot until the longest-kept record of those claims expires. Cheap: one indexed lookup
  // (file backend: a per-job file its claims keep; a scan of the slot files if it names none).
  // Errc::invalid_argument for a bad job name (as claim_slot), Errc::unavailable if the store did
  // not answer (on Redlock: fewer than a majority of the nodes).
  [[nodiscard]] virtual Result<std::optional<std::chrono::sys_seconds>> last_slot(
      std::string_view job) = 0;

  // The run ledger, kept beside the slot records: writes (or replaces) the entry of (`job`,
  // `slot`), kept for `retention` after its slot (then removed, as slot records are). `data` is
  // opaque to the store (heartlock/ledger.h writes JSON), at most kMaxRunRecordBytes. The last
  // write of an entry wins. Errc::invalid_argument for a bad job name or retention, or larger
  // data; Errc::unavailable if the store did not answer (on Redlock: fewer than a majority);
  // Errc::unsupported on a backend without a ledger (the default).
  [[nodiscard]] virtual Result<void> put_run_record(
      std::string_view job, std::chrono::sys_seconds slot, std::string_view data,
      std::chrono::seconds retention = kDefaultSlotRetention);

  // Ledger entries, newest slot first (then by job name), at most `limit`: of `job`, or of every
  // job when `job` is empty. Entries past their retention may still be reported until removed.
  // Errc::invalid_argument for a bad job name; other errors as put_run_record.
  [[nodiscard]] virtual Result<std::vector<RunRecordText>> run_records(std::string_view job,
                                                                       std::size_t limit);

  // The URL this store was opened from, without credentials.
  virtual std::string url() const = 0;
};

// The file URL used when none is given: $HEARTLOCK_DIR, else /run/lock/heartlock when writable,
// else $XDG_RUNTIME_DIR/heartlock, else /tmp/heartlock-<uid>.
HEARTLOCK_API std::string default_file_url();

// Checks a lock name: non-empty, at most kMaxNameLength bytes, no NUL or other control character
// (below 0x20, or 0x7f), valid UTF-8. Errc::invalid_argument naming the first fault.
inline constexpr std::size_t kMaxNameLength = 512;
[[nodiscard]] HEARTLOCK_API Result<void> validate_name(std::string_view name);

}  // namespace heartlock

#endif  // HEARTLOCK_STORE_H_
