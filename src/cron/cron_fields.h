// The fields of a cron expression as bit sets, and the civil-time search over them.
#ifndef HEARTLOCK_CRON_CRON_FIELDS_H_
#define HEARTLOCK_CRON_CRON_FIELDS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "heartlock/error.h"

namespace heartlock::detail {

// A parsed calendar expression: bit i of a set means value i matches. Plain data; the zone
// rules live in cron_schedule.cc.
struct CronFields {
  std::uint64_t seconds = 0;          // bits 0-59
  std::uint64_t minutes = 0;          // bits 0-59
  std::uint32_t hours = 0;            // bits 0-23
  std::uint32_t days = 0;             // bits 1-31: plain day-of-month values
  std::uint32_t nearest = 0;          // bits 1-31: `15W`
  bool last_day = false;              // `L`
  bool last_weekday = false;          // `LW`
  std::uint16_t months = 0;           // bits 1-12
  std::uint8_t weekdays = 0;          // bits 0-6 (7 folded into 0)
  std::uint8_t last_of = 0;           // bits 0-6: `5L`
  std::array<std::uint8_t, 6> nth{};  // nth[k] bits 0-6: `5#k`, k 1-5
  bool dom_star = false;              // day-of-month starts with `*` or `?`
  bool dow_star = false;              // day-of-week starts with `*` or `?`
  bool fixed_time = false;            // neither minute nor hour starts with `*` (cron.h, DST)

  // The bit set (bits 1-31) of the days of month `month` (1-12) of `year` that match the
  // day-of-month, day-of-week and month fields.
  std::uint32_t day_mask(int year, unsigned month) const;

  // The first local wall-clock time in [from, until) that matches, as seconds since
  // 1970-01-01T00:00:00 local; nullopt if none.
  std::optional<std::int64_t> next_local(std::int64_t from, std::int64_t until) const;

  // The first second of the day at or after `second_of_day` that matches the time fields.
  std::optional<int> next_time_of_day(int second_of_day) const;
};

// Parses the five or six fields (no macro, no zone prefix). Errc::invalid_argument naming the
// field, its text and the reason.
[[nodiscard]] Result<CronFields> parse_cron_fields(std::string_view expr);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CRON_CRON_FIELDS_H_
