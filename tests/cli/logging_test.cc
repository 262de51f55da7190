// The CLI's logs (docs/logging.md): --log-format json lines and their schema, journald priorities
// when stderr is $JOURNAL_STREAM, --syslog, the invoked name in messages, and each subcommand's
// --help (the global options, its own footer).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/test_support.h"

namespace heartlock {
namespace {

using testing::CommandResult;

class LoggingTest : public ::testing::Test {
 protected:
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), testing::heartlock_binary());
    return testing::run_command(args, env());
  }
  std::map<std::string, std::string> env() const { return {{"HEARTLOCK_DIR", locks()}}; }
  std::string locks() const { return dir_.path() + "/locks"; }

  testing::TempDir dir_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

TEST_F(LoggingTest, JsonEventsAreOneObjectPerLineWithTheSchemaFields) {
  auto r = run({"--log-format", "json", "run", "-k", "job", "--", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_GE(lines.size(), 2u) << r.err;  // acquired, finished: JSON carries debug events
  for (const std::string& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["v"], 1) << line;
    EXPECT_EQ(j["program"], "heartlock") << line;
    EXPECT_TRUE(j["event"].is_string() && j["message"].is_string()) << line;
    EXPECT_TRUE(j["level"] == "debug" || j["level"] == "info" || j["level"] == "warn" ||
                j["level"] == "error")
        << line;
    EXPECT_TRUE(j["time_ms"].is_number_integer()) << line;
    EXPECT_EQ(j["time"].get<std::string>().size(), std::string("2026-01-01T00:00:00.000Z").size())
        << line;
  }
  EXPECT_EQ(nlohmann::json::parse(lines.back())["event"], "finished");
  EXPECT_EQ(nlohmann::json::parse(lines.back())["exit_code"], 0);
  // --json is the same on stderr.
  auto alias = run({"--json", "run", "-k", "job", "--", "true"});
  EXPECT_EQ(nlohmann::json::parse(lines_of(alias.err).back())["v"], 1) << alias.err;
}

TEST_F(LoggingTest, TextLinesCarryTheJournalPriorityOnlyWhenStderrIsTheJournalStream) {
  const std::string log = dir_.file("stderr");
  // The shell points stderr at a file and names that file in JOURNAL_STREAM, as systemd does.
  const std::string script =
      "exec 2>\"$1\"; JOURNAL_STREAM=$(stat -c %d:%i \"$1\") exec \"$2\" -b \"$3\" run "
      "--ttl 1h --kill-grace 1h -- true";
  auto r = testing::run_command(
      {"/bin/sh", "-c", script, "sh", log, testing::heartlock_binary(), locks()});
  EXPECT_EQ(r.exit_code, 64);
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.rfind("<3>heartlock: --kill-grace 1h is too long", 0), 0u) << line;
  // Inherited by a process whose stderr went elsewhere: no prefix.
  auto other = testing::run_command({testing::heartlock_binary(), "-b", locks(), "run", "--ttl",
                                     "1h", "--kill-grace", "1h", "--", "true"},
                                    {{"JOURNAL_STREAM", "1:1"}});
  EXPECT_EQ(other.err.rfind("heartlock: --kill-grace", 0), 0u) << other.err;
}

TEST_F(LoggingTest, MessagesStartWithTheInvokedName) {
  const std::string link = dir_.file("hlock");
  ASSERT_EQ(::symlink(testing::heartlock_binary().c_str(), link.c_str()), 0);
  auto r = testing::run_command({link, "run", "--ttl", "90", "--", "true"}, env());
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.err.rfind("hlock: --ttl", 0), 0u) << r.err;
  auto usage = testing::run_command({link, "--bogus-option"}, env());
  EXPECT_EQ(usage.err.rfind("hlock: ", 0), 0u) << usage.err;
}

TEST_F(LoggingTest, SubcommandHelpShowsTheGlobalOptionsAndItsOwnFooter) {
  auto status = run({"status", "--help"});
  ASSERT_EQ(status.exit_code, 0);
  for (const char* option : {"Global options:", "--backend", "--quiet", "--verbose", "--json",
                             "--log-format", "--syslog", "--syslog-facility"}) {
    EXPECT_NE(status.out.find(option), std::string::npos) << option << "\n" << status.out;
  }
  EXPECT_EQ(status.out.find("124"), std::string::npos) << "run's exit codes\n" << status.out;
  auto run_help = run({"run", "--help"});
  EXPECT_NE(run_help.out.find("124 --timeout expired"), std::string::npos) << run_help.out;
  EXPECT_EQ(run_help.out.find("cronlock"), std::string::npos) << run_help.out;
  auto top = run({"--help"});
  EXPECT_EQ(top.out.find("Global options:"), std::string::npos) << top.out;
}

// --syslog writes to /dev/log: in a private mount namespace, /dev is replaced by a directory
// whose `log` is a datagram socket this test reads.
TEST_F(LoggingTest, SyslogGetsTheEventsWithFacilityPriorityAndIdent) {
  if (::access("/usr/bin/unshare", X_OK) != 0 ||
      testing::run_command({"unshare", "-rm", "true"}).exit_code != 0) {
    GTEST_SKIP() << "no unshare -rm (user namespaces) here; log_sinks_test covers the formats";
  }
  const std::string dev = dir_.file("dev");
  ASSERT_EQ(::mkdir(dev.c_str(), 0755), 0);
  std::ofstream(dev + "/null").close();
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dev + "/log";
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string script =
      "mount --bind /dev/null \"$1/null\" && mount --bind \"$1\" /dev && shift && exec \"$@\"";
  auto r = testing::run_command(
      {"unshare", "-rm", "/bin/sh", "-c", script, "sh", dev, testing::heartlock_binary(), "-b",
       locks(), "--syslog", "--syslog-facility", "local3", "run", "--ttl", "90", "--", "true"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.err.find("heartlock: --ttl"), std::string::npos) << "errors on stderr too\n" << r.err;
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "nothing reached /dev/log";
  char buf[2048];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  const std::string message(buf, static_cast<std::size_t>(n));
  // <PRI> = facility * 8 + severity: local3 (19) and err (3) = 155.
  EXPECT_EQ(message.rfind("<155>", 0), 0u) << message;
  EXPECT_NE(message.find(" heartlock["), std::string::npos) << message;
  EXPECT_NE(message.find("--ttl"), std::string::npos) << message;
}

}  // namespace
}  // namespace heartlock
