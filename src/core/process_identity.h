// Who this process is, and whether another process still lives, without trusting a bare PID.
#ifndef HEARTLOCK_CORE_PROCESS_IDENTITY_H_
#define HEARTLOCK_CORE_PROCESS_IDENTITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace heartlock::detail {

// Identifies a process across PID reuse: pid + its start time (clock ticks since boot) + boot id.
struct ProcessIdentity {
  std::string host;
  std::string boot_id;
  std::int64_t pid = 0;
  std::uint64_t start_ticks = 0;
};

// This process. Recomputed after fork (the pid changes). Thread-safe.
ProcessIdentity self_identity();

// The boot id of this boot (/proc/sys/kernel/random/boot_id), "" if unknown.
const std::string& boot_id();

enum class Liveness { alive, dead, unknown };

// Whether the process `pid` that started at `start_ticks` in boot `boot` is still running. A PID
// now used by another process, a zombie, or another boot all count as dead. `unknown` when /proc
// cannot tell (e.g. hidepid); callers must treat unknown as alive.
Liveness liveness(std::int64_t pid, std::uint64_t start_ticks, std::string_view boot);

// Start time of `pid` in clock ticks since boot, or 0 if it does not exist.
std::uint64_t start_ticks_of(std::int64_t pid);

// `bytes` random bytes from getrandom(2), hex-encoded.
std::string random_hex(std::size_t bytes);

// A new owner id, unique per acquisition: host:pid:random.
std::string make_owner();

// The whole content of a small file (such as one in /proc), or nullopt if it cannot be read.
// Plain open/read: std::ifstream throws from its buffer when read(2) fails, which happens when a
// process exits while its /proc/<pid>/stat is being read.
std::optional<std::string> read_small_file(const std::string& path, std::size_t limit = 1 << 20);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_PROCESS_IDENTITY_H_
