// Howard Hinnant's date/tz (libdate-tz), loaded with dlopen on first use of a time zone.
//
// libdate-tz is linked against the shared libstdc++, which the heartlock executable otherwise
// links statically to start faster (cli/CMakeLists.txt). Linked normally, every start of
// `heartlock run` mapped and relocated libstdc++.so: LD_DEBUG=statistics measured 2007 symbol
// relocations instead of 203, and ~2.9 M instead of ~0.23 M cycles in the dynamic loader. Only
// cron schedules need the zones, so the library is loaded when the first one is parsed.
//
// The declarations come from <date/tz.h>, compiled with the same definitions as the library
// (USE_OS_TZDB=1 and the rest, taken from the date::date-tz CMake target), so the layouts match.
#ifndef HEARTLOCK_CRON_TZ_API_H_
#define HEARTLOCK_CRON_TZ_API_H_

#include <string>
#include <string_view>

#include <date/tz.h>

#include "heartlock/error.h"

namespace heartlock::detail {

// What heartlock calls of libdate-tz: two functions, by address. Immutable once loaded; may be
// used from any thread (date's tz database initialises itself thread-safely).
//
// No exception may come out of it: one thrown by the shared libstdc++ that libdate-tz uses is not
// caught by the executable's static copy (the process aborts). So zones are looked up in the
// database's list, never with date::locate_zone (which throws for an unknown name), and
// date::current_zone (which throws without /etc/localtime) is replaced by system_zone_name().
struct TzApi {
  const date::tzdb& (*get_tzdb)() = nullptr;
  // time_zone::get_info(sys_seconds): the segment of constant offset holding the instant.
  date::sys_info (date::time_zone::*get_info_impl)(date::sys_seconds) const = nullptr;

  date::sys_info get_info(const date::time_zone* zone, date::sys_seconds t) const {
    return (zone->*get_info_impl)(t);
  }
  // The zone called `name` ("Europe/Berlin", or a link such as "US/Eastern"), or nullptr.
  const date::time_zone* find(std::string_view name) const;
};

// The name of the system's zone: the target of /etc/localtime below a zoneinfo/ directory, else
// the first line of /etc/timezone, else "Etc/UTC" (what libc assumes without them).
std::string system_zone_name();

// Loads libdate-tz once. Errc::unavailable (with the reason) if it cannot be loaded or the tz
// database directory (/usr/share/zoneinfo) is missing.
Result<const TzApi*> tz_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CRON_TZ_API_H_
