// The CLI's event formats (cli/log_sinks.h): JSON lines and their schema, text lines with and
// without journald priorities, syslog priorities and facilities, the $JOURNAL_STREAM check.
#include "../../cli/log_sinks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <syslog.h>

#include "../support/test_support.h"

namespace heartlock::cli {
namespace {

using namespace std::chrono_literals;

TEST(LogSinksTest, JsonLineHasTheSchemaFieldsAndKeepsTheEventsOwn) {
  const auto t = std::chrono::sys_days(std::chrono::year(2026) / 3 / 29) + 1h + 250ms;
  auto j = nlohmann::json::parse(json_line("cronlock", LogLevel::warn, "busy", "lock x is busy",
                                           {{"key", "x"}, {"level", "spoofed"}}, t));
  EXPECT_EQ(j["v"], kEventSchemaVersion);
  EXPECT_EQ(j["time"], "2026-03-29T01:00:00.250Z");
  EXPECT_EQ(j["time_ms"],
            std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["event"], "busy");
  EXPECT_EQ(j["message"], "lock x is busy");
  EXPECT_EQ(j["program"], "cronlock");
  EXPECT_EQ(j["key"], "x");
}

TEST(LogSinksTest, JsonLineIsOneLineEvenForBadBytes) {
  const std::string line = json_line("heartlock", LogLevel::error, "error", "a\nb\xff", {},
                                     std::chrono::system_clock::now());
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  EXPECT_TRUE(nlohmann::json::parse(line).is_object());
}

TEST(LogSinksTest, TextLineStartsWithTheJournalPriorityWhenAsked) {
  EXPECT_EQ(text_line("heartlock", LogLevel::error, "boom", false), "heartlock: boom");
  EXPECT_EQ(text_line("cronlock", LogLevel::error, "boom", true), "<3>cronlock: boom");
  EXPECT_EQ(text_line("heartlock", LogLevel::warn, "w", true), "<4>heartlock: w");
  EXPECT_EQ(text_line("heartlock", LogLevel::info, "i", true), "<6>heartlock: i");
  EXPECT_EQ(text_line("heartlock", LogLevel::debug, "d", true), "<7>heartlock: d");
  EXPECT_EQ(text_line("heartlock", LogLevel::info, "a\nb", false), "heartlock: a\\nb");
}

TEST(LogSinksTest, SyslogPrioritiesAndFacilities) {
  EXPECT_EQ(syslog_priority(LogLevel::error), LOG_ERR);
  EXPECT_EQ(syslog_priority(LogLevel::warn), LOG_WARNING);
  EXPECT_EQ(syslog_priority(LogLevel::info), LOG_INFO);
  EXPECT_EQ(syslog_priority(LogLevel::debug), LOG_DEBUG);
  EXPECT_EQ(syslog_facility("user"), LOG_USER);
  EXPECT_EQ(syslog_facility("CRON"), LOG_CRON);
  EXPECT_EQ(syslog_facility("local7"), LOG_LOCAL7);
  EXPECT_EQ(syslog_facility("kern"), std::nullopt);
  EXPECT_EQ(syslog_facility(""), std::nullopt);
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("xml"), std::nullopt);
}

TEST(LogSinksTest, JournalStreamMatchesTheSameDeviceAndInodeOnly) {
  testing::TempDir dir;
  int fd = ::open(dir.file("f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  const std::string same = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(is_journal_stream(fd, same.c_str()));
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  EXPECT_FALSE(is_journal_stream(fd, other.c_str()));
  EXPECT_FALSE(is_journal_stream(fd, nullptr));
  EXPECT_FALSE(is_journal_stream(fd, "garbage"));
  EXPECT_FALSE(is_journal_stream(fd, (same + "x").c_str()));
  EXPECT_FALSE(is_journal_stream(-1, same.c_str()));
  ::close(fd);
}

}  // namespace
}  // namespace heartlock::cli
