// Parsing and printing durations such as "500ms", "1.5s", "30s", "5m", "2h", "1d" or "1h30m".
#ifndef HEARTLOCK_DURATION_H_
#define HEARTLOCK_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>

#include "heartlock/error.h"
#include "heartlock/export.h"

namespace heartlock {

// Parses one or more <number><unit> parts, units ms, s, m, h, d; a number may have decimals
// ("1.5s", "0.5m"), exact to the millisecond: a part finer than that ("1.5ms", "0.0001s") is
// rejected, never rounded. A bare number is rejected (its unit would be a guess) with a hint
// ("missing unit: write 90s or 90ms"). Errc::invalid_argument with the reason; at most ten years.
[[nodiscard]] HEARTLOCK_API Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Prints a duration compactly: "450ms", "12s", "5m30s", "2h", "3d4h".
HEARTLOCK_API std::string format_duration(std::chrono::milliseconds d);

}  // namespace heartlock

#endif  // HEARTLOCK_DURATION_H_
