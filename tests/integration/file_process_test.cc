// The file backend with real processes: crashes, pauses, deadlocks, races, planted files and
// util-linux flock(1). Every contender is a forked process with its own Store.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/file/name_codec.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::eventually;
using testing::HasErrc;
using testing::IsAcquired;
using testing::IsBusy;
using testing::IsOk;
using testing::Signal;

class FileProcessTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto store = Store::open(url());
    if (!store) {
      ADD_FAILURE() << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }
  std::string url() const { return "file://" + dir_.path() + "/locks"; }
  std::string lock_path(const std::string& name) const {
    return dir_.path() + "/locks/" + detail::lock_file_name(name);
  }
  // A child that acquires `name` with `options`, says 'A' (or 'B' if busy), and then runs `then`.
  Child holder(const std::string& name, LeaseOptions options, Signal& ready,
               std::function<int(Lease&)> then) {
    return Child::fork([=, this, &ready]() -> int {
      auto store = open();
      auto got = store->try_acquire(name, options);
      if (!got || got->busy()) {
        ready.notify('B');
        return 2;
      }
      ready.notify('A');
      return then(got->lease());
    });
  }
  testing::TempDir dir_;
};

int sleep_forever(Lease&) {
  for (;;) {
    ::pause();
  }
}

TEST_F(FileProcessTest, CrashedHolderIsTakenOverAtOnce) {
  Signal ready;
  auto child = holder("job", {.ttl = 1h}, ready, sleep_forever);
  ASSERT_EQ(ready.wait(), 'A');
  auto store = open();
  EXPECT_THAT(store->try_acquire("job", {}), IsBusy());
  child.signal(SIGKILL);
  ASSERT_TRUE(child.wait_for(10s));
  auto info = store->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->state, LockState::dead);
  // No waiting for the hour-long ttl: the kernel freed the lock with the process.
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_EQ(got->lease().token(), info->holder->token + 1);
}

TEST_F(FileProcessTest, StoppedHolderIsTakenOverAndFencedWhenItResumes) {
  Signal ready;
  auto child = holder("job", {.ttl = 150ms}, ready, [](Lease& lease) {
    // Runs after SIGCONT: wait until the keepalive notices, then check the fencing.
    if (!eventually([&] { return lease.lost(); }, 20s)) {
      return 10;
    }
    // The deadline timer may tell (backend_lost) before a renewal finds the takeover.
    if (lease.lost_reason() != LostReason::taken_over &&
        lease.lost_reason() != LostReason::backend_lost) {
      return 11;
    }
    auto released = lease.release();
    return !released && released.error().code == Errc::lost ? 0 : 12;
  });
  ASSERT_EQ(ready.wait(), 'A');
  child.signal(SIGSTOP);
  auto store = open();
  auto mine = testing::acquire_eventually(*store, "job");
  ASSERT_TRUE(mine) << "an expired holder must be taken over";
  child.signal(SIGCONT);
  EXPECT_EQ(child.exit_code(), 0);
  // The old holder's release did not touch our lock.
  EXPECT_THAT(mine->renew(), IsOk());
  auto other = open();
  EXPECT_THAT(other->try_acquire("job", {}), IsBusy());
}

TEST_F(FileProcessTest, DeadlockedHolderIsToldAndTakenOver) {
  Signal ready;
  Signal taken;
  auto child = holder("job", {.ttl = 90ms, .stale_after = 200ms}, ready, [&](Lease& lease) {
    // Alive and renewing, but never heartbeating: deadlocked.
    if (!eventually([&] { return lease.lost(); }, 20s)) {
      return 10;
    }
    taken.wait();
    return lease.lost_reason() == LostReason::deadlocked && !lease.release() ? 0 : 11;
  });
  ASSERT_EQ(ready.wait(), 'A');
  auto store = open();
  auto mine = testing::acquire_eventually(*store, "job");
  ASSERT_TRUE(mine);
  taken.notify();
  EXPECT_EQ(child.exit_code(), 0);
  EXPECT_THAT(mine->renew(), IsOk());
  EXPECT_THAT(open()->try_acquire("job", {}), IsBusy());
}

TEST_F(FileProcessTest, KillStaleKillsTheDeadlockedHolderFirst) {
  Signal ready;
  auto child = holder("job", {.ttl = 90ms, .stale_after = 200ms}, ready, sleep_forever);
  ASSERT_EQ(ready.wait(), 'A');
  auto store = open();
  auto mine = testing::acquire_eventually(*store, "job", {.kill_stale = true, .kill_grace = 5s});
  ASSERT_TRUE(mine);
  auto status = child.wait_for(10s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
}

TEST_F(FileProcessTest, ThirtyTwoProcessStartRaceHasExactlyOneWinner) {
  constexpr int kContenders = 32;
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; ++round) {
    int start[2];
    int results[2];
    int done[2];
    ASSERT_EQ(::pipe(start), 0);
    ASSERT_EQ(::pipe(results), 0);
    ASSERT_EQ(::pipe(done), 0);
    std::string name = "race-" + std::to_string(round);
    std::vector<Child> children;
    for (int i = 0; i < kContenders; ++i) {
      children.push_back(Child::fork([&]() -> int {
        ::close(start[1]);
        ::close(done[1]);
        auto store = open();
        char c = 0;
        (void)!::read(start[0], &c, 1);  // EOF for everyone at once
        auto got = store->try_acquire(name, {});
        char verdict = !got ? 'E' : got->acquired() ? 'W' : 'L';
        (void)!::write(results[1], &verdict, 1);
        (void)!::read(done[0], &c, 1);  // hold until every contender has tried
        return 0;
      }));
    }
    ::close(start[0]);
    ::close(done[0]);
    ::close(results[1]);
    ::close(start[1]);  // go
    int winners = 0;
    int losers = 0;
    for (int i = 0; i < kContenders; ++i) {
      char verdict = 0;
      ASSERT_EQ(::read(results[0], &verdict, 1), 1);
      winners += verdict == 'W';
      losers += verdict == 'L';
    }
    ::close(done[1]);
    ::close(results[0]);
    for (auto& c : children) {
      EXPECT_EQ(c.exit_code(), 0);
    }
    EXPECT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(losers, kContenders - 1) << "round " << round;
  }
}

TEST_F(FileProcessTest, TwoTakersOfOneStaleLockExactlyOneWins) {
  constexpr int kTakers = 8;
  for (int round = 0; round < 8; ++round) {
    std::string name = "stale-" + std::to_string(round);
    Signal ready;
    // Alive but never renewing: expired after its ttl.
    auto stale = holder(name, {.ttl = 40ms, .keepalive = false}, ready, sleep_forever);
    ASSERT_EQ(ready.wait(), 'A');
    auto store = open();
    ASSERT_TRUE(eventually([&] {
      auto info = store->inspect(name);
      return info && info->state == LockState::expired;
    }));
    int start[2];
    int results[2];
    ASSERT_EQ(::pipe(start), 0);
    ASSERT_EQ(::pipe(results), 0);
    std::vector<Child> takers;
    for (int i = 0; i < kTakers; ++i) {
      takers.push_back(Child::fork([&]() -> int {
        ::close(start[1]);
        auto mine = open();
        char c = 0;
        (void)!::read(start[0], &c, 1);
        auto got = mine->try_acquire(name, {});
        char verdict = !got ? 'E' : got->acquired() ? 'W' : 'L';
        (void)!::write(results[1], &verdict, 1);
        ::pause();  // keep holding until killed
        return 0;
      }));
    }
    ::close(start[0]);
    ::close(results[1]);
    ::close(start[1]);
    int winners = 0;
    for (int i = 0; i < kTakers; ++i) {
      char verdict = 0;
      ASSERT_EQ(::read(results[0], &verdict, 1), 1);
      EXPECT_NE(verdict, 'E');
      winners += verdict == 'W';
    }
    ::close(results[0]);
    EXPECT_EQ(winners, 1) << "round " << round;
  }
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST_F(FileProcessTest, UnreadableRecordOfALiveHolderCountsAsHeld) {
  for (const std::string& junk :
       {std::string(), std::string("heartlock-lock 1 400 0badf00d\nstate held\n"),
        std::string("garbage"), std::string(10 << 20, 'x')}) {
    Signal ready;
    auto child = holder("job", {.ttl = 1h}, ready, sleep_forever);
    ASSERT_EQ(ready.wait(), 'A');
    write_file(lock_path("job"), junk);  // same inode: the child still holds its flock
    auto store = open();
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsBusy()) << "junk of " << junk.size() << " bytes";
    EXPECT_EQ(got->holder().state, LockState::held);
    EXPECT_FALSE(got->holder().detail.empty());
    child.signal(SIGKILL);
    ASSERT_TRUE(child.wait_for(10s));
  }
}

TEST_F(FileProcessTest, UnreadableRecordWithoutAHolderIsReplacedWithAWarning) {
  auto store = open();
  { ASSERT_THAT(store->try_acquire("job", {}), IsAcquired()); }
  for (const std::string& junk : {std::string("garbage"), std::string(10 << 20, 'x'),
                                  std::string("heartlock-lock 1 9 00000000\nstate")}) {
    write_file(lock_path("job"), junk);
    auto info = store->inspect("job");
    ASSERT_THAT(info, IsOk());
    EXPECT_EQ(info->state, LockState::free);
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    EXPECT_GT(got->lease().token(), 1u);
    ASSERT_THAT(got->lease().release(), IsOk());
    struct stat st {};
    ASSERT_EQ(::stat(lock_path("job").c_str(), &st), 0);
    EXPECT_LT(st.st_size, 8192) << "the junk was cut off";
  }
}

TEST_F(FileProcessTest, SymlinkPlantedAtTheLockPathIsRefused) {
  auto store = open();
  std::string target = dir_.file("victim");
  write_file(target, "precious");
  ASSERT_EQ(::symlink(target.c_str(), lock_path("job").c_str()), 0);
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::permission_denied));
  std::ifstream in(target);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "precious");
}

TEST_F(FileProcessTest, FifoPlantedAtTheLockPathDoesNotHang) {
  auto store = open();
  ASSERT_EQ(::mkfifo(lock_path("job").c_str(), 0600), 0);
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::permission_denied));
}

TEST_F(FileProcessTest, StoreDirectoryThatIsASymlinkIsRefused) {
  ASSERT_EQ(::mkdir(dir_.file("real").c_str(), 0700), 0);
  ASSERT_EQ(::symlink(dir_.file("real").c_str(), dir_.file("link").c_str()), 0);
  EXPECT_THAT(Store::open("file://" + dir_.file("link")), HasErrc(Errc::permission_denied));
}

TEST_F(FileProcessTest, StoreDirectoryOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to give a directory away";  // CI runs as root
  }
  ASSERT_EQ(::mkdir(dir_.file("theirs").c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir_.file("theirs").c_str(), 65534, 65534), 0);
  EXPECT_THAT(Store::open("file://" + dir_.file("theirs")), HasErrc(Errc::permission_denied));
}

TEST_F(FileProcessTest, CreatedDirectoryIsPrivate) {
  auto store = open();
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() + "/locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(FileProcessTest, UtilLinuxFlockAndHeartlockExcludeEachOther) {
  auto store = open();
  {
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    auto r = testing::run_command({"flock", "-n", lock_path("job"), "true"});
    EXPECT_EQ(r.exit_code, 1) << "flock(1) must see heartlock's lock: " << r.err;
  }
  auto flock_holder = Child::fork([&]() -> int {
    ::setpgid(0, 0);  // so the test can end flock(1) and its command together
    std::string path = lock_path("job");
    ::execlp("flock", "flock", "-n", path.c_str(), "sleep", "60", nullptr);
    return 127;
  });
  ASSERT_TRUE(eventually([&] {
    auto info = store->inspect("job");
    return info && info->state == LockState::held;
  }));
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsBusy());
  ASSERT_TRUE(got->holder().holder);
  EXPECT_TRUE(got->holder().holder->foreign);
  // Long past any ttl, flock(1)'s hold is never taken over: it writes no heartbeats.
  EXPECT_THAT(store->try_acquire("job", {.ttl = 30ms}), IsBusy());
  ::kill(-flock_holder.pid(), SIGKILL);
  ASSERT_TRUE(flock_holder.wait_for(10s));
  EXPECT_TRUE(eventually([&] {
    auto again = store->try_acquire("job", {});
    return again && again->acquired();
  }));
}

TEST_F(FileProcessTest, TokensIncreaseAcrossProcesses) {
  constexpr int kWorkers = 6;
  constexpr int kRounds = 25;
  std::string log = dir_.file("tokens");
  std::vector<Child> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.push_back(Child::fork([&]() -> int {
      auto store = open();
      int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
      for (int i = 0; i < kRounds; ++i) {
        auto got = store->acquire("counter", {}, 30s);
        if (!got || got->busy()) {
          return 3;
        }
        std::string line = std::to_string(got->lease().token()) + "\n";
        (void)!::write(fd, line.data(), line.size());
      }
      return 0;
    }));
  }
  for (auto& w : workers) {
    EXPECT_EQ(w.exit_code(60s), 0);
  }
  std::ifstream in(log);
  std::uint64_t last = 0;
  int count = 0;
  for (std::uint64_t token = 0; in >> token; ++count) {
    EXPECT_GT(token, last) << "entry " << count;
    last = token;
  }
  EXPECT_EQ(count, kWorkers * kRounds);
}

}  // namespace
}  // namespace heartlock
