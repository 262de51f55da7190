// Cron schedules: parsing cron expressions and computing their next fire time in a time zone.
//
// Pure computation: no clock is read and nothing is written. The time zone rules come from the
// system's tz database (/usr/share/zoneinfo), read once per zone on first use.
//
// Syntax
// ------
//   5 fields (Vixie/cronie):        minute hour day-of-month month day-of-week
//   6 fields (Quartz/robfig order): second minute hour day-of-month month day-of-week
//   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 0-7 or
//   SUN-SAT (0 and 7 are both Sunday); names are case-insensitive.
//   In every field: `*`, a value, a range `1-5`, a list `1,3,5-7`, a step `*/7`, `5-59/15`,
//   or `5/15` (from 5 to the field's end, every 15).
//   Quartz extensions:
//     day-of-month  `L` last day of the month; `15W` the weekday (Mon-Fri) nearest to the 15th,
//                   never crossing into another month; `LW` the month's last weekday;
//                   `?` no specific value (same as `*`)
//     day-of-week   `5L` the month's last Friday; `5#3` its third Friday (#1 to #5);
//                   `?` no specific value (same as `*`)
//   Macros: @yearly = @annually = `0 0 1 1 *`, @monthly = `0 0 1 * *`, @weekly = `0 0 * * 0`,
//   @daily = @midnight = `0 0 * * *`, @hourly = `0 * * * *`.
//   `@every 90s` (units as parse_duration: ms is rejected, whole seconds only) fires at every
//   multiple of the interval since the Unix epoch (1970-01-01T00:00:00Z), so every host agrees
//   on the slots whatever its zone or start time; the time zone does not matter for it.
//   A leading `CRON_TZ=Zone ` or `TZ=Zone ` sets the zone (it overrides the `tz` argument).
//
// Day-of-month and day-of-week (exactly as Vixie cron and cronie): when either field starts
// with `*` (or `?`), a day must match both; otherwise a day matching either one is enough.
//   `0 0 13 * 5`     the 13th of each month AND every Friday (either matches: OR)
//   `0 0 * * 5`      every Friday (day-of-month `*` matches all days)
//   `0 0 */2 * 5`    Fridays that are odd days of the month (starts with `*`: AND)
//   `0 0 1-7 * 1`    days 1 to 7, and every Monday (OR; not "the first Monday": use `1#1`)
//
// Rejected, with a message naming the field, its text and the reason: out-of-range values,
// backward ranges (hour `22-2`: no wrap-around), step 0 or a step above the field's maximum,
// empty fields, unknown names, trailing junk, 7 fields (Quartz's year), `@reboot`, and
// schedules that can never fire (`0 0 30 2 *`, `0 0 31 4 *`).
//
// Daylight saving time (cronie's rules; the wall clock is what the expression describes):
//   A job is "fixed-time" when neither its minute nor its hour field starts with `*`
//   (`30 2 * * *`, `0 0 * * *`, @daily), and "wildcard" otherwise (`*/15 * * * *`, `0 * * * *`,
//   @hourly).
//   - Skipped hour (clocks go forward; Europe/Berlin 2026-03-29 02:00 -> 03:00): a fixed-time
//     slot that does not exist fires once, at the first instant after the gap (`30 2 * * *`
//     fires at 03:00 CEST = 01:00Z). Several fixed slots in one gap (`0,30 2 * * *`) fire ONCE
//     together at that instant (cronie runs each right after the gap, i.e. at the same moment;
//     a schedule yields instants, and one instant is one fire). Wildcard slots in the gap are
//     skipped: they resume at the next existing wall-clock time.
//   - Repeated hour (clocks go back; Europe/Berlin 2026-10-25 03:00 CEST -> 02:00 CET): a
//     fixed-time slot fires once, in the first pass; wildcard slots fire in both passes.
//   next_after() obeys this from any starting point, including from inside the second pass.
//
// Deliberate differences from cronie: seconds (6 fields), the Quartz extensions and @every are
// additions; `5/15` is accepted; schedules that never fire are rejected; cronie applies its DST
// catch-up only to clock changes under 3 hours, we apply the rules above to every change of a
// zone's UTC offset; cronie's `~` (random) and @reboot are not supported.
#ifndef HEARTLOCK_CRON_H_
#define HEARTLOCK_CRON_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "heartlock/error.h"
#include "heartlock/export.h"

namespace heartlock {

namespace detail {
struct CronPlan;
}  // namespace detail

// The UTC offset and abbreviation in effect at an instant in a schedule's zone, for display.
struct HEARTLOCK_API ZoneOffset {
  std::chrono::seconds utc_offset{0};
  std::string abbreviation;  // "CEST", "+0530"
};

// CronSchedule: a parsed cron expression bound to a time zone.
//
// Thread-safety: immutable after parse(); all const methods may be called concurrently.
// Copies are cheap and share the parsed plan.
class HEARTLOCK_API CronSchedule {
 public:
  // Parses `expr` (see the syntax above) in the zone `tz` (an IANA name such as
  // "Europe/Berlin"; empty: the system's local zone, /etc/localtime, or UTC if it has none).
  // Errc::invalid_argument with a message naming the field, its text and the reason, or the
  // unknown zone; Errc::unavailable if the time-zone module (heartlock-tz, which
  // wraps libdate-tz) cannot be loaded.
  [[nodiscard]] static Result<CronSchedule> parse(std::string_view expr, std::string_view tz = "");

  // The first fire time strictly after `t`, or nullopt if there is none within ten years
  // (enough for 29 February across a century year).
  std::optional<std::chrono::sys_seconds> next_after(std::chrono::sys_seconds t) const;

  // The zone's name ("Europe/Berlin").
  std::string_view zone() const;

  // The expression as given (without a CRON_TZ= prefix).
  std::string_view expression() const;

  // The zone's UTC offset and abbreviation at `t`.
  ZoneOffset offset_at(std::chrono::sys_seconds t) const;

 private:
  explicit CronSchedule(std::shared_ptr<const detail::CronPlan> plan);
  std::shared_ptr<const detail::CronPlan> plan_;
};

}  // namespace heartlock

#endif  // HEARTLOCK_CRON_H_
