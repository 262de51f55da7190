#include "heartlock/duration.h"

#include <cstdint>

namespace heartlock {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return fail(Errc::invalid_argument, "invalid duration '" + std::string(text) + "': " + why);
  };
  if (text.empty()) {
    return bad("empty");
  }
  constexpr std::int64_t kMaxMs = 10LL * 366 * 24 * 3600 * 1000;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t number = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      number = number * 10 + (text[i] - '0');
      if (number > kMaxMs) {
        return bad("too large");
      }
      ++i;
      ++digits;
    }
    if (digits == 0) {
      return bad("expected a number");
    }
    std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 3600 * 1000;
    } else if (unit == "d") {
      scale = 24 * 3600 * 1000;
    } else if (unit.empty()) {
      return bad("missing unit (use ms, s, m, h or d, e.g. 30s)");
    } else {
      return bad("unknown unit '" + std::string(unit) + "' (use ms, s, m, h or d)");
    }
    if (number > kMaxMs / scale || total + number * scale > kMaxMs) {
      return bad("too large");
    }
    total += number * scale;
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
