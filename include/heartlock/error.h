// Error vocabulary of heartlock: a short list of codes that tell the caller what to do next.
//
// Busy (somebody else holds the lock) is NOT an error; see Acquired in lease.h.
#ifndef HEARTLOCK_ERROR_H_
#define HEARTLOCK_ERROR_H_

#include <expected>
#include <string>
#include <string_view>
#include <utility>

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
std::string_view to_string(Errc code) noexcept;

// An error code with a message that carries its context, e.g.
// "file lock jobs/nightly in /run/lock/heartlock: permission denied".
struct Error {
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
