// CronSchedule: fire times against a table of known answers, and the rejected forms.
//
// The expected times are NOT the code's output. Their sources:
//  - zone transitions: the IANA tz data as `zdump -v ZONE | grep 2026` prints it on Debian 12:
//      Europe/Berlin        2026-03-29 01:00:00Z  01:59:59 CET  -> 03:00:00 CEST (+01 -> +02)
//                           2026-10-25 01:00:00Z  02:59:59 CEST -> 02:00:00 CET  (+02 -> +01)
//      America/New_York     2026-03-08 07:00:00Z  01:59:59 EST  -> 03:00:00 EDT  (-05 -> -04)
//                           2026-11-01 06:00:00Z  01:59:59 EDT  -> 01:00:00 EST  (-04 -> -05)
//      Australia/Lord_Howe  2026-04-04 15:00:00Z  01:59:59 +11  -> 01:30:00 +1030
//                           2026-10-03 15:30:00Z  01:59:59 +1030 -> 02:30:00 +11
//      Asia/Kolkata         no transition; +05:30 all year
//  - weekdays: `date -u -d 2026-MM-DD +%a`: 2026-01-01 Thu, 01-31 Sat, 02-01 Sun, 02-15 Sun,
//    02-28 Sat, 03-01 Sun, 03-29 Sun, 05-01 Fri, 05-31 Sun, 08-01 Sat, 08-31 Mon, 2028-02-29 Tue;
//    `date -u -d 2026-01-01 +%s` = 1767225600 (a multiple of 90).
//  - the cron rules: crontab(5) of cronie (day-of-month OR day-of-week unless one starts with
//    `*`; 0 and 7 are Sunday; the DST notes) and Quartz's CronTrigger documentation (L, W, #).
#include "heartlock/cron.h"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace heartlock {
namespace {

using std::chrono::sys_seconds;

// "2026-03-29T01:00:00Z" (UTC only; the table is written in UTC).
sys_seconds utc(const std::string& s) {
  int y = 0;
  unsigned mo = 0;
  unsigned d = 0;
  int h = 0;
  int mi = 0;
  int se = 0;
  EXPECT_EQ(std::sscanf(s.c_str(), "%d-%u-%uT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &se), 6) << s;
  return sys_seconds{std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{mo} /
                                           std::chrono::day{d}}} +
         std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{se};
}

struct Case {
  const char* expr;
  const char* tz;
  const char* from;                // UTC
  std::vector<const char*> fires;  // the next fire times, in order, UTC
};

void expect_fires(const Case& c) {
  auto schedule = CronSchedule::parse(c.expr, c.tz);
  ASSERT_TRUE(schedule.has_value()) << c.expr << ": " << schedule.error().message;
  sys_seconds t = utc(c.from);
  for (const char* want : c.fires) {
    auto next = schedule->next_after(t);
    ASSERT_TRUE(next.has_value()) << c.expr << " in " << c.tz << " after " << c.from;
    EXPECT_EQ(*next, utc(want)) << c.expr << " in " << c.tz << " from " << c.from << ": expected "
                                << want;
    t = *next;
  }
}

TEST(CronScheduleTest, SkippedHourFiresFixedSlotsOnceAfterTheGap) {
  for (const Case& c : std::vector<Case>{
           // 02:30 does not exist on 2026-03-29: 03:00 CEST; then 02:30 CEST the next day.
           {"30 2 * * *",
            "Europe/Berlin",
            "2026-03-28T12:00:00Z",
            {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
           // Two fixed slots in the gap: one fire at 03:00 CEST.
           {"0,30 2 * * *",
            "Europe/Berlin",
            "2026-03-28T12:00:00Z",
            {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
           // 03:00 itself exists.
           {"0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", {"2026-03-29T01:00:00Z"}},
           {"30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00Z",
            {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
           // Lord Howe skips 02:00-02:30: 02:15 fires at 02:30 +11.
           {"15 2 * * *",
            "Australia/Lord_Howe",
            "2026-10-03T12:00:00Z",
            {"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, SkippedHourSkipsWildcardSlots) {
  for (const Case& c : std::vector<Case>{
           // 01:45 CET, then 03:00 CEST: 02:00-02:45 do not exist.
           {"*/15 * * * *",
            "Europe/Berlin",
            "2026-03-29T00:40:00Z",
            {"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"}},
           {"0 * * * *",
            "Europe/Berlin",
            "2026-03-28T23:30:00Z",
            {"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
           // 01:50 +1030, then 02:40 +11 (02:00 and 02:20 do not exist).
           {"*/20 * * * *",
            "Australia/Lord_Howe",
            "2026-10-03T15:20:00Z",
            {"2026-10-03T15:40:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, RepeatedHourFiresFixedSlotsInTheFirstPassOnly) {
  for (const Case& c : std::vector<Case>{
           {"30 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00Z",
            {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
           {"0 2 * * *",
            "Europe/Berlin",
            "2026-10-24T12:00:00Z",
            {"2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"}},
           // From inside the first pass, after the slot.
           {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:40:00Z", {"2026-10-26T01:30:00Z"}},
           // From inside the second pass (02:10 CET), before the slot's second occurrence.
           {"30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", {"2026-10-26T01:30:00Z"}},
           {"30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00Z",
            {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
           // 01:45 +11, then 01:45 +1030 the next day (not in the second pass at 15:15Z).
           {"45 1 * * *",
            "Australia/Lord_Howe",
            "2026-04-04T12:00:00Z",
            {"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, RepeatedHourFiresWildcardSlotsInBothPasses) {
  for (const Case& c : std::vector<Case>{
           // 02:45 CEST, 02:00 CET, 02:15 CET.
           {"*/15 * * * *",
            "Europe/Berlin",
            "2026-10-25T00:40:00Z",
            {"2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:15:00Z"}},
           // 02:00 CEST, 02:00 CET, 03:00 CET.
           {"0 * * * *",
            "Europe/Berlin",
            "2026-10-24T23:30:00Z",
            {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
           {"*/30 * * * *",
            "America/New_York",
            "2026-11-01T05:40:00Z",
            {"2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z"}},
           // 01:50 +11, then 01:40 +1030 in the second pass, then 02:00 +1030.
           {"*/20 * * * *",
            "Australia/Lord_Howe",
            "2026-04-04T14:50:00Z",
            {"2026-04-04T15:10:00Z", "2026-04-04T15:30:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, ZonesWithoutDaylightSavingTime) {
  for (const Case& c : std::vector<Case>{
           {"0 9 * * *", "Asia/Kolkata", "2026-03-29T00:00:00Z", {"2026-03-29T03:30:00Z"}},
           {"30 2 * * *", "Asia/Kolkata", "2026-03-28T21:30:00Z", {"2026-03-29T21:00:00Z"}},
           {"30 2 * * 1-5", "Europe/Berlin", "2026-03-27T12:00:00Z", {"2026-03-30T00:30:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, MonthEndsAndLeapDays) {
  for (const Case& c : std::vector<Case>{
           {"0 0 L * ?",
            "UTC",
            "2026-02-01T00:00:00Z",
            {"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"}},
           {"0 0 L 2 *", "UTC", "2027-06-01T00:00:00Z", {"2028-02-29T00:00:00Z"}},
           {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z"}},
           {"0 0 29 * *", "UTC", "2026-02-01T00:00:00Z", {"2026-03-29T00:00:00Z"}},
           {"0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", {"2026-05-31T00:00:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, QuartzExtensions) {
  for (const Case& c : std::vector<Case>{
           // LW: 2026-01-31 is a Saturday, 2026-05-31 a Sunday: Fridays 30 and 29.
           {"0 0 LW * *", "UTC", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00Z"}},
           {"0 0 LW 5 *", "UTC", "2026-01-01T00:00:00Z", {"2026-05-29T00:00:00Z"}},
           // W: 2026-02-15 Sunday -> Monday 16; 2026-08-01 Saturday -> Monday 3 (not July);
           // 2026-05-31 Sunday -> Friday 29; 2026-02-28 Saturday -> Friday 27.
           {"0 0 15W 2 *", "UTC", "2026-01-01T00:00:00Z", {"2026-02-16T00:00:00Z"}},
           {"0 0 1W 8 *", "UTC", "2026-07-01T00:00:00Z", {"2026-08-03T00:00:00Z"}},
           {"0 0 31W 5 *", "UTC", "2026-01-01T00:00:00Z", {"2026-05-29T00:00:00Z"}},
           {"0 0 28W 2 *", "UTC", "2026-01-01T00:00:00Z", {"2026-02-27T00:00:00Z"}},
           // 5L: last Friday; 2026-01-31 Saturday -> 30; 2026-05-31 Sunday -> 29.
           {"0 0 * * 5L", "UTC", "2026-01-01T00:00:00Z", {"2026-01-30T00:00:00Z"}},
           {"0 0 ? 5 FRIL", "UTC", "2026-01-01T00:00:00Z", {"2026-05-29T00:00:00Z"}},
           // #: 2026-05-01 is a Friday, so the third is the 15th; 2026-08-01 a Saturday.
           {"0 0 ? * 5#3", "UTC", "2026-05-01T00:00:00Z", {"2026-05-15T00:00:00Z"}},
           {"0 0 * 8 1#1", "UTC", "2026-01-01T00:00:00Z", {"2026-08-03T00:00:00Z"}},
           {"0 0 ? * MON", "UTC", "2026-03-10T00:00:00Z", {"2026-03-16T00:00:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, DayOfMonthAndDayOfWeekFollowVixieCron) {
  for (const Case& c : std::vector<Case>{
           // Neither starts with `*`: either matches. 2026-02-06 is the first Friday.
           {"0 0 13 * 5",
            "UTC",
            "2026-02-01T00:00:00Z",
            {"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z"}},
           // Day-of-month starts with `*`: both. Fridays of Feb 2026: 6 13 20 27; odd: 13, 27.
           {"0 0 */2 * 5",
            "UTC",
            "2026-02-01T00:00:00Z",
            {"2026-02-13T00:00:00Z", "2026-02-27T00:00:00Z"}},
           // 7 is Sunday; names in any case; lists of ranges.
           {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
           {"0 0 1 jan-mar,DEC *", "UTC", "2026-04-01T00:00:00Z", {"2026-12-01T00:00:00Z"}},
           {"5/15 * * * *",
            "UTC",
            "2026-01-01T00:00:00Z",
            {"2026-01-01T00:05:00Z", "2026-01-01T00:20:00Z"}},
           {"5-59/15 * * * *", "UTC", "2026-01-01T00:50:00Z", {"2026-01-01T01:05:00Z"}},
           {"*/7 * * * *", "UTC", "2026-01-01T00:56:00Z", {"2026-01-01T01:00:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, MacrosSecondsAndEvery) {
  for (const Case& c : std::vector<Case>{
           {"@yearly", "UTC", "2026-03-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
           {"@annually", "UTC", "2026-03-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
           {"@monthly", "UTC", "2026-01-31T12:00:00Z", {"2026-02-01T00:00:00Z"}},
           {"@weekly", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
           {"@daily", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
           {"@midnight", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z"}},
           {"@hourly", "UTC", "2026-01-01T00:00:00Z", {"2026-01-01T01:00:00Z"}},
           {"*/20 * * * * *",
            "UTC",
            "2026-01-01T00:00:00Z",
            {"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
           {"30 15 10 * * *", "UTC", "2026-01-01T00:00:00Z", {"2026-01-01T10:15:30Z"}},
           // Multiples of 90 s since the epoch, whatever the zone.
           {"@every 90s",
            "Asia/Kolkata",
            "2026-01-01T00:00:00Z",
            {"2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"}},
           {"@every 1h30m", "UTC", "1970-01-01T00:00:01Z", {"1970-01-01T01:30:00Z"}},
           {"CRON_TZ=Asia/Kolkata 0 9 * * *",
            "UTC",
            "2026-03-29T00:00:00Z",
            {"2026-03-29T03:30:00Z"}},
       }) {
    expect_fires(c);
  }
}

TEST(CronScheduleTest, ZoneAndPrefix) {
  auto s = CronSchedule::parse("TZ=America/New_York  0 9 * * *", "Europe/Berlin");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->zone(), "America/New_York");
  EXPECT_EQ(s->expression(), "0 9 * * *");
  auto local = CronSchedule::parse("0 9 * * *");
  ASSERT_TRUE(local.has_value()) << local.error().message;
  EXPECT_FALSE(local->zone().empty());
  auto offset = s->offset_at(utc("2026-07-01T00:00:00Z"));
  EXPECT_EQ(offset.utc_offset, std::chrono::hours(-4));
  EXPECT_EQ(offset.abbreviation, "EDT");
}

TEST(CronScheduleTest, ConstUseFromManyThreadsAgrees) {
  auto s = CronSchedule::parse("*/15 * * * *", "Europe/Berlin");
  ASSERT_TRUE(s.has_value()) << s.error().message;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < 1000; ++n) {
        if (s->next_after(utc("2026-10-25T00:40:00Z")) != utc("2026-10-25T00:45:00Z")) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace heartlock
