// The run ledger's entries (heartlock/ledger.h): encode and decode, and what happens to text that
// is not an entry.
#include "heartlock/ledger.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "heartlock/text.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::HasErrc;

constexpr std::chrono::sys_seconds kSlot{std::chrono::sys_days{std::chrono::year{2026} / 3 / 29} +
                                         1h};

RunRecordText text_of(std::string data) {
  return RunRecordText{.job = "backup", .slot = kSlot, .data = std::move(data)};
}

RunRecord full_record() {
  RunRecord r{.job = "backup", .slot = kSlot, .state = RunState::failed};
  r.host = "web-1.example";
  r.pid = 4242;
  r.started = RunRecord::time_point(kSlot + 1234ms);
  r.ended = RunRecord::time_point(kSlot + 3h + 5ms);
  r.exit_code = 3;
  r.signal = 15;
  r.lateness = 1234ms;
  r.attempts = 2;
  r.token = 18'000'000'000'000'000'000ULL;  // beyond int64: the JSON keeps it unsigned
  r.definition = std::string(64, 'a');
  r.detail = "timed out after 3h \xE2\x80\x94 \"quoted\"\n";
  return r;
}

void expect_same(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.job, b.job);
  EXPECT_EQ(a.slot, b.slot);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.started, b.started);
  EXPECT_EQ(a.ended, b.ended);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.lateness, b.lateness);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.token, b.token);
  EXPECT_EQ(a.definition, b.definition);
  EXPECT_EQ(a.detail, b.detail);
}

TEST(LedgerTest, StatesHaveStableNames) {
  EXPECT_EQ(to_string(RunState::running), "running");
  EXPECT_EQ(to_string(RunState::done), "done");
  EXPECT_EQ(to_string(RunState::failed), "failed");
  EXPECT_EQ(to_string(RunState::missed), "missed");
}

TEST(LedgerTest, EveryFieldSurvivesARoundTrip) {
  RunRecord r = full_record();
  auto back = decode_run_record(text_of(encode_run_record(r)));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  expect_same(*back, r);
}

TEST(LedgerTest, AMinimalRecordRoundTripsWithDefaults) {
  RunRecord r{.job = "backup", .slot = kSlot, .state = RunState::missed};
  std::string data = encode_run_record(r);
  EXPECT_EQ(data, R"({"state":"missed"})");
  auto back = decode_run_record(text_of(data));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  expect_same(*back, r);
}

TEST(LedgerTest, TimesAreEpochMilliseconds) {
  RunRecord r{.job = "j", .slot = kSlot, .state = RunState::running};
  r.started = RunRecord::time_point(std::chrono::milliseconds(1'700'000'000'123));
  EXPECT_EQ(encode_run_record(r), R"({"start":1700000000123,"state":"running"})");
}

TEST(LedgerTest, JobAndSlotComeFromTheStore) {
  auto back = decode_run_record(
      RunRecordText{.job = "other", .slot = kSlot + 60s, .data = R"({"state":"done"})"});
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->job, "other");
  EXPECT_EQ(back->slot, kSlot + 60s);
  EXPECT_EQ(back->state, RunState::done);
}

TEST(LedgerTest, UnknownKeysAreIgnored) {
  auto back =
      decode_run_record(text_of(R"({"state":"done","exit":0,"future":{"nested":[1,2]},"zz":"x"})"));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(back->state, RunState::done);
  EXPECT_EQ(back->exit_code, 0);
}

TEST(LedgerTest, GarbageIsNotAnEntry) {
  for (const char* bad :
       {"", "not json", "[1,2]", "\"done\"", "{}", R"({"state":1})", R"({"state":"exploded"})",
        R"({"state":"done","exit":"0"})", R"({"state":"done","start":1e30})",
        R"({"state":"done","exit":1.5})", R"({"state":"done","exit":99999999999})",
        R"({"state":"done","token":-1})", R"({"state":"done","host":7})", "{\"state\":\"done\"",
        "\xFF\xFE"}) {
    auto r = decode_run_record(text_of(bad));
    EXPECT_THAT(r, HasErrc(Errc::invalid_argument)) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("backup at 2026-03-29T01:00:00Z"), std::string::npos)
          << r.error().message;
    }
  }
}

TEST(LedgerTest, OversizeTextIsNotAnEntry) {
  std::string big = R"({"state":"done","detail":")" + std::string(kMaxRunRecordBytes, 'x') + "\"}";
  EXPECT_THAT(decode_run_record(text_of(big)), HasErrc(Errc::invalid_argument));
}

TEST(LedgerTest, LongTextIsShortenedToFit) {
  RunRecord r = full_record();
  r.detail = std::string(10'000, 'd');
  r.host = std::string(3'000, 'h');
  r.definition = std::string(3'000, 'f');
  std::string data = encode_run_record(r);
  EXPECT_LE(data.size(), kMaxRunRecordBytes);
  auto back = decode_run_record(text_of(data));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  // The detail goes first; the numbers are kept.
  EXPECT_LT(back->detail.size(), 1000U);
  EXPECT_EQ(back->token, r.token);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->started, r.started);
}

TEST(LedgerTest, ADetailJustTooLongKeepsMostOfItWithAMark) {
  RunRecord r{.job = "j", .slot = kSlot, .state = RunState::failed};
  r.detail = std::string(kMaxRunRecordBytes, 'd');
  auto back = decode_run_record(text_of(encode_run_record(r)));
  ASSERT_TRUE(back.has_value());
  EXPECT_GT(back->detail.size(), kMaxRunRecordBytes - 64);
  EXPECT_TRUE(back->detail.ends_with("..."));
}

TEST(LedgerTest, ShorteningEscapesAndMultibyteTextStaysValid) {
  RunRecord r{.job = "j", .slot = kSlot, .state = RunState::failed};
  for (int i = 0; i < 2000; ++i) {
    r.detail += "\x01\xE2\x80\x94";  // \u0001 (six bytes in JSON) and an em dash
  }
  r.host = "\xFF\xFE bad utf-8";
  std::string data = encode_run_record(r);
  EXPECT_LE(data.size(), kMaxRunRecordBytes);
  auto back = decode_run_record(text_of(data));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(first_invalid_utf8(back->detail), std::nullopt);
  EXPECT_EQ(back->host, "\xEF\xBF\xBD\xEF\xBF\xBD bad utf-8");  // replaced, not thrown
}

}  // namespace
}  // namespace heartlock
