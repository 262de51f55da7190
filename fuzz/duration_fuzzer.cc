// Durations (src/core/duration.cc), read from flags, URLs and config files: parse_duration()
// accepts only what it documents, never overflows, and what format_duration() prints for a
// parsed value is stable: parsing the printed text again (when it parses) gives a value that
// prints the same and is never more than the original (printing drops precision, never adds).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "heartlock/duration.h"

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using std::chrono::milliseconds;
  constexpr milliseconds kTenYears{10LL * 366 * 24 * 3600 * 1000};  // the documented limit
  const auto text = heartlock::fuzz::as_text(data, size);
  const auto parsed = heartlock::parse_duration(text);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().code == heartlock::Errc::invalid_argument, "bad input: fix input");
    return 0;
  }
  FUZZ_CHECK(!text.empty() && text.back() >= 'a' && text.back() <= 'z', "a unit ends the text");
  FUZZ_CHECK(parsed->count() >= 0 && *parsed <= kTenYears, "within [0, ten years]");

  const std::string printed = heartlock::format_duration(*parsed);
  FUZZ_CHECK(!printed.empty(), "something is printed");
  if (*parsed < milliseconds(1000)) {
    const auto exact = heartlock::parse_duration(printed);
    FUZZ_CHECK(exact && *exact == *parsed, "under a second, printing is exact");
  }
  if (const auto again = heartlock::parse_duration(printed)) {
    FUZZ_CHECK(*again <= *parsed, "printing never rounds up");
    FUZZ_CHECK(heartlock::format_duration(*again) == printed, "print/parse/print is stable");
  }
  return 0;
}
