#include "scheduler_cluster.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "heartlock/job_wrappers.h"
#include "heartlock/store.h"

namespace heartlock::testing {
namespace {

using namespace std::chrono_literals;

// One line, one write(2), O_APPEND: lines of concurrent processes never interleave.
void append(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return;
  }
  const std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

std::string pid_text() { return std::to_string(::getpid()); }

long long slot_of(const ScheduledRun& run) { return run.slot.time_since_epoch().count(); }

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

JobFn member_job(const Member& m, Store& store) {
  auto body = [&m](const ScheduledRun& run) {
    const long long start = wall_ns();
    const std::string head = std::to_string(slot_of(run)) + " " + pid_text() + " ";
    append(m.log, "begin " + head + std::to_string(start));
    std::this_thread::sleep_for(m.work);  // the stop token is ignored: a run always ends
    append(m.log, "run " + head + std::to_string(start) + " " + std::to_string(wall_ns()) + " " +
                      std::to_string(run.token.value_or(0)));
  };
  return chain({wrap::recover(), wrap::once_per_slot(store, {.claim_ttl = m.claim_ttl}),
                wrap::with_lock(store, {.ttl = m.lock_ttl}, Concurrency::forbid)},
               job(body));
}

}  // namespace

long long wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run_member(const Member& m) {
  auto opened = Store::open(m.url);
  if (!opened) {
    append(m.log, "error " + pid_text() + " " + opened.error().message);
    return 2;
  }
  Store& store = **opened;
  Scheduler scheduler(
      {.workers = 4, .on_outcome = [&m](const ScheduledRun& run, const RunOutcome& outcome) {
         std::string detail = outcome.detail;
         std::replace(detail.begin(), detail.end(), '\n', ' ');
         append(m.log, "outcome " + std::to_string(slot_of(run)) + " " + pid_text() + " " +
                           std::string(to_string(outcome.status)) + " " + detail);
       }});
  MissedRuns missed = m.missed;
  if (missed.policy != MissedPolicy::skip) {
    missed.store = &store;
    auto last = store.last_slot(m.job);
    append(m.log, "last " + pid_text() + " " +
                      std::to_string(last && *last ? (*last)->time_since_epoch().count() : -1));
  }
  append(m.log, "adding " + pid_text() + " " + std::to_string(wall_ns()));
  auto added = scheduler.add({.name = m.job,
                              .schedule = CronSchedule::parse("* * * * * *", "UTC").value(),
                              .run = member_job(m, store),
                              .missed = missed});
  if (!added) {
    append(m.log, "error " + pid_text() + " " + added.error().message);
    return 3;
  }
  append(m.log, "started " + pid_text() + " " + std::to_string(wall_ns()));
  while (!exists(m.stop_file)) {
    std::this_thread::sleep_for(20ms);
  }
  append(m.log, "stopping " + pid_text() + " " + std::to_string(wall_ns()));
  scheduler.stop();
  return 0;
}

ClusterLog ClusterLog::read(const std::string& path) {
  ClusterLog out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string kind;
    s >> kind;
    if (kind == "run") {
      Run r;
      s >> r.slot >> r.pid >> r.start >> r.end >> r.token;
      out.runs.push_back(r);
    } else if (kind == "begin") {
      std::pair<long long, pid_t> b;
      s >> b.first >> b.second;
      out.begins.push_back(b);
    } else if (kind == "outcome") {
      Outcome o;
      s >> o.slot >> o.pid >> o.status;
      std::getline(s >> std::ws, o.detail);
      out.outcomes.push_back(std::move(o));
    } else if (kind == "last" || kind == "adding" || kind == "started" || kind == "stopping") {
      pid_t pid = 0;
      long long value = 0;
      s >> pid >> value;
      auto& to = kind == "last"      ? out.last
                 : kind == "adding"  ? out.adding
                 : kind == "started" ? out.started
                                     : out.stopping;
      to[pid] = value;
    }
  }
  return out;
}

bool ClusterLog::began(long long slot, pid_t pid) const {
  return std::find(begins.begin(), begins.end(), std::pair{slot, pid}) != begins.end();
}

bool ClusterLog::ran(long long slot) const {
  return std::any_of(runs.begin(), runs.end(), [&](const Run& r) { return r.slot == slot; });
}

std::map<long long, std::string> ClusterLog::lock_busy() const {
  std::map<long long, std::string> out;
  for (const auto& o : outcomes) {
    // Only a slot that did not run was lost to the lock: once_per_slot records a slot when its
    // job starts, so the members that fired a slot another one is running also find the lock
    // held (by that very run) and skip.
    if (o.status == "skipped" && o.detail.starts_with("running elsewhere") && !ran(o.slot)) {
      out[o.slot] = o.detail;
    }
  }
  return out;
}

RunsVerdict check_runs(const ClusterLog& log, long long first, long long last,
                       const std::set<long long>& excused) {
  RunsVerdict v;
  auto runs = log.runs;
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.slot < b.slot; });
  for (std::size_t i = 1; i < runs.size(); ++i) {
    if (runs[i].slot == runs[i - 1].slot) {
      v.violations.push_back("slot " + std::to_string(runs[i].slot) + " ran twice (pids " +
                             std::to_string(runs[i - 1].pid) + ", " + std::to_string(runs[i].pid) +
                             ")");
    } else if (runs[i].token <= runs[i - 1].token) {
      v.violations.push_back("token " + std::to_string(runs[i].token) + " of slot " +
                             std::to_string(runs[i].slot) + " is not above " +
                             std::to_string(runs[i - 1].token) + " of slot " +
                             std::to_string(runs[i - 1].slot));
    }
  }
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  for (std::size_t i = 1; i < runs.size(); ++i) {
    if (runs[i].start < runs[i - 1].end) {
      v.violations.push_back("the runs of slots " + std::to_string(runs[i - 1].slot) + " and " +
                             std::to_string(runs[i].slot) + " overlapped by " +
                             std::to_string((runs[i - 1].end - runs[i].start) / 1'000'000) + " ms");
    }
  }
  for (long long slot = first; slot <= last; ++slot) {
    if (log.ran(slot)) {
      ++v.ran_in_window;
    } else if (excused.contains(slot)) {
      v.missing.insert(slot);
    } else {
      v.violations.push_back("slot " + std::to_string(slot) + " never ran");
      v.missing.insert(slot);
    }
  }
  return v;
}

}  // namespace heartlock::testing
