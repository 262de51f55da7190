// Time zones for cron schedules, from heartlock-tz.so: a small module of ours, loaded with dlopen
// on first use of a time zone, that wraps Howard Hinnant's date/tz (libdate-tz) behind the C
// table of tz_module.h.
//
// Why a module: libdate-tz is linked against the shared libstdc++, which the heartlock executable
// otherwise links statically to start faster (cli/CMakeLists.txt). Linked normally, every start
// of `heartlock run` mapped and relocated libstdc++.so: LD_DEBUG=statistics measured 2007 symbol
// relocations instead of 203, and ~2.9 M instead of ~0.23 M cycles in the dynamic loader. Only
// cron schedules need the zones, so the module (and with it libdate-tz and libstdc++.so) is
// loaded when the first one is parsed. Only C types and error codes cross the boundary: an
// exception thrown by the shared libstdc++ would not be caught by the executable's static copy,
// so the module catches them all itself.
#ifndef HEARTLOCK_CRON_TZ_API_H_
#define HEARTLOCK_CRON_TZ_API_H_

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "heartlock/error.h"

#include "tz_module.h"

namespace heartlock::detail {

// A segment of a zone's history with a constant UTC offset: [begin, end).
struct TzSegment {
  std::chrono::sys_seconds begin;
  std::chrono::sys_seconds end;
  std::chrono::seconds offset{0};
  std::array<char, sizeof(HeartlockTzSegment::abbreviation)> abbreviation{};  // NUL-terminated
};

// TzApi: the loaded module's table, adapted to C++ types. Immutable once loaded; may be used from
// any thread. The zones it returns are owned by the module and live until the process exits.
class TzApi {
 public:
  explicit TzApi(const HeartlockTzApiV1* module) : module_(module) {}

  // The zone called `name` ("Europe/Berlin", or a link such as "US/Eastern") with its rules
  // loaded, or nullptr if the database has none of that name. Errc::unavailable if the module
  // failed to read it.
  [[nodiscard]] Result<const HeartlockTzZone*> find(std::string_view name) const;

  // The segment of `zone` (from find()) holding the instant t. The zone's rules were loaded by
  // find(), so this cannot fail short of memory; the process aborts with a message if it does.
  TzSegment segment(const HeartlockTzZone* zone, std::chrono::sys_seconds t) const;

 private:
  const HeartlockTzApiV1* module_;
};

// The name of the system's zone: the target of /etc/localtime below a zoneinfo/ directory, else
// the first line of /etc/timezone, else "Etc/UTC" (what libc assumes without them).
std::string system_zone_name();

// Loads heartlock-tz.so once (thread-safe), from the first of: $HEARTLOCK_TZ_MODULE, the running
// executable's directory, <that directory>/../lib/heartlock/, and the install location. Errc::
// unavailable (with the paths tried and why each failed) if none loads, or (with the reason) if
// the tz database (/usr/share/zoneinfo) cannot be read.
Result<const TzApi*> tz_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CRON_TZ_API_H_
