// The run ledger: what happened to each slot of each scheduled job, cluster-wide, kept in the lock
// store itself (Store::put_run_record) for the slot retention -- who ran it, when it started and
// ended, how it ended, how late it started, and slots that nobody ran.
//
//   heartlock::RunRecord r{.job = "backup", .slot = slot, .state = heartlock::RunState::running};
//   r.host = ...; r.started = now;
//   heartlock::record_run(*store, r);                 // at start
//   r.state = heartlock::RunState::done; r.ended = later; r.exit_code = 0;
//   heartlock::record_run(*store, r);                 // at the end: replaces the entry
//   auto last = heartlock::run_history(*store, "backup", 20);
//
// An entry is a small JSON object (the store keeps it as opaque text); fields unknown to this
// version are ignored when read, so newer writers stay readable.
#ifndef HEARTLOCK_LEDGER_H_
#define HEARTLOCK_LEDGER_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/export.h"
#include "heartlock/store.h"

namespace heartlock {

// Where a slot's run is.
enum class RunState {
  running,  // claimed and started; no end recorded (yet: or its host died while it ran)
  done,     // ended with success (exit status 0)
  failed,   // ended with failure: exit status, signal, timeout, lost lease, could not start
  skipped,  // claimed, but not run on purpose: the job's previous run still held its lock
  missed,   // nobody ran it: every host was down or late (recorded by the next one that looked)
};

// Returns a stable lower-case name ("running", ...).
HEARTLOCK_API std::string_view to_string(RunState state) noexcept;

// One ledger entry: the record of one slot of one job.
struct HEARTLOCK_API RunRecord {
  using time_point = std::chrono::system_clock::time_point;

  std::string job;
  std::chrono::sys_seconds slot;  // the scheduled fire time, UTC
  RunState state = RunState::running;
  std::string host;  // who ran it (missed: who recorded the miss)
  std::int64_t pid = 0;
  std::optional<time_point> started;      // when the command started (ms precision)
  std::optional<time_point> ended;        // when it ended
  std::optional<int> exit_code;           // the command's exit status, when it exited
  std::optional<int> signal;              // the signal that ended it, when one did
  std::chrono::milliseconds lateness{0};  // started - slot (jitter included)
  int attempts = 0;                       // runs of the command for this slot (1 + retries)
  std::optional<std::uint64_t> token;     // the fencing token of the run's lease
  std::string definition;                 // the job definition's hash (crontab version)
  std::string detail;                     // why, in words ("timed out after 1h", ...)
};

// The entry as JSON text (what the store keeps); at most kMaxRunRecordBytes: long text fields
// are shortened to fit.
HEARTLOCK_API std::string encode_run_record(const RunRecord& record);

// Reads an entry the store returned. Errc::invalid_argument (with the job and slot) for text that
// is not a ledger entry.
[[nodiscard]] HEARTLOCK_API Result<RunRecord> decode_run_record(const RunRecordText& text);

// Writes `record` as the ledger entry of its job and slot (replacing any), kept for `retention`.
// Errors as Store::put_run_record.
[[nodiscard]] HEARTLOCK_API Result<void> record_run(
    Store& store, const RunRecord& record, std::chrono::seconds retention = kDefaultSlotRetention);

// The latest entries, newest slot first, at most `limit`: of `job`, or of every job when empty.
// An entry that cannot be read is reported as a failed record whose detail says why, not dropped.
// Errors as Store::run_records.
[[nodiscard]] HEARTLOCK_API Result<std::vector<RunRecord>> run_history(Store& store,
                                                                       std::string_view job,
                                                                       std::size_t limit);

}  // namespace heartlock

#endif  // HEARTLOCK_LEDGER_H_
