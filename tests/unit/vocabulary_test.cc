// Durations, option validation and name validation: bad input gets a precise error.
#include <gtest/gtest.h>

#include "heartlock/duration.h"
#include "heartlock/heartlock.h"

#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::HasErrc;
using testing::IsOk;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(*parse_duration("500ms"), 500ms);
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("5m"), 5min);
  EXPECT_EQ(*parse_duration("2h"), 2h);
  EXPECT_EQ(*parse_duration("1d"), 24h);
  EXPECT_EQ(*parse_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_duration("0s"), 0ms);
}

TEST(DurationTest, ParsesDecimalsExactlyToTheMillisecond) {
  EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(*parse_duration("0.5m"), 30s);
  EXPECT_EQ(*parse_duration("0.001s"), 1ms);
  EXPECT_EQ(*parse_duration("2.50s"), 2500ms);
  EXPECT_EQ(*parse_duration("1.25h"), 75min);
  EXPECT_EQ(*parse_duration("1h0.5m"), 3630s);
  EXPECT_EQ(*parse_duration("1.0ms"), 1ms);
  EXPECT_EQ(*parse_duration("0.5000000000000s"), 500ms) << "trailing zeros do not count";
}

TEST(DurationTest, RejectsWhatIsFinerThanAMillisecond) {
  for (const char* bad : {"1.5ms", "0.0001s", "0.0000001m", "1.0000000001d"}) {
    auto d = parse_duration(bad);
    ASSERT_THAT(d, HasErrc(Errc::invalid_argument)) << bad;
    EXPECT_NE(d.error().message.find("finer than a millisecond"), std::string::npos)
        << d.error().message;
  }
}

TEST(DurationTest, ABareNumberGetsAHint) {
  auto d = parse_duration("90");
  ASSERT_THAT(d, HasErrc(Errc::invalid_argument));
  EXPECT_NE(d.error().message.find("missing unit: write 90s or 90ms"), std::string::npos)
      << d.error().message;
  d = parse_duration("1.5");
  ASSERT_THAT(d, HasErrc(Errc::invalid_argument));
  EXPECT_NE(d.error().message.find("missing unit: write 1.5s or 1.5m"), std::string::npos)
      << d.error().message;
}

TEST(DurationTest, RejectsWhatItCannotRead) {
  for (const char* bad : {"", "30", "s", "5x", "-5s", "5 s", "99999999999999d", "5S", ".5s", "1.s",
                          "1..5s", "1.5.5s", "1,5s", "3660.5d", "1e3s"}) {
    EXPECT_THAT(parse_duration(bad), HasErrc(Errc::invalid_argument)) << bad;
  }
}

TEST(DurationTest, FormatsForHumans) {
  EXPECT_EQ(format_duration(450ms), "450ms");
  EXPECT_EQ(format_duration(12s), "12s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(330s), "5m30s");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(100h), "4d4h");
}

// What `heartlock status` prints ("2.9s", "5m30s", "4d4h") is valid --ttl input, and reads back
// as what was printed.
TEST(DurationTest, WhatIsPrintedParsesBack) {
  for (std::chrono::milliseconds d :
       {0ms, 1ms, 450ms, 999ms, 1000ms, 1500ms, 2934ms, 59999ms, 60000ms, 61500ms, 330000ms,
        3599999ms, 7200000ms, 360000000ms, 86400000ms * 400}) {
    const std::string printed = format_duration(d);
    auto parsed = parse_duration(printed);
    ASSERT_THAT(parsed, IsOk()) << printed;
    EXPECT_EQ(format_duration(*parsed), printed);
    EXPECT_LE(*parsed, d) << printed;
  }
}

TEST(OptionsTest, DefaultsAreValid) { EXPECT_THAT(validate(LeaseOptions{}), IsOk()); }

TEST(OptionsTest, RejectsNonsense) {
  EXPECT_THAT(validate({.ttl = 0ms}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.ttl = 10ms}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.ttl = 30s, .stale_after = 10ms}), HasErrc(Errc::invalid_argument))
      << "stale_after below the smallest ttl";
  // The renew interval follows a stale_after shorter than the ttl (the heartbeat is published
  // with each renewal): deadlock detection after 5 s works with the default ttl.
  EXPECT_THAT(validate({.ttl = 30s, .stale_after = 5s}), IsOk());
  EXPECT_EQ(renew_interval({.ttl = 30s, .stale_after = 6s}), 2s);
  EXPECT_EQ(renew_interval({.ttl = 30s, .stale_after = 60s}), 10s);
  EXPECT_THAT(validate({.ttl = 30s, .keepalive = false, .stale_after = 1min}),
              HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.min_hold = 10s, .max_hold = 5s}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.min_hold = -1s}), HasErrc(Errc::invalid_argument));
}

TEST(NameTest, RejectsEmptyLongAndNul) {
  EXPECT_THAT(validate_name(""), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate_name(std::string(513, 'a')), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate_name(std::string("a\0b", 3)), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate_name(std::string(512, 'a')), IsOk());
  EXPECT_THAT(validate_name("a/b ☃"), IsOk());
}

// One rule on every backend (PostgreSQL alone used to refuse these): names are UTF-8 text
// without control characters, which also keeps them from steering a terminal in `status`.
TEST(NameTest, RejectsInvalidUtf8AndControlCharacters) {
  for (std::string bad : {"\xff",
                          "a\xc0\xaf"
                          "b",
                          "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "caf\xc3",
                          "\x1b[31mred", "tab\there", "del\x7f", "new\nline"}) {
    EXPECT_THAT(validate_name(bad), HasErrc(Errc::invalid_argument))
        << ::testing::PrintToString(bad);
  }
  for (std::string good :
       {"café", "日本語", "\xf0\x9f\x94\x92 lock", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_THAT(validate_name(good), IsOk()) << good;
  }
}

TEST(TextTest, PrintableEscapesWhatCouldSteerATerminal) {
  EXPECT_EQ(printable("plain café ☃"), "plain café ☃");
  EXPECT_EQ(printable("\x1b]0;t\x07"), "\\x1b]0;t\\x07");
  EXPECT_EQ(printable("a\nb\\c\td"), "a\\nb\\\\c\\td");
  EXPECT_EQ(printable("\xc2\x9b"
                      "2J"),
            "\\xc2\\x9b2J")
      << "C1 CSI";
  EXPECT_EQ(printable("bad\xff"), "bad\\xff");
  EXPECT_EQ(printable("cut\xe2\x98"), "cut\\xe2\\x98");
  EXPECT_EQ(printable(std::string("nul\0", 4)), "nul\\x00");
  EXPECT_EQ(first_invalid_utf8("ok ☃"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ok\xc0\x80"), 2u) << "overlong NUL";
}

TEST(OptionsTest, EveryDurationIsBounded) {
  // milliseconds::max() once deadlocked a lease at once (stale_after) or lost it at once
  // (max_hold): deadlines computed from them overflowed.
  constexpr auto kMax = std::chrono::milliseconds::max();
  EXPECT_THAT(validate({.ttl = kMax}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.stale_after = kMax}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.max_hold = kMax}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.min_hold = kMax}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.kill_grace = kMax}), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(validate({.ttl = kMaxDuration}), IsOk());
  EXPECT_THAT(validate({.ttl = kMaxDuration + 1ms}), HasErrc(Errc::invalid_argument));
}

TEST(OpenTest, RejectsUnknownSchemesAndFileOptions) {
  EXPECT_THAT(Store::open("gopher://x"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open("file://relative"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open("file:///tmp/x?y=1"), HasErrc(Errc::invalid_argument));
}

}  // namespace
}  // namespace heartlock
