// The exec library (src/exec): many supervised jobs in one process at once, each on its own
// thread, on one store. Each must see exactly its own outcome, reap only its own child, and leave
// no process of a stopped job behind.
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../../cli/stop_rule.h"
#include "../support/test_support.h"
#include "exec/fd.h"
#include "exec/supervisor.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using exec::Outcome;
using testing::eventually;

// What each job does and how it must end.
enum class Case {
  exits,          // exits with its own code
  times_out,      // runs past its timeout; its grandchild ignores SIGTERM
  lease_broken,   // its lease is broken from outside; its grandchild ignores SIGTERM
  never_beats,    // explicit heartbeats, none given: the lease reaches its deadline
  leaves_orphan,  // exits with its own code, leaving a grandchild running
  stopped,        // stopped with Supervisor::stop()
  cannot_start,   // no such program
};
constexpr Case kCases[] = {Case::exits,       Case::times_out,     Case::lease_broken,
                           Case::never_beats, Case::leaves_orphan, Case::stopped,
                           Case::cannot_start};

struct Job {
  Case what = Case::exits;
  int code = 0;             // the exit code it is given (exits, leaves_orphan)
  std::string pid_file;     // where COMMAND writes its pid
  std::string orphan_file;  // where it writes its grandchild's pid, if it starts one
  std::atomic<exec::Supervisor*> supervisor{nullptr};
  std::atomic<std::uint64_t> token{0};
  std::optional<Outcome> outcome;
  std::string error;  // why the job could not be run
};

std::optional<pid_t> read_pid(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  if (in >> pid && pid > 0) {
    return pid;
  }
  return std::nullopt;
}

// A grandchild that ignores SIGTERM, so that only the SIGKILL after the grace ends it.
std::string stubborn_grandchild(const Job& job) {
  return "(trap '' TERM; exec sleep 100) & echo $! > " + job.orphan_file + "; ";
}

std::vector<std::string> command_for(const Job& job) {
  const std::string me = "echo $$ > " + job.pid_file + "; ";
  switch (job.what) {
    case Case::exits:
      return {"sh", "-c", me + "exit " + std::to_string(job.code)};
    case Case::times_out:
    case Case::lease_broken:
    case Case::never_beats:
      return {"sh", "-c", me + stubborn_grandchild(job) + "wait"};
    case Case::leaves_orphan:
      return {
          "sh", "-c",
          me + "sleep 100 & echo $! > " + job.orphan_file + "; exit " + std::to_string(job.code)};
    case Case::stopped:
      return {"sh", "-c", me + "exec sleep 100"};
    case Case::cannot_start:
      return {"/nonexistent/heartlock-exec-test"};
  }
  return {};
}

LeaseOptions lease_options_for(Case what) {
  LeaseOptions o;
  if (what == Case::lease_broken) {
    o.ttl = 3s;  // renewed every second: the break is noticed within about one
  }
  if (what == Case::never_beats) {
    // Counted from the acquisition, before 50 commands start at once: long enough that a loaded
    // sanitizer run has each COMMAND write its pid before the deadlock stops it (1.5 s was not).
    o.stale_after = 4s;
  }
  o.kill_grace = std::min<std::chrono::milliseconds>(300ms, cli::max_kill_grace(o));
  return o;
}

// Acquires the job's lease and supervises its command; records the outcome.
void run_job(Store& store, Job& job, const std::string& name, std::latch& ready) {
  exec::Fd lost(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  LeaseOptions options = lease_options_for(job.what);
  options.on_lost = [fd = lost.get()](LostReason, std::string_view) {
    const std::uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  };
  auto acquired = store.try_acquire(name, options);
  ready.arrive_and_wait();  // every job starts its command at about the same time
  if (!acquired || !acquired->acquired()) {
    job.error = "cannot acquire " + name;
    return;
  }
  Lease& lease = acquired->lease();
  job.token = lease.token();
  exec::Supervisor supervisor(
      lease,
      exec::JobSpec{
          .argv = command_for(job),
          .mode = job.what == Case::never_beats ? exec::HeartbeatMode::explicit_
                                                : exec::HeartbeatMode::alive,
          // Long enough for COMMAND to write its pids first on a loaded machine.
          .timeout = job.what == Case::times_out ? std::optional<std::chrono::milliseconds>(2s)
                                                 : std::nullopt,
          .kill_grace = options.kill_grace,
          .stop_margin = cli::stop_margin(options),
          .stale_after = options.stale_after,
      });
  job.supervisor = &supervisor;
  job.outcome = supervisor.run(lost.get());
  job.supervisor = nullptr;
  (void)lease.release();
}

class ExecTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
};

TEST_F(ExecTest, FiftyJobsInOneProcessEachEndTheirOwnWay) {
  constexpr int kJobs = 50;
  auto store = testing::open_store("file://" + dir_.file("locks"));
  ASSERT_NE(store, nullptr);
  std::vector<Job> jobs(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    jobs[i].what = kCases[i % std::size(kCases)];
    jobs[i].code = 10 + i;
    jobs[i].pid_file = dir_.file("pid-" + std::to_string(i));
    jobs[i].orphan_file = dir_.file("orphan-" + std::to_string(i));
  }
  std::latch ready(kJobs);
  std::vector<std::thread> threads;
  for (int i = 0; i < kJobs; ++i) {
    threads.emplace_back(run_job, std::ref(*store), std::ref(jobs[i]), "jobs/" + std::to_string(i),
                         std::ref(ready));
  }
  // From outside: break the leases of some jobs and stop others, once their commands run.
  for (Job& job : jobs) {
    if (job.what != Case::lease_broken && job.what != Case::stopped) {
      continue;
    }
    const std::string& wait_for = job.what == Case::lease_broken ? job.orphan_file : job.pid_file;
    EXPECT_TRUE(eventually([&] { return read_pid(wait_for).has_value(); }, 60s));
    if (job.what == Case::stopped) {
      EXPECT_TRUE(eventually([&] { return job.supervisor.load() != nullptr; }, 60s));
      job.supervisor.load()->stop();
    } else {
      const auto index = static_cast<std::size_t>(&job - jobs.data());
      EXPECT_TRUE(store->break_lease("jobs/" + std::to_string(index), job.token.load()));
    }
  }
  for (auto& t : threads) {
    t.join();
  }

  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    SCOPED_TRACE("job " + std::to_string(i));
    ASSERT_EQ(job.error, "");
    ASSERT_TRUE(job.outcome.has_value());
    const Outcome& out = *job.outcome;
    if (job.what == Case::cannot_start) {
      EXPECT_EQ(out.kind, Outcome::Kind::spawn_failed);
      EXPECT_EQ(out.error, ENOENT);
      continue;
    }
    // Its own child, and no other job's, was reaped by its supervisor.
    EXPECT_EQ(std::optional<pid_t>(out.pid), read_pid(job.pid_file));
    switch (job.what) {
      case Case::exits:
      case Case::leaves_orphan:
        EXPECT_EQ(out.kind, Outcome::Kind::exited);
        EXPECT_EQ(out.code, job.code);
        break;
      case Case::times_out:
        EXPECT_EQ(out.kind, Outcome::Kind::timed_out);
        break;
      case Case::lease_broken:
      case Case::never_beats:
        EXPECT_EQ(out.kind, Outcome::Kind::lost);
        break;
      case Case::stopped:
        EXPECT_EQ(out.kind, Outcome::Kind::signaled);
        EXPECT_EQ(out.signal, SIGTERM);
        break;
      case Case::cannot_start:
        break;
    }
    EXPECT_TRUE(eventually([&] { return !testing::process_alive(out.pid); }, 10s));
    // A stopped job's whole group is gone, its stubborn grandchild included.
    if (job.what == Case::times_out || job.what == Case::lease_broken ||
        job.what == Case::never_beats) {
      const auto orphan = read_pid(job.orphan_file);
      ASSERT_TRUE(orphan.has_value());
      EXPECT_TRUE(eventually([&] { return !testing::process_alive(*orphan); }, 10s));
    }
    if (job.what == Case::leaves_orphan) {
      // A job that ended by itself is not stopped: its background child runs on.
      const auto orphan = read_pid(job.orphan_file);
      ASSERT_TRUE(orphan.has_value());
      EXPECT_TRUE(testing::process_alive(*orphan));
      ::kill(*orphan, SIGKILL);
    }
  }
}

}  // namespace
}  // namespace heartlock
