// Error vocabulary of heartlock: a short list of codes that tell the caller what to do next.
//
// Busy (somebody else holds the lock) is NOT an error; see Acquired in lease.h.
#ifndef HEARTLOCK_ERROR_H_
#define HEARTLOCK_ERROR_H_

#include <version>

// heartlock's API returns std::expected (C++23). Where the standard library does not offer it,
// stop here with the reason rather than with pages of errors further down. The usual cause is
// clang up to 15 with libstdc++ 12 or 13 (Debian 12's clang++-14 with g++ 12's headers):
// libstdc++ enables <expected> only when __cpp_concepts >= 202002L, which those clangs do not
// claim, because they lack P0848 (conditionally trivial special member functions); libstdc++'s
// std::expected selects its destructor with requires-clauses, which clang 14 resolves to the
// deleted one, so even forcing the macro does not help. clang 16 implements P0848: there,
// -U__cpp_concepts -D__cpp_concepts=202002L is enough (the fuzz preset does that). libc++ has
// <expected> from LLVM 16, but the library itself is built against libstdc++. A Result type of
// our own would not help: the library's symbols are compiled with std::expected.
#if !defined(__cpp_lib_expected) || __cpp_lib_expected < 202202L
#error \
    "heartlock needs C++23 std::expected: -std=c++23 with g++ >= 12, or with clang++ >= 16 (and libstdc++ before clang 19: -U__cpp_concepts -D__cpp_concepts=202002L). clang++ 14 and 15 cannot compile libstdc++'s <expected>; heartlock/error.h says why."
#endif

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include "heartlock/export.h"

namespace heartlock {

// What went wrong, phrased as what the caller should do about it.
enum class Errc {
  invalid_argument,   // fix the input (bad name, URL, option combination)
  unavailable,        // the backend did not answer or is unusable now; retry with backoff
  lost,               // the lease is gone (expired, taken over, deadlocked); stop the work
  not_owner,          // the operation is fenced to another owner or token
  permission_denied,  // the OS or the server refused access
  unsupported,        // this backend cannot do that
  internal,           // a bug or an impossible state; report it
};

// Returns a stable lower-case name ("invalid_argument", ...).
HEARTLOCK_API std::string_view to_string(Errc code) noexcept;

// An error code with a message that carries its context, e.g.
// "file lock jobs/nightly in /run/lock/heartlock: permission denied".
struct HEARTLOCK_API Error {
  Errc code = Errc::internal;
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand: return fail(Errc::lost, "...");
[[nodiscard]] inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace heartlock

#endif  // HEARTLOCK_ERROR_H_
