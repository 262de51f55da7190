// What every fuzz target shares: an invariant check that stops the run in every build.
//
// assert() vanishes under NDEBUG and the sanitizers see nothing wrong with a broken invariant, so
// a target states its invariants with FUZZ_CHECK: it names the failed condition and aborts, which
// libFuzzer reports as a crash (and saves the input) and fuzz_replay reports as a failed test.
#ifndef HEARTLOCK_FUZZ_FUZZ_CHECK_H_
#define HEARTLOCK_FUZZ_FUZZ_CHECK_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition, what)                                                        \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n", __FILE__, __LINE__, what, \
                   #condition);                                                            \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

namespace heartlock::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace heartlock::fuzz

#endif  // HEARTLOCK_FUZZ_FUZZ_CHECK_H_
