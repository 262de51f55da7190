// The file backend when its files are tampered with: the lock is the file at the lock path, so a
// holder whose file or directory is moved, removed or replaced must learn at once that it lost;
// and only our own lock files, in a directory nobody else may rename them in, are used.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "heartlock/heartlock.h"

#include "../../src/file/file_lease.h"
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

constexpr uid_t kNobody = 65534;
constexpr int kExitLost = 79;
constexpr int kExitUnavailable = 69;

// A ttl this long is never renewed during a test (renewals come every ttl/3): whatever notices a
// loss is the watch, not a renewal.
constexpr auto kNoRenewal = std::chrono::milliseconds(1h);

// How long a watched lease may take to learn of a loss. A bound, not an expected duration: with
// the watch it takes milliseconds; without it, the next renewal is 20 minutes away.
constexpr auto kNoticeBound = 10s;

// The inotify instances process `pid` has open, as paths under /proc.
std::vector<std::string> inotify_fds(pid_t pid) {
  std::vector<std::string> found;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(fds.c_str());
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    char target[64] = {};
    std::string link = fds + "/" + e->d_name;
    if (::readlink(link.c_str(), target, sizeof target - 1) > 0 &&
        std::string_view(target) == "anon_inode:inotify") {
      found.push_back("/proc/" + std::to_string(pid) + "/fdinfo/" + e->d_name);
    }
  }
  if (d != nullptr) {
    ::closedir(d);
  }
  return found;
}

// The number of inotify instances this process has open.
int inotify_instances() { return static_cast<int>(inotify_fds(::getpid()).size()); }

// Whether process `pid` has an inotify watch on the file at `path`: a lease's watch has started
// (FileLease::kArmDelay after acquisition) once one is on its lock file.
bool watches_file(pid_t pid, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return false;
  }
  std::ostringstream ino;
  ino << " ino:" << std::hex << st.st_ino << ' ';
  for (const std::string& info : inotify_fds(pid)) {
    std::ifstream in(info);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("inotify ") && line.find(ino.str()) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

class FileTamperTest : public ::testing::Test {
 protected:
  std::string locks() const { return dir_.path() + "/locks"; }
  std::string moved() const { return dir_.path() + "/locks.old"; }
  std::string url() const { return "file://" + locks(); }
  std::string lock_path(const std::string& name) const {
    return locks() + "/" + detail::lock_file_name(name);
  }
  std::unique_ptr<Store> open() { return testing::open_store(url()); }

  // Options for a lease that records how it was told it lost.
  LeaseOptions watched() {
    return {.ttl = kNoRenewal, .on_lost = [this](LostReason reason, std::string_view) {
              told_.store(static_cast<int>(reason));
            }};
  }
  // Waits (bounded) until this process watches the lock file of `name`: moves from then on are
  // seen by the watch, at once, rather than when it starts.
  bool watch_started(const std::string& name, pid_t pid = ::getpid()) {
    return eventually([&] { return watches_file(pid, lock_path(name)); }, kNoticeBound);
  }
  // Waits (bounded) for on_lost; the reason it gave, or "(not told)".
  std::string told_lost() {
    if (!eventually([&] { return told_.load() >= 0; }, kNoticeBound)) {
      return "(not told)";
    }
    return std::string(to_string(static_cast<LostReason>(told_.load())));
  }

  testing::TempDir dir_;
  std::atomic<int> told_{-1};
};

// --- the lock file must stay the lock -------------------------------------------------------

TEST_F(FileTamperTest, DirectoryMovedAwayIsLostAtOnce) {
  auto store = open();
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(watch_started("job"));
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::backend_lost));
  EXPECT_TRUE(got->lease().lost());
  EXPECT_EQ(got->lease().lost_reason(), LostReason::backend_lost);
}

TEST_F(FileTamperTest, LeaseAfterAReleaseIsWatchedToo) {
  auto store = open();
  for (int i = 0; i < 3; ++i) {  // each one's watch started, so the next one reuses its instance
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    ASSERT_TRUE(watch_started("job"));
    ASSERT_THAT(got->lease().release(), IsOk());
  }
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(watch_started("job"));
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::backend_lost));
}

TEST_F(FileTamperTest, LockFileRenamedAwayIsLostAtOnce) {
  auto store = open();
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(watch_started("job"));
  ASSERT_EQ(::rename(lock_path("job").c_str(), (locks() + "/elsewhere").c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::backend_lost));
}

TEST_F(FileTamperTest, LockFileUnlinkedIsLostAtOnce) {
  auto store = open();
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(watch_started("job"));
  ASSERT_EQ(::unlink(lock_path("job").c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::backend_lost));
}

TEST_F(FileTamperTest, FileRenamedOverTheLockFileIsTakenOverAtOnce) {
  auto store = open();
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  ASSERT_TRUE(watch_started("job"));
  // What a takeover does: a new file renamed over the path.
  std::ofstream(locks() + "/.new") << "someone else\n";
  ASSERT_EQ(::rename((locks() + "/.new").c_str(), lock_path("job").c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::taken_over));
}

// A record rewritten in place with a checksum-valid but impossible ttl_ms (INT64_MAX) once
// overflowed into "ttl -1ms" and let a contender take over the live holder. Out-of-range fields
// make the record unreadable, and an unreadable record of a lock whose holder still has its flock
// counts as held.
TEST_F(FileTamperTest, CraftedRecordDoesNotHandALiveHoldersLockToAnother) {
  auto store = open();
  auto got = store->try_acquire("job", {.ttl = kNoRenewal});
  ASSERT_THAT(got, IsAcquired());
  std::string bytes;
  {
    std::ifstream in(lock_path("job"));
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::string body = bytes.substr(bytes.find('\n') + 1);
  const std::string key = "ttl_ms ";
  auto at = body.find(key);
  ASSERT_NE(at, std::string::npos);
  at += key.size();
  body.replace(at, body.find('\n', at) - at, "9223372036854775807");
  char header[64];
  std::snprintf(
      header, sizeof header, "heartlock-lock 1 %zu %08lx\n", body.size(),
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  std::ofstream(lock_path("job"), std::ios::in | std::ios::out) << header << body;
  auto contender = open();
  EXPECT_THAT(contender->try_acquire("job", {}), IsBusy());
  auto info = contender->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_NE(info->state, LockState::free);
}

// Before its watch starts, a lease learns of a move when the watch starts: at most
// FileLease::kArmDelay late, but it does learn.
TEST_F(FileTamperTest, LeaseMovedWithinItsFirst100msIsStillLost) {
  auto store = open();
  const auto start = std::chrono::steady_clock::now();
  auto got = store->try_acquire("job", watched());
  ASSERT_THAT(got, IsAcquired());
  if (watches_file(::getpid(), lock_path("job"))) {
    GTEST_SKIP() << "the watch started before the move: too slow to test the first 100 ms";
  }
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  EXPECT_EQ(told_lost(), to_string(LostReason::backend_lost));
  EXPECT_GE(std::chrono::steady_clock::now() - start, detail::FileLease::kArmDelay)
      << "told before the watch could have started";
  EXPECT_TRUE(got->lease().lost());
}

TEST_F(FileTamperTest, RenewAfterTheDirectoryWasReplacedSaysTakenOver) {
  auto store = open();
  auto got = store->try_acquire("job", {.ttl = kNoRenewal, .keepalive = false});
  ASSERT_THAT(got, IsAcquired());
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  auto other = open();  // creates a new directory at the old path
  auto theirs = other->try_acquire("job", {});
  ASSERT_THAT(theirs, IsAcquired());
  EXPECT_EQ(theirs->lease().token(), 1u);
  EXPECT_THAT(got->lease().renew(), HasErrc(Errc::lost));
  EXPECT_EQ(got->lease().lost_reason(), LostReason::taken_over);
}

TEST_F(FileTamperTest, ReleaseAfterTheDirectoryMovedReportsTheLossAndLeavesTheNewHolderAlone) {
  auto store = open();
  auto got = store->try_acquire("job", {.ttl = kNoRenewal, .keepalive = false});
  ASSERT_THAT(got, IsAcquired());
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  auto other = open();
  auto theirs = other->try_acquire("job", {});
  ASSERT_THAT(theirs, IsAcquired());
  EXPECT_THAT(got->lease().release(), HasErrc(Errc::lost));
  EXPECT_EQ(got->lease().lost_reason(), LostReason::taken_over);
  auto info = other->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->state, LockState::held);
  EXPECT_THAT(open()->try_acquire("job", {}), IsBusy());
}

TEST_F(FileTamperTest, StoreWhoseDirectoryMovedDoesNotAcquireOutOfSight) {
  auto store = open();
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::unavailable));
}

TEST_F(FileTamperTest, LeaseWatchesAreNotLeaked) {
  auto store = open();
  const int before = inotify_instances();
  for (int i = 0; i < 300; ++i) {
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    ASSERT_THAT(got->lease().release(), IsOk());
  }
  EXPECT_LE(inotify_instances(), before + 1) << "one instance, reused by each acquisition";
}

TEST_F(FileTamperTest, StartedLeaseWatchesAreReused) {
  auto store = open();
  const int before = inotify_instances();
  for (int i = 0; i < 10; ++i) {
    auto got = store->try_acquire("job", {});
    ASSERT_THAT(got, IsAcquired());
    ASSERT_TRUE(watch_started("job"));
    ASSERT_THAT(got->lease().release(), IsOk());
  }
  EXPECT_LE(inotify_instances(), before + 1) << "one instance, reused by each acquisition";
}

// Closing an inotify instance that has had a watch costs milliseconds (at exit, too): a lease
// released within its first 100 ms never creates one.
TEST_F(FileTamperTest, ShortLeaseCreatesNoInotifyInstance) {
  auto store = open();
  const int before = inotify_instances();
  const auto start = std::chrono::steady_clock::now();
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  const int held = inotify_instances();
  ASSERT_THAT(got->lease().release(), IsOk());
  if (std::chrono::steady_clock::now() - start >= detail::FileLease::kArmDelay) {
    GTEST_SKIP() << "held longer than 100 ms: too slow to tell";
  }
  EXPECT_EQ(held, before);
  EXPECT_EQ(inotify_instances(), before);
}

// `heartlock run` as a user runs it: the directory moved under a running command, and a second
// run on a new directory at the same path. They must not overlap.
TEST_F(FileTamperTest, CliHolderWhoseDirectoryMovedStopsBeforeTheNextRunStarts) {
  const std::string out1 = dir_.file("out1");
  const std::string out2 = dir_.file("out2");
  std::vector<std::string> first_argv = {
      testing::heartlock_binary(),
      "run",
      "-b",
      locks(),
      "-k",
      "x",
      "--",
      "sh",
      "-c",
      "while :; do date +%s%N >> " + out1 + "; sleep 0.02; done"};
  auto first = Child::fork([&]() -> int {
    ::setpgid(0, 0);
    std::vector<char*> argv;
    for (auto& a : first_argv) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    return 127;
  });
  ASSERT_TRUE(eventually([&] { return std::ifstream(out1).peek() != EOF; }))
      << "the first command never ran";
  // Moved within its first 100 ms, the first holder would learn of it only when its watch starts,
  // and the second run could start meanwhile.
  ASSERT_TRUE(watch_started("x", first.pid())) << "the first holder never started its watch";
  ASSERT_EQ(::rename(locks().c_str(), moved().c_str()), 0);
  auto second = testing::run_command(
      {testing::heartlock_binary(), "run", "-b", locks(), "-k", "x", "--", "sh", "-c",
       "for i in 1 2 3 4 5; do date +%s%N >> " + out2 + "; sleep 0.02; done"});
  EXPECT_EQ(second.exit_code, 0) << second.err;

  auto status = first.wait_for(kNoticeBound);
  EXPECT_TRUE(status) << "the first holder never noticed that its directory moved";
  if (status) {
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == kExitLost) << "status " << *status;
  }

  auto lines = [](const std::string& path) {
    std::vector<long long> v;
    std::ifstream in(path);
    for (long long t = 0; in >> t;) {
      v.push_back(t);
    }
    return v;
  };
  auto first_lines = lines(out1);
  auto second_lines = lines(out2);
  ASSERT_FALSE(first_lines.empty());
  ASSERT_FALSE(second_lines.empty());
  EXPECT_LT(*std::max_element(first_lines.begin(), first_lines.end()),
            *std::min_element(second_lines.begin(), second_lines.end()))
      << "the first command was still running when the second started";
}

// --- only our own files, in a directory nobody else may rename them in ---------------------

class FileOwnershipTest : public FileTamperTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root to give a file away";  // CI runs as root
    }
  }
  // A lock file for `name` that belongs to nobody.
  void plant_foreign_lock_file(const std::string& dir, const std::string& name) {
    std::string path = dir + "/" + detail::lock_file_name(name);
    std::ofstream(path) << "";
    ASSERT_EQ(::chown(path.c_str(), kNobody, kNobody), 0);
  }
};

TEST_F(FileOwnershipTest, LockFileOwnedByAnotherUserIsRefused) {
  auto store = open();
  plant_foreign_lock_file(locks(), "job");
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::permission_denied));
  EXPECT_NE(got.error().message.find(lock_path("job")), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("uid 65534"), std::string::npos) << got.error().message;
}

TEST_F(FileOwnershipTest, CliExitsUnavailableOnALockFileOwnedByAnotherUser) {
  ASSERT_EQ(::mkdir(locks().c_str(), 0700), 0);
  plant_foreign_lock_file(locks(), "x");
  auto r = testing::run_command(
      {testing::heartlock_binary(), "run", "-b", locks(), "-k", "x", "--", "true"});
  EXPECT_EQ(r.exit_code, kExitUnavailable);
  EXPECT_NE(r.err.find(lock_path("x")), std::string::npos) << r.err;
}

TEST_F(FileOwnershipTest, StickyDirectoryUsesOnlyOurOwnFiles) {
  ASSERT_EQ(::mkdir(locks().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(locks().c_str(), 01777), 0);
  plant_foreign_lock_file(locks(), "theirs");
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->try_acquire("theirs", {}), HasErrc(Errc::permission_denied));
  auto mine = store->try_acquire("mine", {});
  ASSERT_THAT(mine, IsAcquired());
  EXPECT_THAT(mine->lease().release(), IsOk());
}

TEST_F(FileTamperTest, DirectoryWritableByOthersWithoutStickyBitIsRefused) {
  for (mode_t mode : {0777, 0770, 0730, 0703}) {
    std::string dir = dir_.file("open-" + std::to_string(mode));
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    EXPECT_THAT(Store::open("file://" + dir), HasErrc(Errc::permission_denied)) << std::oct << mode;
  }
}

TEST_F(FileTamperTest, StickyWorldWritableDirectoryIsAccepted) {
  ASSERT_EQ(::mkdir(locks().c_str(), 0700), 0);
  ASSERT_EQ(::chmod(locks().c_str(), 01777), 0);
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_THAT(got->lease().release(), IsOk());
}

}  // namespace
}  // namespace heartlock
