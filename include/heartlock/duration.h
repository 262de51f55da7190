// Parsing and printing durations such as "500ms", "30s", "5m", "2h", "1d" or "1h30m".
#ifndef HEARTLOCK_DURATION_H_
#define HEARTLOCK_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>

#include "heartlock/error.h"

namespace heartlock {

// Parses one or more <number><unit> parts, units ms, s, m, h, d. A bare number is rejected (its
// unit would be a guess). Errc::invalid_argument with the reason; at most ten years.
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Prints a duration compactly: "450ms", "12s", "5m30s", "2h", "3d4h".
std::string format_duration(std::chrono::milliseconds d);

}  // namespace heartlock

#endif  // HEARTLOCK_DURATION_H_
