// Parsing the five or six fields of a cron expression into bit sets (cron_fields.h).
#include <bit>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cron_fields.h"

namespace heartlock::detail {
namespace {

// What one field accepts.
struct FieldSpec {
  const char* name;
  int low;
  int high;
  const char* const* names;  // names[i] is value names_base + i; nullptr: numbers only
  int names_base;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                       "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

constexpr FieldSpec kSecond{"second", 0, 59, nullptr, 0};
constexpr FieldSpec kMinute{"minute", 0, 59, nullptr, 0};
constexpr FieldSpec kHour{"hour", 0, 23, nullptr, 0};
constexpr FieldSpec kDayOfMonth{"day-of-month", 1, 31, nullptr, 0};
constexpr FieldSpec kMonth{"month", 1, 12, kMonthNames, 1};
// 7 is Sunday too (Vixie cron); it is folded into 0 after parsing.
constexpr FieldSpec kDayOfWeek{"day-of-week", 0, 7, kDayNames, 0};

// Builds the error for `field` of `spec`: which field, its text, why.
std::unexpected<Error> field_error(const FieldSpec& spec, std::string_view field,
                                   const std::string& why) {
  return fail(Errc::invalid_argument,
              std::string(spec.name) + " field \"" + std::string(field) + "\": " + why);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// A number or (for month and day-of-week) a name; the range check is the caller's.
std::optional<int> parse_value(const FieldSpec& spec, std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
    return value;
  }
  if (spec.names != nullptr) {
    const std::string up = upper(text);
    for (int i = 0; spec.names[i] != nullptr; ++i) {
      if (up == spec.names[i]) {
        return spec.names_base + i;
      }
    }
  }
  return std::nullopt;
}

// Parses one value of `spec`, range-checked, or explains why not.
Result<int> checked_value(const FieldSpec& spec, std::string_view field, std::string_view text) {
  auto value = parse_value(spec, text);
  if (!value) {
    return field_error(spec, field,
                       "\"" + std::string(text) + "\" is not a number" +
                           (spec.names != nullptr ? " or a name" : ""));
  }
  if (*value < spec.low || *value > spec.high) {
    return field_error(spec, field,
                       std::to_string(*value) + " is out of range " + std::to_string(spec.low) +
                           "-" + std::to_string(spec.high));
  }
  return *value;
}

// One list item: `*`, `a`, `a-b`, each optionally `/step`, or `a/step` (a to the end).
Result<std::uint64_t> parse_item(const FieldSpec& spec, std::string_view field,
                                 std::string_view item) {
  std::string_view range = item;
  int step = 1;
  bool has_step = false;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    range = item.substr(0, slash);
    std::string_view step_text = item.substr(slash + 1);
    auto [end, ec] = std::from_chars(step_text.data(), step_text.data() + step_text.size(), step);
    if (ec != std::errc() || end != step_text.data() + step_text.size() || step_text.empty()) {
      return field_error(spec, field, "step \"" + std::string(step_text) + "\" is not a number");
    }
    if (step <= 0) {
      return field_error(spec, field, "step 0 would never advance");
    }
    if (step > spec.high) {
      return field_error(spec, field,
                         "step " + std::to_string(step) + " exceeds the field's maximum " +
                             std::to_string(spec.high));
    }
    has_step = true;
  }
  int low = spec.low;
  int high = spec.high;
  if (range.empty()) {
    return field_error(spec, field, "empty item in \"" + std::string(item) + "\"");
  }
  if (range != "*") {
    auto dash = range.find('-');
    auto first = checked_value(spec, field, range.substr(0, dash));
    if (!first) {
      return std::unexpected(first.error());
    }
    low = *first;
    high = has_step ? spec.high : low;  // `5/15`: from 5 to the end
    if (dash != std::string_view::npos) {
      auto last = checked_value(spec, field, range.substr(dash + 1));
      if (!last) {
        return std::unexpected(last.error());
      }
      high = *last;
      if (high < low) {
        return field_error(spec, field,
                           "range " + std::string(range) +
                               " goes backwards (ranges do not wrap around; use a list)");
      }
    }
  }
  std::uint64_t bits = 0;
  for (int v = low; v <= high; v += step) {
    bits |= std::uint64_t{1} << v;
  }
  return bits;
}

// Splits on `sep`, keeping empty parts (so `1,,2` is reported).
std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// A plain field (no extensions): the union of its items.
Result<std::uint64_t> parse_plain(const FieldSpec& spec, std::string_view field) {
  std::uint64_t bits = 0;
  for (std::string_view item : split(field, ',')) {
    auto item_bits = parse_item(spec, field, item);
    if (!item_bits) {
      return std::unexpected(item_bits.error());
    }
    bits |= *item_bits;
  }
  return bits;
}

// Day-of-month: plain items and `L`, `LW`, `15W`.
Result<void> parse_day_of_month(std::string_view field, CronFields& out) {
  out.dom_star = field.starts_with('*') || field == "?";
  if (field == "?") {
    out.days = ~std::uint32_t{0} << 1;
    return {};
  }
  for (std::string_view item : split(field, ',')) {
    const std::string up = upper(item);
    if (up == "L") {
      out.last_day = true;
    } else if (up == "LW") {
      out.last_weekday = true;
    } else if (up.size() > 1 && up.back() == 'W') {
      auto day = checked_value(kDayOfMonth, field, item.substr(0, item.size() - 1));
      if (!day) {
        return std::unexpected(day.error());
      }
      out.nearest |= std::uint32_t{1} << *day;
    } else {
      auto bits = parse_item(kDayOfMonth, field, item);
      if (!bits) {
        return std::unexpected(bits.error());
      }
      out.days |= static_cast<std::uint32_t>(*bits);
    }
  }
  return {};
}

// Day-of-week: plain items and `5L`, `5#3`.
Result<void> parse_day_of_week(std::string_view field, CronFields& out) {
  out.dow_star = field.starts_with('*') || field == "?";
  if (field == "?") {
    out.weekdays = 0x7f;
    return {};
  }
  auto fold = [](int day) { return static_cast<std::uint8_t>(1u << (day % 7)); };
  for (std::string_view item : split(field, ',')) {
    if (auto hash = item.find('#'); hash != std::string_view::npos) {
      auto day = checked_value(kDayOfWeek, field, item.substr(0, hash));
      if (!day) {
        return std::unexpected(day.error());
      }
      std::string_view n = item.substr(hash + 1);
      if (n.size() != 1 || n[0] < '1' || n[0] > '5') {
        return field_error(kDayOfWeek, field,
                           "\"#" + std::string(n) + "\": the week must be #1 to #5");
      }
      out.nth[static_cast<std::size_t>(n[0] - '0')] |= fold(*day);
    } else if (item.size() > 1 && (item.back() == 'L' || item.back() == 'l')) {
      auto day = checked_value(kDayOfWeek, field, item.substr(0, item.size() - 1));
      if (!day) {
        return std::unexpected(day.error());
      }
      out.last_of |= fold(*day);
    } else {
      auto bits = parse_item(kDayOfWeek, field, item);
      if (!bits) {
        return std::unexpected(bits.error());
      }
      std::uint64_t b = *bits;
      out.weekdays |= static_cast<std::uint8_t>((b | (b >> 7)) & 0x7f);
    }
  }
  return {};
}

// Splits on runs of blanks.
std::vector<std::string_view> fields_of(std::string_view expr) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t')) {
      ++i;
    }
    std::size_t start = i;
    while (i < expr.size() && expr[i] != ' ' && expr[i] != '\t') {
      ++i;
    }
    if (i > start) {
      fields.push_back(expr.substr(start, i - start));
    }
  }
  return fields;
}

// Fills the time fields (seconds when there are six).
Result<void> parse_time_fields(const std::vector<std::string_view>& f, std::size_t at,
                               CronFields& out) {
  if (at == 1) {
    auto seconds = parse_plain(kSecond, f[0]);
    if (!seconds) {
      return std::unexpected(seconds.error());
    }
    out.seconds = *seconds;
  } else {
    out.seconds = 1;  // second 0
  }
  auto minutes = parse_plain(kMinute, f[at]);
  if (!minutes) {
    return std::unexpected(minutes.error());
  }
  auto hours = parse_plain(kHour, f[at + 1]);
  if (!hours) {
    return std::unexpected(hours.error());
  }
  out.minutes = *minutes;
  out.hours = static_cast<std::uint32_t>(*hours);
  out.fixed_time = !f[at].starts_with('*') && !f[at + 1].starts_with('*');
  return {};
}

}  // namespace

Result<CronFields> parse_cron_fields(std::string_view expr) {
  const auto f = fields_of(expr);
  if (f.size() != 5 && f.size() != 6) {
    return fail(Errc::invalid_argument,
                std::to_string(f.size()) +
                    " fields: expected 5 (minute hour day-of-month month day-of-week) or 6 "
                    "(second first)");
  }
  const std::size_t at = f.size() - 5;  // index of the minute field
  CronFields out;
  if (auto time = parse_time_fields(f, at, out); !time) {
    return std::unexpected(time.error());
  }
  if (auto dom = parse_day_of_month(f[at + 2], out); !dom) {
    return std::unexpected(dom.error());
  }
  auto months = parse_plain(kMonth, f[at + 3]);
  if (!months) {
    return std::unexpected(months.error());
  }
  out.months = static_cast<std::uint16_t>(*months);
  if (auto dow = parse_day_of_week(f[at + 4], out); !dow) {
    return std::unexpected(dow.error());
  }
  // A full Gregorian cycle (400 years) holds every combination of month length, leap day and
  // weekday: a schedule that does not fire in one never fires.
  constexpr std::int64_t kFrom = 946684800;  // 2000-01-01T00:00:00
  constexpr std::int64_t kCycle = std::int64_t{146097} * 86400;
  if (!out.next_local(kFrom, kFrom + kCycle)) {
    std::string why = "day-of-month field \"" + std::string(f[at + 2]) +
                      "\" never falls in month field \"" + std::string(f[at + 3]) + "\"";
    if (!out.dow_star && !out.dom_star) {
      why += " or on day-of-week \"" + std::string(f[at + 4]) + "\"";
    } else if (!out.dow_star) {
      why += " on day-of-week \"" + std::string(f[at + 4]) + "\"";
    }
    return fail(Errc::invalid_argument, why + ": the schedule would never fire");
  }
  return out;
}

}  // namespace heartlock::detail
