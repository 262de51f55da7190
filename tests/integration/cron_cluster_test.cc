// `heartlock cron` as a cluster runs it, on every backend: three daemon processes (the real
// executable) on one crontab with an every-second job that appends its $HEARTLOCK_SLOT to a log.
// One daemon is killed (-9) mid-run; the whole cluster is stopped for a while and started again;
// a late daemon catches up. The log and the run ledger (heartlock/ledger.h) must agree: each
// slot ran at most once, every slot of the window either ran or is recorded as missed, and at
// most the slot the killed daemon was running is neither.
//
// HEARTLOCK_CRON_SECONDS sets how long the cluster runs (default 6: `make test`; `make torture`
// sets 30). Timing is never asserted; waits are bounded polls.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/ledger.h"

#include "../support/backends.h"
#include "../support/cron_daemons.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_seconds;
using testing::Backend;
using testing::CronDaemons;

std::chrono::seconds cluster_seconds() {
  const char* s = std::getenv("HEARTLOCK_CRON_SECONDS");
  const long n = s != nullptr ? std::atol(s) : 0;
  return std::chrono::seconds(n > 0 ? n : 6);
}

class CronClusterTest : public ::testing::TestWithParam<Backend> {
 protected:
  // Every slot in [first, last] either ran (the log) or is recorded missed, never both; no slot
  // ran twice; the ledger's done entries are the log's slots. Returns the slots neither ran nor
  // missed.
  std::vector<sys_seconds> check_slots(CronDaemons& d, sys_seconds first, sys_seconds last) {
    const std::vector<sys_seconds> ran = d.log_slots();
    std::set<sys_seconds> ran_set(ran.begin(), ran.end());
    EXPECT_EQ(ran_set.size(), ran.size()) << "a slot ran twice:\n" << d.log_text();
    std::set<sys_seconds> missed, done;
    auto ledger = run_history(*d.store(), d.job(), 100000);
    EXPECT_TRUE(ledger.has_value()) << ledger.error().message;
    if (ledger) {
      for (const RunRecord& r : *ledger) {
        if (r.state == RunState::missed) {
          missed.insert(r.slot);
        } else if (r.state == RunState::done) {
          done.insert(r.slot);
        }
      }
    }
    std::vector<sys_seconds> neither;
    for (sys_seconds s = first; s <= last; s += 1s) {
      EXPECT_FALSE(ran_set.contains(s) && missed.contains(s)) << "slot " << s.time_since_epoch();
      if (!ran_set.contains(s) && !missed.contains(s)) {
        neither.push_back(s);
      }
    }
    for (sys_seconds s : done) {
      EXPECT_TRUE(ran_set.contains(s))
          << "the ledger says slot " << s.time_since_epoch() << " ran, the log does not";
    }
    for (sys_seconds s : ran_set) {
      // A slot whose daemon was killed may have run without its end in the ledger.
      if (!done.contains(s) && s >= first && s <= last) {
        EXPECT_TRUE(d.ledger_state(s) == RunState::running || d.ledger_state(s) == RunState::failed)
            << "slot " << s.time_since_epoch() << " ran but has no ledger entry";
      }
    }
    return neither;
  }
};

// The job runs half a second with a 1 s lease, and daemon 0 is killed while it runs one: its
// slot ran (the line is written first), and its lease, which no server can tell is orphaned,
// keeps the next slots from running (concurrency=forbid, recorded as skipped) until it expires:
// one slot or two (etcd rounds a lease up to whole seconds, and to its minimum TTL). At most one
// slot is left with no record at all: a claim the killed daemon made and did not run.
// Slots that neither ran nor were missed must be recorded as skipped: they fired while the job's
// previous run still held its lock (concurrency=forbid), which a loaded machine makes likelier.
void expect_only_skipped(CronDaemons& d, const std::vector<sys_seconds>& neither) {
  const auto ledger = d.ledger();
  for (sys_seconds s : neither) {
    auto it = ledger.find(s);
    EXPECT_TRUE(it != ledger.end() && it->second == RunState::skipped)
        << "slot " << s.time_since_epoch() << " neither ran nor was recorded missed or skipped\n"
        << d.output();
  }
}

TEST_P(CronClusterTest, EachSlotRunsOnceAndAKilledDaemonLosesAtMostOneSlot) {
  CronDaemons d(GetParam(), "* * * * * *", "ttl=1s",
                "echo \"$HEARTLOCK_SLOT $PPID\" >> {log}; sleep 0.5");
  for (int i = 0; i < 3; ++i) {
    d.start(i);
  }
  ASSERT_TRUE(d.wait_for_runs(2)) << d.output();
  const sys_seconds first = d.log_slots().front() + 1s;
  std::this_thread::sleep_for(cluster_seconds() / 2);
  // Killed right after it started a run (its line is the newest).
  ASSERT_TRUE(testing::eventually(
      [&] {
        auto runs = d.log_runs();
        return !runs.empty() && runs.back().second == d.pid(0);
      },
      60s))
      << d.output();
  d.kill(0);
  std::this_thread::sleep_for(cluster_seconds() / 2);
  const std::size_t before = d.log_slots().size();
  ASSERT_TRUE(d.wait_for_runs(before + 2)) << d.output();
  const sys_seconds last = d.log_slots().back() - 1s;
  d.stop(1);
  d.stop(2);
  std::size_t skipped = 0, unrecorded = 0;
  const auto ledger = d.ledger();
  for (sys_seconds s : check_slots(d, first, last)) {
    auto it = ledger.find(s);
    ++(it != ledger.end() && it->second == RunState::skipped ? skipped : unrecorded);
  }
  EXPECT_LE(unrecorded, 1u) << d.output();
  EXPECT_LE(skipped, 3u) << d.output();
}

TEST_P(CronClusterTest, SlotsWhileEveryDaemonIsDownAreRecordedMissedOnce) {
  CronDaemons d(GetParam(), "* * * * * *", "");
  for (int i = 0; i < 3; ++i) {
    d.start(i);
  }
  ASSERT_TRUE(d.wait_for_runs(2)) << d.output();
  const sys_seconds first = d.log_slots().front() + 1s;
  for (int i = 0; i < 3; ++i) {
    d.stop(i);
  }
  const sys_seconds down = d.log_slots().back();
  std::this_thread::sleep_for(5s);
  for (int i = 0; i < 3; ++i) {
    d.start(i);
  }
  ASSERT_TRUE(d.wait_for_runs(d.log_slots().size() + 3)) << d.output();
  const sys_seconds last = d.log_slots().back() - 1s;
  for (int i = 0; i < 3; ++i) {
    d.stop(i);
  }
  expect_only_skipped(d, check_slots(d, first, last));
  // At least the five seconds down (more: the daemons' start), none of them ran.
  std::size_t missed = 0;
  for (sys_seconds s = down + 1s; s <= last; s += 1s) {
    missed += d.ledger_state(s) == RunState::missed ? 1 : 0;
  }
  EXPECT_GE(missed, 5u) << d.output();
}

TEST_P(CronClusterTest, ALateDaemonCatchesUpAsTheJobSays) {
  // run-all: every slot missed while nobody ran runs once the first daemon is back.
  CronDaemons d(GetParam(), "* * * * * *", "missed=run-all max-runs=100 grace=1s");
  d.start(0);
  ASSERT_TRUE(d.wait_for_runs(2)) << d.output();
  const sys_seconds first = d.log_slots().front() + 1s;
  d.stop(0);
  std::this_thread::sleep_for(10s);
  const sys_seconds up = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  d.start(1);
  ASSERT_TRUE(d.wait_for_runs(d.log_slots().size() + 12)) << d.output();
  const sys_seconds last = d.log_slots().back() - 1s;
  d.stop(1);
  auto ran = d.log_slots();
  std::set<sys_seconds> ran_set(ran.begin(), ran.end());
  // Every slot up to the restart ran: before the stop, or caught up after it.
  for (sys_seconds s = first; s < up; s += 1s) {
    EXPECT_TRUE(ran_set.contains(s)) << "slot " << s.time_since_epoch() << " did not run\n"
                                     << d.output();
  }
  // Later slots that fired while the catch-up still held the job's lock are skipped
  // (concurrency=forbid), and recorded so.
  expect_only_skipped(d, check_slots(d, first, last));
}

INSTANTIATE_TEST_SUITE_P(Backends, CronClusterTest, ::testing::ValuesIn(testing::every_backend()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace heartlock
