// The heartlock executable, run as a user would: exit codes, process groups, signals, output.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../../src/file/name_codec.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::CommandResult;
using testing::eventually;

class CliTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, env());
  }
  std::map<std::string, std::string> env() const {
    return {{"HEARTLOCK_DIR", locks()}, {"HL", testing::heartlock_binary()}};
  }
  std::string locks() const { return dir_.path() + "/locks"; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  // Starts `heartlock ARGS` in the background, in its own process group.
  Child start(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    auto vars = env();
    return Child::fork([args, vars]() -> int {
      ::setpgid(0, 0);
      // Signals the tests send: an ignored one (the tests run under nohup, or as `cmd &` of a
      // script) would stay ignored through exec, and the wrapper and COMMAND would never see it.
      for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM}) {
        ::signal(sig, SIG_DFL);
      }
      for (const auto& [k, v] : vars) {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
      std::vector<char*> argv;
      for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      return 127;
    });
  }

  // Reads a pid a command wrote to `name`, waiting for it to appear.
  pid_t read_pid(const std::string& name) {
    pid_t pid = 0;
    eventually([&] {
      std::ifstream in(file(name));
      return static_cast<bool>(in >> pid) && pid > 0;
    });
    return pid;
  }

  // Reads the `count` words a command wrote to `name` (written whole: to a temp file, then mv),
  // waiting for them to appear; empty if they do not.
  std::vector<std::string> read_words(const std::string& name, std::size_t count) {
    std::vector<std::string> words;
    eventually(
        [&] {
          std::ifstream in(file(name));
          words.clear();
          for (std::string w; in >> w;) {
            words.push_back(w);
          }
          return words.size() >= count;
        },
        10s);
    if (words.size() < count) {
      words.clear();
    }
    return words;
  }

  // Calls `send` every 2ms until `wrapper` ends or `within` passes. Returns the wrapper's exit
  // code, or nullopt if it was still running.
  static std::optional<int> send_until_exit(Child& wrapper, std::chrono::milliseconds within,
                                            const std::function<void()>& send) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      send();
      if (auto status = wrapper.wait_for(2ms)) {
        return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
      }
    }
    return std::nullopt;
  }

  // Starts an explicit-heartbeat job that never heartbeats and writes its heartbeat socket, token
  // and secret to "beat" (empty words when unset). Left alone, it ends as deadlocked (79) after
  // about 600ms.
  Child start_silent_job() {
    return start(
        {"run", "-k", "job", "--heartbeat", "explicit", "--ttl", "300ms", "--stale-after", "600ms",
         "--kill-grace", "50ms", "--", "sh", "-c",
         "echo \"$HEARTLOCK_HEARTBEAT_SOCKET $HEARTLOCK_TOKEN $HEARTLOCK_HEARTBEAT_SECRET\" > " +
             file("beat.tmp") + " && mv " + file("beat.tmp") + " " + file("beat") +
             "; exec sleep 60"});
  }

  testing::TempDir dir_;
};

// Sends `message` to the abstract datagram socket `where` ("@name", as in
// HEARTLOCK_HEARTBEAT_SOCKET), without blocking. Returns whether it was queued; if not, errno
// says why (ECONNREFUSED: the socket is gone).
bool send_datagram(const std::string& where, std::string_view message) {
  sockaddr_un addr{};
  if (where.size() < 2 || where[0] != '@' || where.size() > sizeof addr.sun_path) {
    return false;
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, where.data() + 1, where.size() - 1);
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + where.size());
  const bool sent =
      ::sendto(fd, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&addr), len) ==
      static_cast<ssize_t>(message.size());
  const int error = errno;
  ::close(fd);
  errno = error;
  return sent;
}

TEST_F(CliTest, PassesTheCommandsExitStatus) {
  EXPECT_EQ(run({"run", "-k", "j", "--", "true"}).exit_code, 0);
  EXPECT_EQ(run({"run", "-k", "j", "--", "sh", "-c", "exit 3"}).exit_code, 3);
  EXPECT_EQ(run({"run", "-k", "j", "--", "sh", "-c", "kill -TERM $$"}).exit_code, 128 + SIGTERM);
  auto r = run({"run", "-k", "j", "--", "echo", "hello", "-n"});
  EXPECT_EQ(r.out, "hello -n\n");
}

TEST_F(CliTest, CommandNotFoundIs127) {
  auto r = run({"run", "--", "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_NE(r.err.find("cannot run"), std::string::npos) << r.err;
  std::ofstream(file("not-executable")) << "data\n";
  EXPECT_EQ(run({"run", "--", file("not-executable")}).exit_code, 126);
}

TEST_F(CliTest, BusyExits75OrTheConflictCode) {
  auto holder = start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 30"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto busy = run({"run", "-k", "job", "--", "true"});
  EXPECT_EQ(busy.exit_code, 75);
  EXPECT_EQ(busy.err, "") << "silent by default, as flock -n (cli_habits_test.cc: -v)";
  EXPECT_EQ(run({"run", "-k", "job", "-E", "9", "--", "true"}).exit_code, 9);
  EXPECT_EQ(run({"run", "-q", "-k", "job", "--", "true"}).err, "") << "-q silences busy";
  auto json = run({"--json", "run", "-k", "job", "--", "true"});
  auto event = nlohmann::json::parse(json.err.substr(0, json.err.find('\n')));
  EXPECT_EQ(event["event"], "busy");
  EXPECT_GT(event["holder"]["pid"].get<int>(), 0);
}

TEST_F(CliTest, UsageErrorsAre64WithOneClearLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--bogus", "--", "true"},
           {"run", "--ttl", "5q", "--", "true"},
           {"run", "--ttl", "30", "--", "true"},
           {"run", "-k", "x"},
           {"run", "--heartbeat", "explicit", "--", "true"},
           {"run", "--heartbeat", "sometimes", "--", "true"},
           {"run", "--ttl", "30s", "--stale-after", "10ms", "--", "true"},
           {"run", "--ttl", "3s", "--kill-grace", "5s", "--", "true"},
           {"run", "-n", "-w", "5s", "--", "true"},
           {"run", "-k", std::string(600, 'k'), "--", "true"},
           {"run", "-k", "", "--", "true"},  // an empty key is not "derive one"
           {"run", "-k", "\x1b]0;title\x07", "--", "true"},
           {"run", "-E", "300", "--", "true"},
           {"frobnicate"},
           {}}) {
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 64) << ::testing::PrintToString(args) << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST_F(CliTest, UnusableBackendIs69) {
  ASSERT_EQ(::symlink(dir_.path().c_str(), file("link").c_str()), 0);
  auto r = run({"run", "-b", "file://" + file("link"), "--", "true"});
  EXPECT_EQ(r.exit_code, 69);
  EXPECT_NE(r.err.find("symlink"), std::string::npos) << r.err;
  EXPECT_EQ(run({"run", "-b", "redis://127.0.0.1:1", "--", "true"}).exit_code, 69);
  // A file where the lock directory should be: unusable, as README says.
  std::ofstream(file("plain")) << "x";
  auto vars = env();
  vars["HEARTLOCK_DIR"] = file("plain");
  auto not_dir = testing::run_command({testing::heartlock_binary(), "run", "--", "true"}, vars);
  EXPECT_EQ(not_dir.exit_code, 69) << not_dir.err;
  EXPECT_NE(not_dir.err.find("not a directory"), std::string::npos) << not_dir.err;
}

TEST_F(CliTest, CommandSeesItsLease) {
  auto r = run({"run", "-k", "job", "--", "sh", "-c",
                "echo $HEARTLOCK_KEY $HEARTLOCK_TOKEN; test -n \"$HEARTLOCK_OWNER\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "job 1\n");
}

TEST_F(CliTest, TimeoutStopsTheWholeProcessGroup) {
  auto r = run({"run", "--timeout", "300ms", "--kill-grace", "300ms", "--", "sh", "-c",
                "sleep 60 & echo $! > " + file("grandchild") + "; wait"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  pid_t grandchild = read_pid("grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(grandchild); }));
}

TEST_F(CliTest, TimeoutEscalatesToKillForACommandThatIgnoresTerm) {
  auto r = run({"run", "--timeout", "200ms", "--kill-grace", "200ms", "--", "sh", "-c",
                "trap '' TERM; echo $$ > " + file("pid") + "; while :; do sleep 0.05; done"});
  EXPECT_EQ(r.exit_code, 124);
  pid_t pid = read_pid("pid");
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(pid); }));
}

TEST_F(CliTest, MissingHeartbeatsLoseTheLeaseAndStopTheCommand) {
  auto r = run({"run", "--heartbeat", "explicit", "--ttl", "150ms", "--stale-after", "300ms",
                "--kill-grace", "50ms", "--", "sh", "-c",
                "echo $$ > " + file("pid") + "; exec sleep 60"});
  EXPECT_EQ(r.exit_code, 79) << r.err;
  EXPECT_NE(r.err.find("deadlocked"), std::string::npos) << r.err;
  EXPECT_FALSE(testing::process_alive(read_pid("pid")));
}

TEST_F(CliTest, ExplicitHeartbeatsKeepTheLease) {
  // 20 beats over 4+ s carry the job far past stale_after (2 s). The beat's age when a renewal
  // publishes it is the gap between beats (one `heartlock heartbeat` process each, slow under
  // ASan) plus a renew interval (667 ms); SIGTERM comes when less than kill grace + stop margin
  // (400 ms) is left of the 2 s. Tighter settings (150 ms ttl, then 600 ms stale_after) failed
  // loaded ASan runs on exactly that arithmetic, not on a lost beat.
  auto r = run({"run", "--heartbeat", "explicit", "--ttl", "2s", "--stale-after", "2s",
                "--kill-grace", "300ms", "--", "sh", "-c",
                "for i in $(seq 20); do \"$HL\" heartbeat || exit 9; sleep 0.2; done"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The heartbeat socket is open to every local user and the token is a small number: a sender
// that knows both (from /proc/net/unix, by guessing) must not keep a deadlocked job alive.
TEST_F(CliTest, ForgedHeartbeatsDoNotKeepADeadlockedCommandAlive) {
  auto wrapper = start_silent_job();
  const auto words = read_words("beat", 2);
  ASSERT_GE(words.size(), 2U);
  const std::string& socket = words[0];
  const std::string& token = words[1];
  const auto started = std::chrono::steady_clock::now();
  bool reached = false;
  auto code = send_until_exit(wrapper, 8s, [&] {
    reached = send_datagram(socket, token) || reached;
    send_datagram(socket, token + "\n");
    send_datagram(socket, std::string(32, '0'));  // shaped like a secret
    send_datagram(socket, token + " " + std::string(32, 'f'));
  });
  EXPECT_TRUE(reached) << "the forger never reached " << socket;
  ASSERT_TRUE(code) << "forged heartbeats kept a command that never heartbeats alive for 8s";
  EXPECT_EQ(*code, 79);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "stale_after is 600ms";
}

// The control for the tests around it: the secret, from the wrapper's own user, is a heartbeat.
TEST_F(CliTest, TheSecretFromTheWrappersUserIsAHeartbeat) {
  auto wrapper = start_silent_job();
  const auto words = read_words("beat", 3);
  ASSERT_EQ(words.size(), 3U) << "no HEARTLOCK_HEARTBEAT_SECRET";
  EXPECT_FALSE(send_until_exit(wrapper, 2s, [&] { send_datagram(words[0], words[2]); }))
      << "heartbeats every 2ms for 2s did not keep a 600ms stale_after job alive";
  EXPECT_EQ(wrapper.exit_code(), 79) << "once they stop, the job is deadlocked";
}

// The secret alone is not enough: another user that got hold of it (here, by being handed it) is
// not COMMAND and cannot keep it alive.
TEST_F(CliTest, HeartbeatsFromAnotherUserAreIgnored) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "sending as another user needs root";
  }
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr) {
    GTEST_SKIP() << "no user nobody";
  }
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  auto wrapper = start_silent_job();
  const auto words = read_words("beat", 3);
  ASSERT_EQ(words.size(), 3U) << "no HEARTLOCK_HEARTBEAT_SECRET";
  const std::string socket = words[0];
  const std::string secret = words[2];
  auto sender = Child::fork([&]() -> int {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0 ||
        ::geteuid() != uid) {
      return 2;
    }
    bool reached = false;
    const auto deadline = std::chrono::steady_clock::now() + 8s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (send_datagram(socket, secret)) {
        reached = true;
      } else if (reached && errno == ECONNREFUSED) {
        break;  // the wrapper is gone
      }
      ::usleep(2000);
    }
    return reached ? 0 : 3;
  });
  const auto started = std::chrono::steady_clock::now();
  auto status = wrapper.wait_for(8s);
  ASSERT_TRUE(status) << "user nobody kept root's job alive with the right secret";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 79) << *status;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s) << "stale_after is 600ms";
  EXPECT_EQ(sender.exit_code(), 0) << "2: setuid failed; 3: never reached the socket";
}

// `heartlock heartbeat` sends the secret; a flood of junk does not crowd it out.
TEST_F(CliTest, HeartbeatsCarryTheSecretAndCountThroughAFlood) {
  auto wrapper = start({"run", "--heartbeat", "explicit", "--ttl", "300ms", "--stale-after",
                        "600ms", "--", "sh", "-c",
                        "echo \"$HEARTLOCK_HEARTBEAT_SOCKET\" > " + file("beat.tmp") + " && mv " +
                            file("beat.tmp") + " " + file("beat") +
                            "; test ${#HEARTLOCK_HEARTBEAT_SECRET} -ge 32 || exit 8; "
                            "for i in 1 2 3 4 5 6 7 8 9 10; do \"$HL\" heartbeat || exit 9; "
                            "sleep 0.1; done"});
  const auto words = read_words("beat", 1);
  ASSERT_EQ(words.size(), 1U);
  auto code = send_until_exit(wrapper, 20s, [&] {
    for (int i = 0; i < 4; ++i) {
      send_datagram(words[0], "junk");
    }
  });
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << "8: no secret of 128 bits; 9: heartbeat failed; 79: heartbeats ignored";
}

TEST_F(CliTest, CommandDoesNotInheritBackendPasswords) {
  auto vars = env();
  vars["HEARTLOCK_REDIS_PASSWORD"] = "redis-secret";
  vars["HEARTLOCK_ETCD_PASSWORD"] = "etcd-secret";
  vars["CRONLOCK_PREFIX"] = "kept/";
  auto r =
      testing::run_command({testing::heartlock_binary(), "run", "-k", "job", "--", "env"}, vars);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("redis-secret"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("etcd-secret"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("_PASSWORD="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nHEARTLOCK_TOKEN=1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nHEARTLOCK_KEY=job\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nCRONLOCK_PREFIX=kept/\n"), std::string::npos) << r.out;
}

// A password in -b is masked in /proc/<pid>/cmdline (readable by every local user) once the
// arguments are parsed, as mysql masks -p: the job runs for hours, the window is microseconds.
TEST_F(CliTest, BackendPasswordIsMaskedInTheProcessCommandLine) {
  // An unreachable server retried with backoff: the wrapper lives long enough to be looked at.
  auto wrapper = start({"run", "-b",
                        "redis://user:S3CRET@127.0.0.1:1?reconnect_attempts=20&reconnect_backoff="
                        "100ms&sentinel_password=AlsoS3CRET",
                        "-k", "job", "--", "sleep", "-b", "x://u:keep@h"});
  std::string cmdline;
  ASSERT_TRUE(eventually([&] {
    std::ifstream in("/proc/" + std::to_string(wrapper.pid()) + "/cmdline");
    cmdline.assign(std::istreambuf_iterator<char>(in), {});
    return cmdline.find("127.0.0.1:1") != std::string::npos &&
           cmdline.find("S3CRET") == std::string::npos;
  }));
  EXPECT_NE(cmdline.find("redis://user:******@127.0.0.1:1"), std::string::npos) << cmdline;
  EXPECT_NE(cmdline.find("sentinel_password=**********"), std::string::npos) << cmdline;
  EXPECT_NE(cmdline.find("x://u:keep@h"), std::string::npos) << "COMMAND's arguments are its own";
  ::kill(wrapper.pid(), SIGKILL);
  // A raw '@' in a query password (once left the whole password in place).
  auto other = start({"run", "-b",
                      "redis://127.0.0.1:1?reconnect_attempts=20&reconnect_backoff=100ms&"
                      "sentinel_password=p@S3CRET",
                      "-k", "job", "--", "true"});
  ASSERT_TRUE(eventually([&] {
    std::ifstream in("/proc/" + std::to_string(other.pid()) + "/cmdline");
    cmdline.assign(std::istreambuf_iterator<char>(in), {});
    return cmdline.find("127.0.0.1:1") != std::string::npos &&
           cmdline.find("S3CRET") == std::string::npos;
  }));
  EXPECT_NE(cmdline.find("sentinel_password=********"), std::string::npos) << cmdline;
  ::kill(other.pid(), SIGKILL);
}

TEST_F(CliTest, OutputLinesAreHeartbeatsAndPassThroughUnchanged) {
  auto r = run({"run", "--heartbeat", "output", "--ttl", "150ms", "--stale-after", "400ms", "--",
                "sh", "-c",
                "for i in 1 2 3 4 5 6 7 8; do echo tick $i; echo err $i >&2; "
                "sleep 0.1; done"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\ntick 7\ntick 8\n");
  EXPECT_NE(r.err.find("err 8"), std::string::npos);
}

TEST_F(CliTest, HeartbeatOutsideRunIsAUsageError) { EXPECT_EQ(run({"heartbeat"}).exit_code, 64); }

TEST_F(CliTest, KilledWrapperTakesItsCommandAlong) {
  auto wrapper = start(
      {"run", "-k", "job", "--", "sh", "-c", "sleep 60 & echo $! > " + file("pid") + "; wait"});
  pid_t grandchild = read_pid("pid");
  ASSERT_GT(grandchild, 0);
  wrapper.signal(SIGKILL);
  EXPECT_TRUE(eventually([&] { return !testing::process_alive(grandchild); }))
      << "the command must not outlive the wrapper that held its lock";
}

TEST_F(CliTest, TermToTheWrapperReachesTheCommand) {
  auto wrapper =
      start({"run", "-k", "job", "--", "sh", "-c",
             "trap 'exit 7' TERM; echo $$ > " + file("pid") + "; while :; do sleep 0.05; done"});
  read_pid("pid");
  wrapper.signal(SIGTERM);
  EXPECT_EQ(wrapper.exit_code(), 7);
}

// Each signal the wrapper passes on reaches COMMAND from the job's own poll loop (a signalfd,
// no forwarding thread), the command's handler decides the exit code.
TEST_F(CliTest, HupIntAndQuitToTheWrapperReachTheCommand) {
  for (auto [sig, name, code] : {std::tuple{SIGHUP, "HUP", 11}, std::tuple{SIGINT, "INT", 12},
                                 std::tuple{SIGQUIT, "QUIT", 13}}) {
    const std::string pid = file(std::string("pid.") + name);
    // ulimit -c 0: the group's `sleep` gets SIGQUIT too, and must not leave a core behind.
    auto wrapper = start({"run", "-k", "job", "--", "sh", "-c",
                          "ulimit -c 0; trap 'exit " + std::to_string(code) + "' " + name +
                              "; echo $$ > " + pid + "; while :; do sleep 0.05; done"});
    read_pid(std::string("pid.") + name);
    wrapper.signal(sig);
    EXPECT_EQ(wrapper.exit_code(), code) << name;
  }
}

// The stop rule does not depend on the wrapper being scheduled: with the wrapper stopped
// (SIGSTOP), the watchdog kills COMMAND's group at the lease's deadline, before the next run can
// get the lock.
TEST_F(CliTest, StoppedWrapperCannotKeepItsCommandRunningPastTheDeadline) {
  const std::string lines = file("holder.lines");
  auto first = start(
      {"run", "-k", "job", "--ttl", "2s", "--", "sh", "-c",
       "echo $$ > " + file("pid") + "; while :; do date +%s%N >> " + lines + "; sleep 0.02; done"});
  read_pid("pid");
  first.signal(SIGSTOP);
  CommandResult second;
  ASSERT_TRUE(eventually([&] {
    second = run({"run", "-k", "job", "--", "sh", "-c", "date +%s%N > " + file("second.start")});
    return second.exit_code != 75;
  }));
  EXPECT_EQ(second.exit_code, 0) << second.err;
  long long started = 0;
  std::ifstream(file("second.start")) >> started;
  long long last = 0;
  std::ifstream in(lines);
  for (long long v = 0; in >> v;) {
    last = std::max(last, v);
  }
  EXPECT_GT(started, 0);
  EXPECT_LT(last, started) << "the stopped wrapper's command wrote " << (last - started) / 1'000'000
                           << "ms after the next run started";
  first.signal(SIGCONT);
  EXPECT_EQ(first.exit_code(), 79);
}

TEST_F(CliTest, StoppedWrapperIsTakenOverAndStopsItsCommandWhenResumed) {
  auto first = start({"run", "-k", "job", "--ttl", "200ms", "--", "sh", "-c",
                      "echo $$ > " + file("pid") + "; exec sleep 60"});
  pid_t command = read_pid("pid");
  first.signal(SIGSTOP);
  CommandResult second;
  ASSERT_TRUE(eventually([&] {
    second = run({"run", "-k", "job", "--", "true"});
    return second.exit_code != 75;
  }));
  EXPECT_EQ(second.exit_code, 0) << second.err;
  first.signal(SIGCONT);
  EXPECT_EQ(first.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

// An Election's leader is marked in status, table and JSON; an ordinary lock beside it is not.
TEST_F(CliTest, StatusMarksTheLeaderOfAnElection) {
  auto store = testing::open_store(locks());
  ASSERT_TRUE(store);
  Election election(*store, "primary", {.ttl = 30s});
  auto led = election.campaign({});
  ASSERT_TRUE(led && led->has_value());
  auto ordinary = store->try_acquire("nightly", {.ttl = 30s, .command = "sh -c leader of nightly"});
  ASSERT_TRUE(ordinary && ordinary->acquired());
  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  std::istringstream lines(status.out);
  int marked = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("primary ")) {
      EXPECT_NE(line.find("held (leader)"), std::string::npos) << line;
      EXPECT_NE(line.find("leader of primary"), std::string::npos) << line;
      ++marked;
    } else if (line.starts_with("nightly ")) {
      EXPECT_EQ(line.find("(leader)"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(marked, 1) << status.out;
  auto json = nlohmann::json::parse(run({"status", "--json", "primary"}).out);
  EXPECT_EQ(json["leader"], true);
  EXPECT_EQ(json["holder"]["command"], "leader of primary");
  EXPECT_FALSE(nlohmann::json::parse(run({"status", "--json", "nightly"}).out).contains("leader"));
  ASSERT_TRUE((*led)->resign());
}

TEST_F(CliTest, StatusShowsHoldersAndReleaseIsFenced) {
  // A short ttl: a broken holder learns of it at its next renewal (every ttl/3).
  auto holder = start({"run", "-k", "nightly", "--ttl", "300ms", "--", "sh", "-c",
                       "touch " + file("go") + "; exec sleep 60"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("nightly"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("held"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(locks() + "/nightly.lock"), std::string::npos) << status.out;
  auto json = nlohmann::json::parse(run({"status", "--json", "nightly"}).out);
  EXPECT_EQ(json["state"], "held");
  EXPECT_EQ(json["holder"]["token"], 1);

  auto refused = run({"release", "nightly"});
  EXPECT_EQ(refused.exit_code, 75) << refused.out << refused.err;
  auto forced = run({"release", "--force", "nightly"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(holder.exit_code(), 79) << "the broken holder learns it lost and stops";
  EXPECT_EQ(run({"release", "nightly"}).exit_code, 0);
}

// `status` lists every lock file, also those it cannot read (once silently left out), and
// escapes what it prints: names come from the directory and from records anyone may plant.
TEST_F(CliTest, StatusListsUnusableLockFilesAndEscapesNames) {
  ASSERT_EQ(run({"run", "-k", "plain", "--", "true"}).exit_code, 0);
  ASSERT_EQ(::mkfifo((locks() + "/fifo.lock").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (locks() + "/link.lock").c_str()), 0);
  std::ofstream(locks() + "/\x1b]0;pwned\x07\x1b[2J.lock") << "";
  auto status = run({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("plain"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("fifo"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("link"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("unknown"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find('\x1b'), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find('\x07'), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\\x1b]0;pwned"), std::string::npos) << status.out;
  auto json = nlohmann::json::parse(run({"--json", "status"}).out);
  EXPECT_EQ(json.size(), 4u) << json.dump();
}

TEST_F(CliTest, WaitGetsTheLockWhenTheHolderFinishes) {
  for (std::string wait : {"30s", "forever"}) {
    const std::string go = file("go-" + wait);
    auto holder = start({"run", "-k", "job", "--", "sh", "-c", "touch " + go + "; sleep 0.3"});
    ASSERT_TRUE(eventually([&] { return ::access(go.c_str(), F_OK) == 0; }));
    auto waited = run({"run", "-k", "job", "-w", wait, "--", "true"});
    EXPECT_EQ(waited.exit_code, 0) << waited.err;
    EXPECT_EQ(holder.exit_code(), 0);
  }
}

// A signal while waiting for the lock ends the wait at once and the command never starts (as
// flock(1) dies by it); before, the wrapper waited on and then ran the command.
TEST_F(CliTest, TermWhileWaitingEndsTheWaitWithoutRunningTheCommand) {
  auto holder =
      start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; exec sleep 60"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  for (int sig : {SIGTERM, SIGINT}) {
    auto waiter = start({"run", "-k", "job", "-w", "60s", "--", "touch", file("ran")});
    std::this_thread::sleep_for(200ms);  // usually inside the wait by now; either way the same
    waiter.signal(sig);
    auto status = waiter.wait_for(20s);
    ASSERT_TRUE(status) << "signal " << sig << " did not end the wait";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + sig) << *status;
    EXPECT_NE(::access(file("ran").c_str(), F_OK), 0) << "the command ran";
  }
  holder.signal(SIGTERM);
  EXPECT_EQ(holder.exit_code(), 128 + SIGTERM);
}

TEST_F(CliTest, MinHoldBlocksTheNextRun) {
  EXPECT_EQ(run({"run", "-k", "job", "--min-hold", "30s", "--", "true"}).exit_code, 0);
  auto r = run({"run", "-v", "-k", "job", "--", "true"});
  EXPECT_EQ(r.exit_code, 75);
  EXPECT_NE(r.err.find("min_hold"), std::string::npos) << r.err;
}

TEST_F(CliTest, FlockInteropFromTheCli) {
  auto holder = start({"run", "-k", "job", "--", "sh", "-c", "touch " + file("go") + "; sleep 30"});
  ASSERT_TRUE(eventually([&] { return ::access(file("go").c_str(), F_OK) == 0; }));
  auto r = testing::run_command({"flock", "-n", locks() + "/job.lock", "true"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(CliTest, BackendUrlErrorsNeverShowThePassword) {
  // A scheme in capitals (accepted: schemes are case-insensitive), a password holding an
  // unencoded '/', a bad %-escape libpq would repeat.
  for (const char* url : {"Redis://:S3CRET@127.0.0.1:6502", "redis://:S3/CRET@host",
                          "postgres://u:S3%zzCRET@host/db"}) {
    auto r = run({"run", "-v", "-b", url, "--", "true"});
    EXPECT_EQ(r.err.find("S3CRET"), std::string::npos) << url << ": " << r.err;
    EXPECT_EQ(r.err.find("CRET"), std::string::npos) << url << ": " << r.err;
    EXPECT_EQ(r.out.find("CRET"), std::string::npos) << url << ": " << r.out;
  }
}

TEST_F(CliTest, AOneSlashBackendTypoIsAUsageErrorNotALockDirectory) {
  const std::string cwd = file("cwd");
  auto r = testing::run_command({"sh", "-c",
                                 "mkdir \"$1\" && cd \"$1\" && "
                                 "exec \"$HL\" run -b redis:/127.0.0.1:6501 -- true",
                                 "sh", cwd},
                                env());
  EXPECT_EQ(r.exit_code, 64) << r.err;
  EXPECT_NE(r.err.find("did you mean redis://"), std::string::npos) << r.err;
  EXPECT_EQ(::rmdir(cwd.c_str()), 0) << "something was created in " << cwd;
}

// `heartlock schedule`: Europe/Berlin skips 02:00-03:00 on 2026-03-29 (zdump -v Europe/Berlin).
TEST_F(CliTest, SchedulePrintsLocalTimesWithOffsetAndZone) {
  auto r = run({"schedule", "--tz", "Europe/Berlin", "--from", "2026-03-28T12:00:00Z", "-n", "2",
                "30 2 * * *"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-03-29T03:00:00+02:00 CEST\n2026-03-30T02:30:00+02:00 CEST\n");
}

TEST_F(CliTest, SchedulePrintsUtcAndStartsStrictlyAfterFrom) {
  auto r = run({"schedule", "--utc", "--tz", "Europe/Berlin", "--from", "2026-03-29T03:00:00+02:00",
                "-n", "3", "0 * * * *"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2026-03-29T02:00:00Z\n2026-03-29T03:00:00Z\n2026-03-29T04:00:00Z\n");
}

TEST_F(CliTest, ScheduleDefaultsToFiveTimes) {
  auto r = run({"schedule", "--tz", "UTC", "--from", "2026-01-01T00:00:00Z", "@every 90s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("2026-01-01T00:01:30+00:00 UTC\n"), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5);
}

TEST_F(CliTest, ScheduleErrorsAreUsageErrorsNamingTheField) {
  auto bad = run({"schedule", "--tz", "UTC", "0 22-2 * * *"});
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.err.find("hour field \"22-2\""), std::string::npos) << bad.err;
  auto zone = run({"schedule", "--tz", "Mars/Base", "0 0 * * *"});
  EXPECT_EQ(zone.exit_code, 64);
  EXPECT_NE(zone.err.find("Mars/Base"), std::string::npos) << zone.err;
  auto from = run({"schedule", "--from", "tomorrow", "0 0 * * *"});
  EXPECT_EQ(from.exit_code, 64);
  EXPECT_NE(from.err.find("--from"), std::string::npos) << from.err;
}

// `heartlock cron --check`: the crontab format (cli/crontab.h).
TEST_F(CliTest, CronCheckPrintsJobsOptionsAndFireTimes) {
  const std::string tab = file("crontab");
  std::ofstream(tab) << "MAILTO=ops@example.com\n"
                        "CRON_TZ=Europe/Berlin\n"
                        "# heartlock: name=backup timeout=1h\n"
                        "30 2 * * * /usr/bin/backup --all\n"
                        "@every 90s poll\n";
  auto r = run({"cron", "--check", "--from", "2026-03-28T12:00:00Z", tab});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const char* expected : {
           ": 2 jobs, valid\n",
           "\nbackup\n",
           "  schedule    30 2 * * *  (Europe/Berlin)\n",
           "  command     /usr/bin/backup --all\n",
           "  env         MAILTO=ops@example.com\n",
           "  options     ttl=30s timeout=1h kill-grace=5s stale-after=none heartbeat=alive "
           "concurrency=forbid missed=skip grace=1m max-runs=10 jitter=0s retries=0 "
           "once-per-slot=yes\n",
           "  next        2026-03-29T03:00:00+02:00 CEST\n"
           "              2026-03-30T02:30:00+02:00 CEST\n",
           "              2026-04-02T02:30:00+02:00 CEST\n",
           "\ncron.poll.",
           "(derived name)",
           "  next        2026-03-28T13:01:30+01:00 CET\n",
       }) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << "no \"" << expected << "\" in\n" << r.out;
  }
}

TEST_F(CliTest, CronCheckPrintsEveryErrorAsFileLineAndExits64) {
  const std::string tab = file("crontab");
  std::ofstream(tab) << "0 22-2 * * * x\n"
                        "# heartlock: color=red\n"
                        "@daily y\n"
                        "@daily echo 100%\n";
  auto r = run({"cron", "--check", tab});
  EXPECT_EQ(r.exit_code, 64) << r.err;
  EXPECT_EQ(r.out, "");
  for (const std::string& expected :
       {tab + ":1: cron expression \"0 22-2 * * *\": hour field \"22-2\"",
        tab + ":2: heartlock directive: unknown key \"color\"", tab + ":4: unescaped %"}) {
    EXPECT_NE(r.err.find(expected), std::string::npos) << expected << " not in\n" << r.err;
  }
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 3) << r.err;
}

TEST_F(CliTest, CronCheckOfAnUnreadableFileExits66) {
  auto missing = run({"cron", "--check", file("nonexistent")});
  EXPECT_EQ(missing.exit_code, 66) << missing.err;
  EXPECT_NE(missing.err.find("nonexistent: cannot read: No such file"), std::string::npos)
      << missing.err;
  auto dir = run({"cron", "--check", dir_.path()});
  EXPECT_EQ(dir.exit_code, 66) << dir.err;
  EXPECT_NE(dir.err.find("Is a directory"), std::string::npos) << dir.err;
}

// The daemon's own options are checked before it starts anything.
TEST_F(CliTest, CronDaemonOptionsAreCheckedFirst) {
  const std::string tab = file("crontab");
  std::ofstream(tab) << "@daily true\n";
  auto r = run({"cron", "--shutdown-grace", "soon", tab});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("--shutdown-grace"), std::string::npos) << r.err;
  r = run({"cron", "--metrics-listen", "localhost", tab});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("--metrics-listen localhost"), std::string::npos) << r.err;
  r = run({"cron", "--log-format", "xml", tab});
  EXPECT_NE(r.exit_code, 0);
}

// The time-zone module (src/cron/tz_api.h): a copy of heartlock outside bin/ has none next to it,
// so it finds the module through HEARTLOCK_TZ_MODULE alone, and without it exits 69 naming the
// paths it tried.
TEST_F(CliTest, ScheduleLoadsTheTzModuleOrExits69) {
  const char* module = std::getenv("HEARTLOCK_TZ_MODULE");  // set by ctest (tests/CMakeLists.txt)
  ASSERT_NE(module, nullptr);
  if (::access(HEARTLOCK_TZ_MODULE_INSTALL_PATH, F_OK) == 0) {
    GTEST_SKIP() << "a heartlock-tz module is installed at " HEARTLOCK_TZ_MODULE_INSTALL_PATH;
  }
  const std::string copy = file("heartlock");
  std::filesystem::copy_file(testing::heartlock_binary(), copy);
  const std::vector<std::string> args = {
      copy, "schedule", "--tz",      "Europe/Berlin", "--from", "2026-03-28T12:00:00Z",
      "-n", "1",        "30 2 * * *"};
  auto loaded = testing::run_command(args, {{"HEARTLOCK_TZ_MODULE", module}});
  EXPECT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_EQ(loaded.out, "2026-03-29T03:00:00+02:00 CEST\n");
  auto missing = testing::run_command(args, {{"HEARTLOCK_TZ_MODULE", "/nonexistent"}});
  EXPECT_EQ(missing.exit_code, 69) << missing.err;
  EXPECT_NE(missing.err.find("heartlock-tz.so"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find(HEARTLOCK_TZ_MODULE_INSTALL_PATH), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace heartlock
