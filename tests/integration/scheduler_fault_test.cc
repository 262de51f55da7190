// The scheduler (include/heartlock/scheduler.h) across processes, on every backend: three forked
// scheduler processes with stores of their own run one every-second job chained as recover +
// once_per_slot + with_lock(forbid), with the real clock. One is killed mid-run; all stop and a
// late starter catches up from the store; runs longer than the period are skipped, not errors.
// Every run appends a line to a shared log (tests/support/scheduler_cluster.h): the test checks
// that each slot ran exactly once, that no two runs overlapped and that tokens rise with slots.
//
// HEARTLOCK_SCHEDULER_SECONDS sets how long the members run (default 8: `make test`;
// `make torture` sets 60, as scripts/torture.sh does with HEARTLOCK_TORTURE_SECONDS). Timing on a
// loaded machine is never asserted: waits are bounded polls, and the first and last seconds of
// a window are left out; exactly-once and no-overlap are strict.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "../support/backends.h"
#include "../support/scheduler_cluster.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Backend;
using testing::Child;
using testing::ClusterLog;
using testing::Member;
using testing::TempDir;

constexpr long long kSecond = 1'000'000'000;

std::chrono::seconds scheduler_seconds() {
  const char* s = std::getenv("HEARTLOCK_SCHEDULER_SECONDS");
  const long n = s != nullptr ? std::atol(s) : 0;
  return std::chrono::seconds(n > 0 ? n : 8);
}

// The members of one test, forked from a template; stop() asks one to stop, and waits for it.
class Cluster {
 public:
  Cluster(const Backend& b, std::chrono::milliseconds work) {
    base_ = Member{.url = b.url(),
                   .job = "tick-" + testing::unique_suffix(),
                   .log = dir_.file("log"),
                   .stop_file = "",
                   .work = work};
  }

  // Forks a member (with `missed`); returns its index.
  std::size_t start(MissedRuns missed = {}) {
    Member m = base_;
    m.stop_file = dir_.file("stop." + std::to_string(children_.size()));
    m.missed = missed;
    children_.push_back(Child::fork([m] { return testing::run_member(m); }));
    return children_.size() - 1;
  }

  // Waits until every member forked so far has added its job (a stopped or killed one did).
  bool wait_started() {
    return testing::eventually([&] { return read().started.size() == children_.size(); }, 60s);
  }

  // Asks member i to stop; its exit code (0: stopped cleanly).
  int stop(std::size_t i) {
    std::ofstream(dir_.file("stop." + std::to_string(i))) << "stop\n";
    return children_[i].exit_code(60s);
  }

  Child& child(std::size_t i) { return children_[i]; }
  ClusterLog read() const { return ClusterLog::read(base_.log); }
  const std::string& log_path() const { return base_.log; }

 private:
  TempDir dir_;
  Member base_;
  std::vector<Child> children_;
};

// The first slot every member fires: the second after the last one started.
long long first_common_slot(const ClusterLog& log) {
  long long latest = 0;
  for (const auto& [pid, ns] : log.started) {
    latest = std::max(latest, ns);
  }
  return latest / kSecond + 1;
}

void expect_no_violation(const testing::RunsVerdict& v) {
  for (const auto& what : v.violations) {
    ADD_FAILURE() << what;
  }
}

// Slots skipped by with_lock (the job's lock was still held, e.g. by a slow previous run): the
// one way a slot may go without a run under forbid. A quiet machine has none.
std::set<long long> lock_busy_slots(const ClusterLog& log) {
  std::set<long long> out;
  for (const auto& [slot, detail] : log.lock_busy()) {
    out.insert(slot);
  }
  return out;
}

void expect_clean_outcomes(const ClusterLog& log) {
  for (const auto& o : log.outcomes) {
    EXPECT_TRUE(o.status == "done" || o.status == "skipped")
        << "slot " << o.slot << " pid " << o.pid << ": " << o.status << ": " << o.detail;
  }
}

class SchedulerFault : public ::testing::TestWithParam<Backend> {};

// Three members: every slot of the window ran exactly once, without overlap, tokens rising.
TEST_P(SchedulerFault, ThreeProcessesRunEachSlotExactlyOnce) {
  Cluster cluster(GetParam(), 300ms);
  for (int i = 0; i < 3; ++i) {
    cluster.start();
  }
  ASSERT_TRUE(cluster.wait_started()) << "a member never added its job";
  std::this_thread::sleep_for(scheduler_seconds());
  const long long stop_at = testing::wall_ns();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.stop(i), 0) << "member " << i;
  }
  const ClusterLog log = cluster.read();
  const long long first = first_common_slot(log);
  const long long last = stop_at / kSecond - 2;
  const auto busy = lock_busy_slots(log);
  const auto verdict = testing::check_runs(log, first, last, busy);
  expect_no_violation(verdict);
  expect_clean_outcomes(log);
  EXPECT_GE(verdict.ran_in_window, 3u) << "the window held too few slots to judge";
  EXPECT_LE(verdict.missing.size() * 4, static_cast<std::size_t>(last - first + 1))
      << "a quarter of the slots were skipped for a held lock";
  std::set<pid_t> runners;
  for (const auto& r : log.runs) {
    runners.insert(r.pid);
  }
  std::printf(
      "[ measure  ] %s: slots %lld..%lld: %zu ran, %zu skipped for a held lock, %zu "
      "members ran\n",
      GetParam().name.c_str(), first, last, verdict.ran_in_window, verdict.missing.size(),
      runners.size());
}

struct Killed {
  long long slot = 0;
  std::size_t member = 0;
};

// Stops whichever of members 0..n-1 runs a slot (SIGSTOP) and kills it (SIGKILL) there: a run
// caught before its end. Returns the slot and the member, or nullopt if none was caught in 30 s.
std::optional<Killed> kill_mid_run(Cluster& cluster, std::size_t n) {
  std::set<long long> tried;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const ClusterLog log = cluster.read();
    for (const auto& [slot, by] : log.begins) {
      if (log.ran(slot) || tried.contains(slot)) {
        continue;
      }
      tried.insert(slot);
      for (std::size_t i = 0; i < n; ++i) {
        if (cluster.child(i).pid() != by) {
          continue;
        }
        testing::ScopedStop paused({by});
        if (!cluster.read().ran(slot)) {  // still inside the run: the end line is not written
          cluster.child(i).signal(SIGKILL);
          return Killed{slot, i};
        }
      }
    }
    std::this_thread::sleep_for(5ms);
  }
  return std::nullopt;
}

// A member killed mid-run: only its slot is lost, plus (on a server backend) the slots whose
// owner found the killed run's lock still held until its ttl ran out; the others go on.
TEST_P(SchedulerFault, AMemberKilledMidRunLosesOnlyItsSlot) {
  const Backend& b = GetParam();
  Cluster cluster(b, 300ms);
  for (int i = 0; i < 3; ++i) {
    cluster.start();
  }
  ASSERT_TRUE(cluster.wait_started()) << "a member never added its job";
  const auto half = std::max(scheduler_seconds() / 2, std::chrono::seconds(3));
  std::this_thread::sleep_for(half);
  const auto caught = kill_mid_run(cluster, 3);
  ASSERT_TRUE(caught) << "no member was caught in a run";
  const pid_t victim = cluster.child(caught->member).pid();
  const auto killed = std::optional<long long>(caught->slot);
  EXPECT_EQ(cluster.child(caught->member).exit_code(10s), 128 + SIGKILL);
  const long long killed_at = testing::wall_ns();
  std::this_thread::sleep_for(half + 2s);  // the killed lease's ttl, then survivors run
  const long long stop_at = testing::wall_ns();
  for (std::size_t i = 0; i < 3; ++i) {
    if (i != caught->member) {
      EXPECT_EQ(cluster.stop(i), 0) << "member " << i;
    }
  }

  const ClusterLog log = cluster.read();
  const long long first = first_common_slot(log);
  const long long last = stop_at / kSecond - 2;
  auto excused = lock_busy_slots(log);
  std::size_t held_by_victim = 0;
  for (const auto& [slot, detail] : log.lock_busy()) {
    // The killed slot itself was skipped by the others while the victim ran it (alive).
    if (slot != *killed && detail.find(":" + std::to_string(victim) + ":") != std::string::npos) {
      ++held_by_victim;
      EXPECT_GT(slot, *killed);
      EXPECT_LE(slot, killed_at / kSecond + 3) << "the killed run's lock outlived its ttl";
    }
  }
  if (b.name == "file") {
    EXPECT_EQ(held_by_victim, 0u) << "the kernel releases a killed holder's lock at once";
  }
  excused.insert(*killed);
  const auto verdict = testing::check_runs(log, first, last, excused);
  expect_no_violation(verdict);
  expect_clean_outcomes(log);
  EXPECT_FALSE(log.ran(*killed)) << "the killed slot ran again";
  std::set<pid_t> after;
  for (const auto& r : log.runs) {
    if (r.slot > killed_at / kSecond + 3) {
      after.insert(r.pid);
    }
  }
  EXPECT_FALSE(after.empty()) << "nobody ran after the kill";
  EXPECT_FALSE(after.contains(victim));
  std::printf(
      "[ measure  ] %s: killed mid-run of slot %lld; slots %lld..%lld: %zu ran, %zu "
      "skipped for a held lock (%zu held by the killed run)\n",
      b.name.c_str(), *killed, first, last, verdict.ran_in_window, verdict.missing.size() - 1,
      held_by_victim);
}

// Waits until the wall clock is `ms` into a second at or after `at` (ns).
void sleep_until_into_second(long long at, int ms) {
  const long long target = (at / kSecond) * kSecond + ms * 1'000'000LL;
  const long long wait = (target >= at ? target : target + kSecond) - testing::wall_ns();
  if (wait > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
}

// Every member stopped; slots go by; a late starter with run_all (at most 2) runs the two latest
// slots nobody ran and the current one, decided from the store. A second late starter does not
// run any of them again: the store says they ran.
TEST_P(SchedulerFault, ALateStarterCatchesUpOnceFromTheStore) {
  const Backend& b = GetParam();
  Cluster cluster(b, 150ms);  // three catch-up runs, one after another, end before the next slot
  for (int i = 0; i < 3; ++i) {
    cluster.start();
  }
  ASSERT_TRUE(cluster.wait_started()) << "a member never added its job";
  ASSERT_TRUE(testing::eventually([&] { return cluster.read().runs.size() >= 2; }, 30s));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.stop(i), 0);
  }
  long long ran_before = 0;
  for (const auto& r : cluster.read().runs) {
    ran_before = std::max(ran_before, r.slot);
  }
  // Four or five slots nobody runs; then start 200 ms into a second, away from its edges.
  sleep_until_into_second(testing::wall_ns() + 4 * kSecond, 200);
  const MissedRuns catch_up{.policy = MissedPolicy::run_all, .grace = 1s, .max_runs = 2};
  const std::size_t late = cluster.start(catch_up);
  ASSERT_TRUE(cluster.wait_started());
  const pid_t late_pid = cluster.child(late).pid();
  ClusterLog log = cluster.read();
  ASSERT_TRUE(log.last.contains(late_pid));
  const long long last_claimed = log.last[late_pid];
  EXPECT_GE(last_claimed, ran_before) << "the store forgot a slot that ran";
  // The slot of add() (its now, between "adding" and "started"): on time; the two before it:
  // the latest missed ones.
  const long long f_low = log.adding[late_pid] / kSecond;
  const long long f_high = log.started[late_pid] / kSecond;
  ASSERT_TRUE(testing::eventually(
      [&] {
        log = cluster.read();
        return std::any_of(log.runs.begin(), log.runs.end(),
                           [&](const auto& r) { return r.slot > f_high; });
      },
      30s))
      << "the late starter does not run";
  bool matched = false;
  for (long long f = f_low; f <= f_high && !matched; ++f) {
    std::set<long long> caught;
    for (const auto& r : log.runs) {
      if (r.slot > last_claimed && r.slot <= f) {
        caught.insert(r.slot);
      }
    }
    matched = caught == std::set<long long>{f - 2, f - 1, f};
  }
  EXPECT_TRUE(matched) << "slots nobody ran were " << last_claimed + 1 << ".." << f_low - 1
                       << "; the late starter ran other ones";
  EXPECT_GE(f_low - 1 - last_claimed, 3) << "too few slots went by to judge max_runs";

  const std::size_t later = cluster.start({.policy = MissedPolicy::run_once, .grace = 1s});
  ASSERT_TRUE(cluster.wait_started());
  std::this_thread::sleep_for(2s);
  const long long stop_at = testing::wall_ns();
  EXPECT_EQ(cluster.stop(late), 0);
  EXPECT_EQ(cluster.stop(later), 0);
  log = cluster.read();
  const pid_t later_pid = cluster.child(later).pid();
  for (const auto& o : log.outcomes) {
    if (o.pid == later_pid) {
      EXPECT_GE(o.slot, log.adding[later_pid] / kSecond)
          << "the second late starter ran an old slot: " << o.status << " " << o.detail;
    }
  }
  const auto verdict =
      testing::check_runs(log, f_high + 1, stop_at / kSecond - 2, lock_busy_slots(log));
  expect_no_violation(verdict);
  expect_clean_outcomes(log);
  std::printf(
      "[ measure  ] %s: last claimed slot %lld; the late starter came at %lld and ran the "
      "latest 2 of %lld missed slots\n",
      b.name.c_str(), last_claimed, f_low, f_low - 1 - last_claimed);
}

// Runs of 1.5 s every second under forbid: never two at once across the members; the slots that
// come while one runs are skipped (RunStatus::skipped, never store_error).
TEST_P(SchedulerFault, RunsLongerThanThePeriodAreSkippedNotOverlapped) {
  Cluster cluster(GetParam(), 1500ms);
  for (int i = 0; i < 3; ++i) {
    cluster.start();
  }
  ASSERT_TRUE(cluster.wait_started()) << "a member never added its job";
  std::this_thread::sleep_for(scheduler_seconds());
  const long long stop_at = testing::wall_ns();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster.stop(i), 0) << "member " << i;
  }
  const ClusterLog log = cluster.read();
  const long long first = first_common_slot(log);
  const long long last = stop_at / kSecond - 3;
  const auto busy = lock_busy_slots(log);
  const auto verdict = testing::check_runs(log, first, last, busy);
  expect_no_violation(verdict);
  expect_clean_outcomes(log);
  EXPECT_GE(verdict.ran_in_window, 2u);
  EXPECT_GE(verdict.missing.size(), 2u) << "no slot came while a run ran";
  std::printf(
      "[ measure  ] %s: 1.5 s runs, slots %lld..%lld: %zu ran, %zu skipped for the "
      "running one\n",
      GetParam().name.c_str(), first, last, verdict.ran_in_window, verdict.missing.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerFault, ::testing::ValuesIn(testing::every_backend()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace heartlock
