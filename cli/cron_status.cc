#include "cron_status.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <utility>

#include "heartlock/duration.h"
#include "heartlock/text.h"

#include "cron_job.h"
#include "ledger_text.h"

namespace heartlock::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::sys_seconds;

// The recent entries of each job, newest first.
using RecentRuns = std::map<std::string, std::vector<RunRecord>>;

// Finds the locks that running runs hold: in the store's list when the caller has it, else by
// inspecting them one at a time (and remembering, so each lock is asked for once).
class LockLookup {
 public:
  LockLookup(Store& store, const std::vector<LockInfo>* locks) : store_(store) {
    listed_ = locks != nullptr;
    if (locks != nullptr) {
      for (const LockInfo& info : *locks) {
        found_.emplace(info.name, info);
      }
    }
  }

  // The lock `name`, or nullopt when there is none or it could not be read (a problem then).
  const LockInfo* find(const std::string& name, std::vector<std::string>& problems) {
    if (auto it = found_.find(name); it != found_.end()) {
      return &it->second;
    }
    if (listed_) {
      return nullptr;
    }
    if (failed_.contains(name)) {
      return nullptr;
    }
    auto info = store_.inspect(name);
    if (!info) {
      problems.push_back("cannot inspect lock " + name + ": " + info.error().message);
      failed_.insert(name);
      return nullptr;
    }
    return &found_.emplace(name, std::move(*info)).first->second;
  }

 private:
  Store& store_;
  bool listed_ = false;
  std::map<std::string, LockInfo> found_;
  std::set<std::string> failed_;  // inspected without an answer: asked once
};

// True if `lock` is held, by the run `r` recorded: same host and process, and the same fencing
// token when the entry has one (tokens count per lock, so the token alone could match another).
bool held_by(const LockInfo& lock, const RunRecord& r) {
  if (lock.state != LockState::held && lock.state != LockState::deadlocked) {
    return false;
  }
  if (!lock.holder || lock.holder->foreign) {
    return false;
  }
  const Holder& h = *lock.holder;
  return h.host == r.host && h.pid == r.pid && (!r.token || h.token == *r.token);
}

// The runs among `recent` that are in progress: running, with their lease held. The job's own
// lock first (concurrency forbid and replace), then JOB@run1.. (allow), until each is found.
std::vector<RunningRun> running_runs(const std::string& job, const std::vector<RunRecord>& recent,
                                     LockLookup& locks, std::vector<std::string>& problems) {
  std::vector<const RunRecord*> open;
  for (const RunRecord& r : recent) {
    if (r.state == RunState::running) {
      open.push_back(&r);
    }
  }
  std::vector<RunningRun> out;
  for (int i = 0; i <= kAllowedRuns && !open.empty(); ++i) {
    const LockInfo* lock = locks.find(i == 0 ? job : job + "@run" + std::to_string(i), problems);
    if (lock == nullptr) {
      continue;
    }
    auto it = std::find_if(open.begin(), open.end(),
                           [&](const RunRecord* r) { return held_by(*lock, *r); });
    if (it != open.end()) {
      out.push_back(RunningRun{.record = **it, .lock = *lock});
      open.erase(it);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const RunningRun& a, const RunningRun& b) { return a.record.slot > b.record.slot; });
  return out;
}

// The definitions of `recent` (newest first), each with the hosts that ran it.
std::vector<DefinitionUse> definitions_of(const std::vector<RunRecord>& recent) {
  std::vector<DefinitionUse> out;
  for (const RunRecord& r : recent) {
    if (r.definition.empty()) {
      continue;  // an entry written without one tells nothing about versions
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const DefinitionUse& d) { return d.definition == r.definition; });
    if (it == out.end()) {
      out.push_back(DefinitionUse{.definition = r.definition, .latest = r.slot});
      it = out.end() - 1;
    }
    if (!r.host.empty() &&
        std::find(it->hosts.begin(), it->hosts.end(), r.host) == it->hosts.end()) {
      it->hosts.push_back(r.host);
    }
  }
  for (DefinitionUse& d : out) {
    std::sort(d.hosts.begin(), d.hosts.end());
  }
  return out;
}

// Adds `records` to `recent`, at most kCronStatusRecent per job (they come newest first).
void add_recent(RecentRuns& recent, std::vector<RunRecord> records) {
  for (RunRecord& r : records) {
    auto& runs = recent[r.job];
    if (runs.size() < kCronStatusRecent) {
      runs.push_back(std::move(r));
    }
  }
}

// The recent entries of the query's job or jobs, from one read of the ledger; when every job's
// window was full, a crontab job with no entry in it is read on its own (its entries may all be
// older than the window).
RecentRuns read_recent(Store& store, const CronStatusQuery& query,
                       std::vector<std::string>& problems) {
  RecentRuns recent;
  const std::size_t limit = query.job.empty() ? kCronStatusWindow : kCronStatusRecent;
  auto records = run_history(store, query.job, limit);
  if (!records) {
    if (records.error().code != Errc::unsupported) {
      problems.push_back("cannot read the run ledger: " + records.error().message);
    }
    return recent;
  }
  const bool complete = !query.job.empty() || records->size() < limit;
  add_recent(recent, std::move(*records));
  if (complete || query.crontab == nullptr) {
    return recent;
  }
  for (const CrontabJob& job : query.crontab->jobs) {
    if (recent.contains(job.name)) {
      continue;
    }
    auto own = run_history(store, job.name, kCronStatusRecent);
    if (!own) {
      problems.push_back("cannot read the run ledger of " + job.name + ": " + own.error().message);
      continue;
    }
    add_recent(recent, std::move(*own));
  }
  return recent;
}

// Fills the crontab's view of `status` (its job by that name, or none).
void compare_with_crontab(CronJobStatus& status, const CrontabJob* job, sys_seconds now) {
  if (job == nullptr) {
    status.crontab = CrontabMatch::not_in_file;
    return;
  }
  status.crontab_definition = job->definition;
  status.next_slot = job->schedule.next_after(now);
  if (!status.last) {
    status.crontab = CrontabMatch::no_runs;
  } else if (!status.definitions.empty()) {
    // Newest first: the definition of the latest entry that has one.
    status.crontab = status.definitions.front().definition == job->definition
                         ? CrontabMatch::same
                         : CrontabMatch::differs;
  }
}

std::string_view match_text(CrontabMatch m) {
  switch (m) {
    case CrontabMatch::unknown:
      return "-";
    case CrontabMatch::same:
      return "same";
    case CrontabMatch::differs:
      return "differs";
    case CrontabMatch::not_in_file:
      return "not in file";
    case CrontabMatch::no_runs:
      return "no runs";
  }
  return "-";
}

// "yes", "yes (2)", "no: lock free" (the newest entry says running, but nobody holds its lease:
// its host died or lost the lease mid-run), or "-".
std::string running_text(const CronJobStatus& s) {
  if (!s.running.empty()) {
    std::string out = "yes";
    if (s.running.size() > 1) {
      out += " (" + std::to_string(s.running.size()) + ")";
    }
    if (s.running.front().lock.state == LockState::deadlocked) {
      out += " (deadlocked)";
    }
    return out;
  }
  return s.stale_running ? "no: lease not held" : "-";
}

std::vector<std::string> row_of(const CronJobStatus& s, bool with_crontab) {
  std::vector<std::string> row{printable(s.job)};
  if (s.last) {
    const RunRecord& r = *s.last;
    auto took = run_duration(r);
    row.insert(row.end(), {utc_text(std::chrono::sys_time<milliseconds>(r.slot)),
                           std::string(to_string(r.state)), printable(clipped(run_host(r), 60)),
                           run_exit(r), took ? format_duration(*took) : "-"});
  } else {
    row.insert(row.end(), {"-", "-", "-", "-", "-"});
  }
  row.push_back(running_text(s));
  if (with_crontab) {
    row.push_back(s.next_slot ? utc_text(std::chrono::sys_time<milliseconds>(*s.next_slot)) : "-");
    row.emplace_back(match_text(s.crontab));
  }
  return row;
}

// "definition 0123456789abcdef on web-1, web-2 (latest slot ...)".
std::string definition_text(const DefinitionUse& d) {
  std::string hosts;
  for (const std::string& h : d.hosts) {
    hosts += (hosts.empty() ? "" : ", ") + printable(clipped(h, 60));
  }
  return "definition " + printable(clipped(d.definition, 64)) + " on " +
         (hosts.empty() ? "unknown hosts" : hosts) + " (latest slot " +
         utc_text(std::chrono::sys_time<milliseconds>(d.latest)) + ")";
}

}  // namespace

CronStatus collect_cron_status(Store& store, const CronStatusQuery& query) {
  CronStatus out;
  RecentRuns recent = read_recent(store, query, out.problems);
  std::map<std::string, const CrontabJob*> in_file;
  if (query.crontab != nullptr) {
    for (const CrontabJob& job : query.crontab->jobs) {
      if (query.job.empty() || job.name == query.job) {
        in_file.emplace(job.name, &job);
        recent.try_emplace(job.name);  // shown also before its first run
      }
    }
  }
  LockLookup locks(store, query.locks);
  for (auto& [name, runs] : recent) {
    CronJobStatus s{.job = name};
    if (!runs.empty()) {
      s.last = runs.front();
    }
    s.running = running_runs(name, runs, locks, out.problems);
    s.stale_running = s.last && s.last->state == RunState::running &&
                      std::none_of(s.running.begin(), s.running.end(), [&](const RunningRun& r) {
                        return r.record.slot == s.last->slot;
                      });
    s.definitions = definitions_of(runs);
    if (query.crontab != nullptr) {
      auto it = in_file.find(name);
      compare_with_crontab(s, it == in_file.end() ? nullptr : it->second, query.now);
    }
    out.jobs.push_back(std::move(s));
  }
  return out;
}

void print_cron_status(const CronStatus& status, bool with_crontab, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"CRON JOB", "LAST SLOT", "STATE", "HOST:PID", "EXIT", "DURATION", "RUNNING"});
  if (with_crontab) {
    rows.front().insert(rows.front().end(), {"NEXT SLOT", "CRONTAB"});
  }
  for (const CronJobStatus& s : status.jobs) {
    rows.push_back(row_of(s, with_crontab));
  }
  print_columns(rows, out);
  for (const CronJobStatus& s : status.jobs) {
    if (!s.mixed_definitions()) {
      continue;
    }
    std::string line = "warning: job " + printable(s.job) +
                       ": hosts run different versions of this job (their crontabs differ): ";
    for (std::size_t i = 0; i < s.definitions.size(); ++i) {
      line += (i == 0 ? "" : "; ") + definition_text(s.definitions[i]);
    }
    out << line << "\n";
  }
}

nlohmann::json cron_status_json(const CronStatus& status) {
  auto slot_text = [](sys_seconds t) { return utc_text(std::chrono::sys_time<milliseconds>(t)); };
  nlohmann::json out = nlohmann::json::array();
  for (const CronJobStatus& s : status.jobs) {
    nlohmann::json j;
    j["job"] = s.job;
    j["last_run"] = s.last ? run_record_json(*s.last) : nlohmann::json(nullptr);
    j["in_progress"] = !s.running.empty();
    j["running"] = nlohmann::json::array();
    for (const RunningRun& r : s.running) {
      nlohmann::json run = run_record_json(r.record);
      run["lock"] = r.lock.name;
      run["lock_state"] = std::string(to_string(r.lock.state));
      j["running"].push_back(std::move(run));
    }
    j["stale_running"] = s.stale_running;
    j["mixed_definitions"] = s.mixed_definitions();
    j["definitions"] = nlohmann::json::array();
    for (const DefinitionUse& d : s.definitions) {
      j["definitions"].push_back(
          {{"definition", d.definition}, {"hosts", d.hosts}, {"latest_slot", slot_text(d.latest)}});
    }
    j["next_slot"] = s.next_slot ? nlohmann::json(slot_text(*s.next_slot)) : nullptr;
    j["crontab"] = s.crontab == CrontabMatch::unknown ? nlohmann::json(nullptr)
                                                      : nlohmann::json(match_text(s.crontab));
    j["crontab_definition"] = s.crontab_definition.empty() ? nlohmann::json(nullptr)
                                                           : nlohmann::json(s.crontab_definition);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace heartlock::cli
