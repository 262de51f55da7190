// The cron section of `heartlock status`: for each scheduled job the run ledger knows (and each
// job of a crontab given with --crontab), its latest run, whether a run of it is in progress, and
// whether the hosts run different definitions of it (their crontabs differ); with a crontab also
// its next slot and whether its definition is the one the ledger saw last.
#ifndef HEARTLOCK_CLI_CRON_STATUS_H_
#define HEARTLOCK_CLI_CRON_STATUS_H_

#include <chrono>
#include <cstddef>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "heartlock/heartlock.h"
#include "heartlock/ledger.h"

#include "crontab.h"

namespace heartlock::cli {

// Entries read from the ledger when looking for every job (newest first): the jobs found are those
// with an entry among them. Each entry is at most 4 KiB of JSON, so this bounds what status reads.
inline constexpr std::size_t kCronStatusWindow = 1000;
// A job's recent entries: the definitions and running runs are looked for among these.
inline constexpr std::size_t kCronStatusRecent = 20;

// One definition of a job seen in its recent entries.
struct DefinitionUse {
  std::string definition;           // the hash (crontab_file.h), never empty
  std::vector<std::string> hosts;   // the hosts whose entries carry it, sorted, unique
  std::chrono::sys_seconds latest;  // the newest slot with it
};

// A run in progress: a running entry whose lease is still held.
struct RunningRun {
  RunRecord record;
  LockInfo lock;  // the lock its run holds (the job's, or JOB@runN with concurrency=allow)
};

// How a crontab's job compares with the ledger (CronStatusQuery::crontab).
enum class CrontabMatch {
  unknown,      // no crontab given, or the job's entries carry no definition
  same,         // its definition is the ledger's latest
  differs,      // another definition ran last: this file is not what the hosts run
  not_in_file,  // the ledger knows the job, the crontab has none by that name
  no_runs,      // the crontab's job has no entry yet
};

// What status shows of one job.
struct CronJobStatus {
  std::string job;
  std::optional<RunRecord> last;           // the newest entry; none for a crontab job not run yet
  std::vector<RunningRun> running;         // runs in progress, newest slot first
  bool stale_running = false;              // `last` says running, but no lease of it is held
  std::vector<DefinitionUse> definitions;  // of the recent entries, newest first
  CrontabMatch crontab = CrontabMatch::unknown;
  std::string crontab_definition;                     // the crontab's, when it has the job
  std::optional<std::chrono::sys_seconds> next_slot;  // the crontab's next slot after now

  // More than one definition among the recent entries: hosts run different versions of the job.
  bool mixed_definitions() const { return definitions.size() > 1; }
};

// What collect_cron_status looks at.
struct CronStatusQuery {
  std::string job;                   // only this job (status NAME); empty: every job
  const Crontab* crontab = nullptr;  // --crontab, or null; must outlive the call
  // Every lock of the store, when the caller listed them (where running runs' leases are looked
  // for); null: the candidate locks are inspected one by one.
  const std::vector<LockInfo>* locks = nullptr;
  std::chrono::sys_seconds now;  // for next slots
};

// The cron section.
struct CronStatus {
  std::vector<CronJobStatus> jobs;    // sorted by job name
  std::vector<std::string> problems;  // why some of it is missing (the ledger could not be read)
};

// Reads the ledger (and the locks of running runs) of `store`. Never fails: a backend without a
// ledger gives no jobs but the crontab's, and a ledger or lock that cannot be read is a problem
// (the rest is shown). Thread-compatible: `store` is used as Store allows.
CronStatus collect_cron_status(Store& store, const CronStatusQuery& query);

// Prints the section (a table, then a line per job whose hosts run different definitions) to
// `out`; `with_crontab` adds the NEXT SLOT and CRONTAB columns. Text from the store is escaped.
void print_cron_status(const CronStatus& status, bool with_crontab, std::ostream& out = std::cout);

// The section as a JSON array, one object per job: every key always present (null when unknown).
nlohmann::json cron_status_json(const CronStatus& status);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_CRON_STATUS_H_
