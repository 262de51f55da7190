// `heartlock status --watch` on a pseudo-terminal, as a user at a terminal would see it: frames
// redrawn, q and Ctrl-C end it with their exit codes, the terminal is put back; and without a
// terminal it refuses.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>

#include "heartlock/heartlock.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kFrameStart = "\x1b[H";
constexpr std::string_view kLeaveScreen = "\x1b[?25h\x1b[?1049l";

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// `heartlock status --watch` with the slave side of a new pty as its controlling terminal and
// stdin/stdout/stderr. The test keeps both sides open: the slave to read back its modes.
class WatchOnPty {
 public:
  WatchOnPty(const std::string& dir, std::vector<std::string> extra) {
    winsize ws{.ws_row = 30, .ws_col = 160, .ws_xpixel = 0, .ws_ypixel = 0};
    if (::openpty(&master_, &slave_, nullptr, nullptr, &ws) != 0) {
      ADD_FAILURE() << "openpty failed";
      return;
    }
    ::tcgetattr(slave_, &before_);
    std::vector<std::string> args = {testing::heartlock_binary(), "-b", "file://" + dir, "status",
                                     "--watch"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      ::ioctl(slave_, TIOCSCTTY, 0);
      ::dup2(slave_, 0);
      ::dup2(slave_, 1);
      ::dup2(slave_, 2);
      ::close(master_);
      // A test runner started in the background may ignore SIGINT, and exec keeps that.
      ::signal(SIGINT, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~WatchOnPty() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
    ::close(slave_);
  }
  WatchOnPty(const WatchOnPty&) = delete;
  WatchOnPty& operator=(const WatchOnPty&) = delete;

  // Reads the output until `done(output)` or `within` passes; returns whether `done` held.
  bool read_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds within = 10s) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (!done(output_)) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd fd{master_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
        return false;
      }
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n <= 0) {
        return done(output_);
      }
      output_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Types `keys` at the terminal.
  void type(std::string_view keys) const {
    ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }
  // The exit code (128+N for signal N), -1 if it did not end within `within`.
  int wait(std::chrono::milliseconds within = 10s) {
    const bool ended = testing::eventually(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          }
          return exit_code_.has_value();
        },
        within);
    read_until([](const std::string&) { return false; }, 50ms);  // what it wrote last
    return ended ? *exit_code_ : -1;
  }

  const std::string& output() const { return output_; }
  // Whether the terminal's modes are what they were before the watch.
  bool modes_restored() const {
    termios now{};
    ::tcgetattr(slave_, &now);
    return now.c_lflag == before_.c_lflag && now.c_cc[VMIN] == before_.c_cc[VMIN];
  }

 private:
  int master_ = -1;
  int slave_ = -1;
  pid_t pid_ = -1;
  termios before_{};
  std::string output_;
  std::optional<int> exit_code_;
};

class StatusWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = testing::open_store("file://" + locks());
    ASSERT_NE(store, nullptr);
    auto acquired = store->try_acquire("nightly-backup", {});
    ASSERT_TRUE(acquired && acquired->acquired());
    lease_.emplace(std::move(*acquired).lease());
    store_ = std::move(store);
  }
  std::string locks() const { return dir_.path() + "/locks"; }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::optional<Lease> lease_;
};

TEST_F(StatusWatchTest, RedrawsUntilCtrlCThenExits130AndRestoresTheTerminal) {
  WatchOnPty watch(locks(), {"--interval", "100ms"});
  ASSERT_TRUE(watch.read_until([](const std::string& out) {
    return count(out, kFrameStart) >= 2 && count(out, "nightly-backup") >= 2;
  })) << watch.output();
  EXPECT_NE(watch.output().find("Every 100ms: heartlock status"), std::string::npos);
  EXPECT_NE(watch.output().find("\x1b[?1049h"), std::string::npos);  // the alternate screen
  watch.type("\x03");  // Ctrl-C: the terminal sends SIGINT
  EXPECT_EQ(watch.wait(), 130) << watch.output();
  EXPECT_TRUE(watch.output().ends_with(kLeaveScreen)) << watch.output();
  EXPECT_TRUE(watch.modes_restored());
}

TEST_F(StatusWatchTest, QExitsZero) {
  WatchOnPty watch(locks(), {"--interval", "5s"});
  ASSERT_TRUE(watch.read_until([](const std::string& out) { return count(out, kFrameStart) >= 1; }))
      << watch.output();
  EXPECT_FALSE(watch.modes_restored()) << "keys are read one at a time, without echo";
  watch.type("q");
  EXPECT_EQ(watch.wait(), 0) << watch.output();
  EXPECT_TRUE(watch.output().ends_with(kLeaveScreen)) << watch.output();
  EXPECT_TRUE(watch.modes_restored());
}

TEST_F(StatusWatchTest, RefusesWithoutATerminal) {
  auto r = testing::run_command(
      {testing::heartlock_binary(), "-b", "file://" + locks(), "status", "--watch"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("needs a terminal"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(StatusWatchTest, RefusesATooShortInterval) {
  WatchOnPty watch(locks(), {"--interval", "10ms"});
  EXPECT_EQ(watch.wait(), 64);
  EXPECT_NE(watch.output().find("too short"), std::string::npos) << watch.output();
}

}  // namespace
}  // namespace heartlock
