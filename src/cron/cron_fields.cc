// The civil-time search of a cron expression: field by field (month, day, hour, minute, second)
// over bit sets, never minute by minute, so one search costs a few dozen bit operations.
#include "cron_fields.h"

#include <bit>
#include <chrono>
#include <cstdint>
#include <optional>

namespace heartlock::detail {
namespace {

constexpr std::int64_t kDay = 86400;

// The first set bit of `bits` at or above `from`, or -1.
int next_bit(std::uint64_t bits, int from) {
  if (from >= 64) {
    return -1;
  }
  const std::uint64_t rest = bits & (~std::uint64_t{0} << from);
  return rest == 0 ? -1 : std::countr_zero(rest);
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Day number (days since 1970-01-01) of the first day of the month after y/m.
std::int64_t next_month_start(const std::chrono::year_month_day& ymd) {
  using namespace std::chrono;
  const sys_days start{(ymd.year() / ymd.month() / 1) + months{1}};
  return start.time_since_epoch().count();
}

}  // namespace

std::uint32_t CronFields::day_mask(int year, unsigned month) const {
  using namespace std::chrono;
  if (((months >> month) & 1u) == 0) {
    return 0;
  }
  const auto ym = std::chrono::year{year} / std::chrono::month{month};
  const int dim = static_cast<int>(static_cast<unsigned>((ym / last).day()));
  const int w1 = static_cast<int>(weekday{sys_days{ym / 1}}.c_encoding());  // weekday of the 1st
  auto weekday_of = [&](int day) { return (w1 + day - 1) % 7; };
  const std::uint32_t valid = (~std::uint32_t{0} >> (31 - dim)) & ~std::uint32_t{1};

  std::uint32_t dom = days;
  if (last_day) {
    dom |= std::uint32_t{1} << dim;
  }
  if (last_weekday) {
    const int w = weekday_of(dim);
    dom |= std::uint32_t{1} << (w == 6 ? dim - 1 : w == 0 ? dim - 2 : dim);
  }
  for (std::uint32_t rest = nearest & valid; rest != 0; rest &= rest - 1) {
    // The weekday nearest to `d` in the same month (Quartz's W): Saturday moves to Friday
    // (or Monday the 3rd from the 1st), Sunday to Monday (or Friday from the month's last day).
    const int d = std::countr_zero(rest);
    const int w = weekday_of(d);
    int target = d;
    if (w == 6) {
      target = d == 1 ? 3 : d - 1;
    } else if (w == 0) {
      target = d == dim ? d - 2 : d + 1;
    }
    dom |= std::uint32_t{1} << target;
  }

  std::uint32_t dow = 0;
  for (int w = 0; w < 7; ++w) {
    const int first = 1 + (w - w1 + 7) % 7;
    if (((weekdays >> w) & 1u) != 0) {
      for (int d = first; d <= dim; d += 7) {
        dow |= std::uint32_t{1} << d;
      }
    }
    for (int k = 1; k <= 5; ++k) {
      const int d = first + 7 * (k - 1);
      if (((nth[static_cast<std::size_t>(k)] >> w) & 1u) != 0 && d <= dim) {
        dow |= std::uint32_t{1} << d;
      }
    }
    if (((last_of >> w) & 1u) != 0) {
      dow |= std::uint32_t{1} << (dim - (weekday_of(dim) - w + 7) % 7);
    }
  }
  // Vixie cron: a field starting with `*` makes the two fields ANDed; otherwise ORed (cron.h).
  return ((dom_star || dow_star) ? (dom & dow) : (dom | dow)) & valid;
}

std::optional<int> CronFields::next_time_of_day(int second_of_day) const {
  const int h0 = second_of_day / 3600;
  const int m0 = second_of_day / 60 % 60;
  const int s0 = second_of_day % 60;
  for (int h = next_bit(hours, h0); h >= 0; h = next_bit(hours, h + 1)) {
    for (int m = next_bit(minutes, h == h0 ? m0 : 0); m >= 0; m = next_bit(minutes, m + 1)) {
      const int s = next_bit(seconds, (h == h0 && m == m0) ? s0 : 0);
      if (s >= 0) {
        return h * 3600 + m * 60 + s;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> CronFields::next_local(std::int64_t from, std::int64_t until) const {
  using namespace std::chrono;
  std::int64_t day = floor_div(from, kDay);
  int second_of_day = static_cast<int>(from - day * kDay);
  while (day * kDay < until) {
    const year_month_day ymd{sys_days{std::chrono::days{day}}};
    const unsigned d = static_cast<unsigned>(ymd.day());
    const std::uint32_t mask =
        day_mask(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month())) &
        (~std::uint32_t{0} << d);
    if (mask == 0) {
      day = next_month_start(ymd);
      second_of_day = 0;
      continue;
    }
    const auto match = static_cast<unsigned>(std::countr_zero(mask));
    if (match != d) {
      day += match - d;
      second_of_day = 0;
    }
    if (auto t = next_time_of_day(second_of_day)) {
      const std::int64_t result = day * kDay + *t;
      return result < until ? std::optional(result) : std::nullopt;
    }
    ++day;
    second_of_day = 0;
  }
  return std::nullopt;
}

}  // namespace heartlock::detail
