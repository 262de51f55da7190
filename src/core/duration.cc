#include "heartlock/duration.h"

#include <cstdint>
#include <optional>

namespace heartlock {

namespace {

constexpr std::int64_t kMaxMs = 10LL * 366 * 24 * 3600 * 1000;
// Decimals kept after trailing zeros are dropped: 10^-9 of the largest unit (a day) is already
// finer than a millisecond, so more is always rejected and the arithmetic cannot overflow.
constexpr std::size_t kMaxDecimals = 9;

// Milliseconds per unit; 0 for an unknown one.
std::int64_t unit_scale(std::string_view unit) {
  if (unit == "ms") {
    return 1;
  }
  if (unit == "s") {
    return 1000;
  }
  if (unit == "m") {
    return 60 * 1000;
  }
  if (unit == "h") {
    return 3600 * 1000;
  }
  if (unit == "d") {
    return 24 * 3600 * 1000;
  }
  return 0;
}

// One <number>[.<decimals>] as read, before its unit.
struct Number {
  std::int64_t whole = 0;
  std::string_view decimals;  // without trailing zeros
  std::string_view text;      // as written, for messages
};

// The hint for a number without a unit: what the user probably meant.
std::string missing_unit(const Number& n) {
  const std::string t(n.text);
  return "missing unit: write " + t + "s or " + t + (n.decimals.empty() ? "ms" : "m") +
         " (units ms, s, m, h, d)";
}

// Reads <digits>[.<digits>] at text[i] into `n` and moves `i` past it; returns why it cannot, or
// an empty string.
std::string read_number(std::string_view text, std::size_t& i, Number& n) {
  auto is_digit = [&](std::size_t at) {
    return at < text.size() && text[at] >= '0' && text[at] <= '9';
  };
  const std::size_t start = i;
  for (; is_digit(i); ++i) {
    n.whole = n.whole * 10 + (text[i] - '0');
    if (n.whole > kMaxMs) {
      return "too large";
    }
  }
  if (i == start) {
    return "expected a number";
  }
  if (i < text.size() && text[i] == '.') {
    const std::size_t decimals_start = ++i;
    while (is_digit(i)) {
      ++i;
    }
    if (i == decimals_start) {
      return "expected digits after '.'";
    }
    n.decimals = text.substr(decimals_start, i - decimals_start);
    while (!n.decimals.empty() && n.decimals.back() == '0') {
      n.decimals.remove_suffix(1);
    }
  }
  n.text = text.substr(start, i - start);
  return "";
}

// `decimals` (the digits after the point) of a unit of `scale` ms, in ms; nullopt when that is
// not a whole number of milliseconds.
std::optional<std::int64_t> fraction_ms(std::string_view decimals, std::int64_t scale) {
  if (decimals.size() > kMaxDecimals) {
    return std::nullopt;
  }
  std::int64_t fraction = 0;
  std::int64_t denominator = 1;
  for (char c : decimals) {
    fraction = fraction * 10 + (c - '0');
    denominator *= 10;
  }
  if (fraction * scale % denominator != 0) {
    return std::nullopt;
  }
  return fraction * scale / denominator;
}

}  // namespace

// A duration is a sum of parts <digits>[.<digits>]<unit>. Fractions are exact in milliseconds
// ("1.5s" is 1500ms, "0.5m" 30s); a part finer than a millisecond ("1.5ms", "0.0001s") is
// rejected rather than rounded, so that what is written is what is used.
Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(Errc::invalid_argument, "invalid duration '" + std::string(text) + "': " + why);
  };
  if (text.empty()) {
    return bad("empty");
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    Number n;
    if (auto why = read_number(text, i, n); !why.empty()) {
      return bad(why);
    }
    const std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') {
      ++i;
    }
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    const std::int64_t scale = unit_scale(unit);
    if (unit.empty()) {
      return bad(missing_unit(n));
    }
    if (scale == 0) {
      return bad("unknown unit '" + std::string(unit) + "' (use ms, s, m, h or d)");
    }
    if (n.whole > kMaxMs / scale || total + n.whole * scale > kMaxMs) {
      return bad("too large");
    }
    const auto fraction = fraction_ms(n.decimals, scale);
    if (!fraction) {
      return bad("'" + std::string(n.text) + std::string(unit) + "' is finer than a millisecond");
    }
    const std::int64_t part = n.whole * scale + *fraction;
    if (total + part > kMaxMs) {
      return bad("too large");
    }
    total += part;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms < 1000) {
    return sign + std::to_string(ms) + "ms";
  }
  std::int64_t s = ms / 1000;
  struct Unit {
    std::int64_t seconds;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out = sign;
  int parts = 0;
  for (const auto& u : kUnits) {
    if (s >= u.seconds && parts < 2) {
      out += std::to_string(s / u.seconds) + u.name;
      s %= u.seconds;
      ++parts;
    } else if (parts > 0) {
      break;  // two significant units are enough for a human
    }
  }
  if (parts == 1 && s == 0 && ms % 1000 != 0 && ms < 60000) {
    out = sign + std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + "s";
  }
  return out;
}

}  // namespace heartlock
