// CronSchedule: macros, @every, the zone prefix, and the daylight-saving rules of cron.h on top
// of the civil-time search (cron_fields.cc).
//
// Time zones come from Howard Hinnant's date/tz built with USE_OS_TZDB (Debian's libdate-tz,
// inside the heartlock-tz module loaded on first use: tz_api.h says why): it reads the compiled
// TZif files of the system's tzdata, never a download. A zone's history is a sequence of
// segments with a constant UTC offset (detail::TzSegment); within one, wall time is UTC plus
// that offset, so the search runs segment by segment and applies the DST rules at their
// boundaries.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "heartlock/cron.h"
#include "heartlock/duration.h"

#include "cron_fields.h"
#include "tz_api.h"

namespace heartlock {
namespace detail {

// What CronSchedule shares between its copies; immutable after parse.
struct CronPlan {
  std::string expression;
  const TzApi* tz = nullptr;
  const HeartlockTzZone* zone = nullptr;  // owned by the tz module, which stays loaded
  std::string zone_name;
  CronFields fields;
  std::chrono::seconds every{0};  // @every: nonzero
};

}  // namespace detail

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// Ten years (with leap days): covers 29 February across a century year (2096 to 2104).
constexpr seconds kHorizon{std::int64_t{3653} * 86400};

// The five-field equivalent of a macro, or nullptr.
const char* macro_fields(std::string_view macro) {
  if (macro == "@yearly" || macro == "@annually") {
    return "0 0 1 1 *";
  }
  if (macro == "@monthly") {
    return "0 0 1 * *";
  }
  if (macro == "@weekly") {
    return "0 0 * * 0";
  }
  if (macro == "@daily" || macro == "@midnight") {
    return "0 0 * * *";
  }
  if (macro == "@hourly") {
    return "0 * * * *";
  }
  return nullptr;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// Fills plan.fields or plan.every from the expression without its zone prefix.
Result<void> parse_body(std::string_view body, detail::CronPlan& plan) {
  if (body.starts_with('@')) {
    const auto space = body.find_first_of(" \t");
    const std::string_view macro = body.substr(0, space);
    if (macro == "@every") {
      const std::string_view arg = space == std::string_view::npos ? "" : trim(body.substr(space));
      auto interval = parse_duration(arg);
      if (!interval) {
        return fail(Errc::invalid_argument,
                    "@every \"" + std::string(arg) + "\": " + interval.error().message);
      }
      if (interval->count() % 1000 != 0 || *interval < std::chrono::seconds(1)) {
        return fail(Errc::invalid_argument,
                    "@every \"" + std::string(arg) + "\": the interval must be whole seconds");
      }
      plan.every = std::chrono::duration_cast<seconds>(*interval);
      return {};
    }
    const char* fields = macro_fields(macro);
    if (fields == nullptr || space != std::string_view::npos) {
      return fail(Errc::invalid_argument,
                  "\"" + std::string(body) +
                      "\": not a schedule macro (@yearly @annually @monthly @weekly @daily "
                      "@midnight @hourly @every DURATION)");
    }
    body = fields;
  }
  auto fields = detail::parse_cron_fields(body);
  if (!fields) {
    return std::unexpected(fields.error());
  }
  plan.fields = *fields;
  return {};
}

// Sets plan.zone to the zone named `name`, or the system's local zone (UTC when it has none).
Result<void> find_zone(const detail::TzApi& tz, std::string_view name, detail::CronPlan& plan) {
  std::string wanted = name.empty() ? detail::system_zone_name() : std::string(name);
  auto zone = tz.find(wanted);
  if (zone && *zone == nullptr && name.empty()) {
    wanted = "Etc/UTC";  // a local zone the database lacks: UTC, as libc assumes
    zone = tz.find(wanted);
  }
  if (!zone) {
    return std::unexpected(zone.error());
  }
  if (*zone == nullptr) {
    return fail(Errc::invalid_argument,
                "time zone \"" + wanted + "\": not in the tz database (/usr/share/zoneinfo)");
  }
  plan.zone = *zone;
  plan.zone_name = std::move(wanted);
  return {};
}

std::int64_t count(sys_seconds t) { return t.time_since_epoch().count(); }

// The next fire of a calendar schedule (cron.h, DST rules).
std::optional<sys_seconds> next_calendar(const detail::CronPlan& plan, sys_seconds t) {
  const detail::CronFields& f = plan.fields;
  const sys_seconds limit = t + kHorizon;
  detail::TzSegment info = plan.tz->segment(plan.zone, t);
  seconds previous_offset = info.offset;
  if (f.fixed_time) {
    previous_offset = plan.tz->segment(plan.zone, info.begin - seconds(1)).offset;
  }
  sys_seconds lower = t + seconds(1);
  while (lower <= limit) {
    const std::int64_t offset = info.offset.count();
    std::int64_t from = count(lower) + offset;
    if (f.fixed_time) {
      // Clocks went back at info.begin: the wall times before begin + previous offset already
      // passed in the previous segment; a fixed-time slot fires in the first pass only.
      from = std::max(from, count(info.begin) + previous_offset.count());
    }
    const sys_seconds end = std::min(info.end, limit + seconds(1));
    if (auto local = f.next_local(from, count(end) + offset)) {
      return sys_seconds{seconds{*local - offset}};
    }
    if (info.end > limit) {
      break;
    }
    const detail::TzSegment next = plan.tz->segment(plan.zone, info.end);
    // Clocks go forward at info.end: a fixed-time slot in the skipped wall times fires at the
    // first instant after the gap, info.end itself.
    if (f.fixed_time && next.offset > info.offset &&
        f.next_local(count(info.end) + offset, count(info.end) + next.offset.count())) {
      return info.end;
    }
    previous_offset = info.offset;
    lower = info.end;
    info = next;
  }
  return std::nullopt;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view expr, std::string_view tz) {
  std::string_view body = trim(expr);
  for (std::string_view prefix : {"CRON_TZ=", "TZ="}) {
    if (body.starts_with(prefix)) {
      body.remove_prefix(prefix.size());
      const auto space = body.find_first_of(" \t");
      tz = body.substr(0, space);
      body = space == std::string_view::npos ? "" : trim(body.substr(space));
      break;
    }
  }
  auto plan = std::make_shared<detail::CronPlan>();
  plan->expression = std::string(body);
  if (body.empty()) {
    return fail(Errc::invalid_argument, "cron expression \"" + std::string(expr) + "\": empty");
  }
  if (auto parsed = parse_body(body, *plan); !parsed) {
    return fail(Errc::invalid_argument,
                "cron expression \"" + std::string(expr) + "\": " + parsed.error().message);
  }
  auto api = detail::tz_api();
  if (!api) {
    return std::unexpected(api.error());
  }
  if (auto found = find_zone(**api, tz, *plan); !found) {
    return std::unexpected(found.error());
  }
  plan->tz = *api;
  return CronSchedule(std::move(plan));
}

CronSchedule::CronSchedule(std::shared_ptr<const detail::CronPlan> plan) : plan_(std::move(plan)) {}

std::optional<sys_seconds> CronSchedule::next_after(sys_seconds t) const {
  if (plan_->every.count() > 0) {
    // Multiples of the interval since the Unix epoch (cron.h).
    const std::int64_t n = plan_->every.count();
    const std::int64_t s = count(t);
    const std::int64_t q = s / n - ((s % n != 0 && s < 0) ? 1 : 0);
    return sys_seconds{seconds{(q + 1) * n}};
  }
  return next_calendar(*plan_, t);
}

std::string_view CronSchedule::zone() const { return plan_->zone_name; }

std::string_view CronSchedule::expression() const { return plan_->expression; }

ZoneOffset CronSchedule::offset_at(sys_seconds t) const {
  const detail::TzSegment info = plan_->tz->segment(plan_->zone, t);
  return ZoneOffset{.utc_offset = info.offset, .abbreviation = info.abbreviation.data()};
}

}  // namespace heartlock
