// heartlock-tz.so: Howard Hinnant's date/tz behind the C table of tz_module.h.
//
// Built as a MODULE (src/CMakeLists.txt) linked normally against libdate-tz and the shared
// libstdc++, and compiled with the date package's definitions (USE_OS_TZDB=1: the zones come
// from the system's compiled tzdata in /usr/share/zoneinfo, never a download). Every entry
// catches every exception: the heartlock executable carries its own static libstdc++, which
// cannot catch what the shared one throws, so nothing may unwind out of this file.
#include "tz_module.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <date/tz.h>

namespace {

// Where Debian's libdate-tz (USE_OS_TZDB) reads the zones; its first use throws without it.
constexpr const char* kZoneDir = "/usr/share/zoneinfo";

// Copies text into dest[0, size), NUL-terminated and truncated to fit.
void copy_text(std::string_view text, char* dest, size_t size) {
  if (dest == nullptr || size == 0) {
    return;
  }
  const size_t n = std::min(text.size(), size - 1);
  std::memcpy(dest, text.data(), n);
  dest[n] = '\0';
}

const date::time_zone* to_zone(const HeartlockTzZone* zone) {
  return reinterpret_cast<const date::time_zone*>(zone);
}

int init(char* error, size_t error_size) {
  try {
    if (::access(kZoneDir, R_OK | X_OK) != 0) {
      copy_text(std::string("no tz database in ") + kZoneDir + " (install tzdata)", error,
                error_size);
      return HEARTLOCK_TZ_ERROR;
    }
    (void)date::get_tzdb();  // reads the list of zones once; thread-safe
    return HEARTLOCK_TZ_OK;
  } catch (const std::exception& e) {
    copy_text(std::string("tz database in ") + kZoneDir + ": " + e.what(), error, error_size);
  } catch (...) {
    copy_text("tz database: unknown error", error, error_size);
  }
  return HEARTLOCK_TZ_ERROR;
}

int find_zone(const char* name, size_t name_size, const HeartlockTzZone** zone) {
  try {
    *zone = nullptr;
    const std::string_view wanted(name, name_size);
    // About 600 names, scanned once per parse: no assumption about the list's order, and never
    // date::locate_zone, which throws for an unknown name.
    for (const date::time_zone& candidate : date::get_tzdb().zones) {
      if (candidate.name() == wanted) {
        // Loads the zone's transitions now rather than in the first segment_at().
        (void)candidate.get_info(date::sys_seconds{});
        *zone = reinterpret_cast<const HeartlockTzZone*>(&candidate);
        return HEARTLOCK_TZ_OK;
      }
    }
    return HEARTLOCK_TZ_NOT_FOUND;
  } catch (...) {
    *zone = nullptr;
    return HEARTLOCK_TZ_ERROR;
  }
}

int segment_at(const HeartlockTzZone* zone, int64_t utc_seconds, HeartlockTzSegment* segment) {
  try {
    const date::sys_info info =
        to_zone(zone)->get_info(date::sys_seconds{std::chrono::seconds{utc_seconds}});
    segment->begin = info.begin.time_since_epoch().count();
    segment->end = info.end.time_since_epoch().count();
    segment->offset = static_cast<int32_t>(info.offset.count());
    copy_text(info.abbrev, segment->abbreviation, sizeof segment->abbreviation);
    return HEARTLOCK_TZ_OK;
  } catch (...) {
    return HEARTLOCK_TZ_ERROR;
  }
}

constexpr HeartlockTzApiV1 kApi{
    .version = HEARTLOCK_TZ_API_VERSION,
    .size = sizeof(HeartlockTzApiV1),
    .init = init,
    .find_zone = find_zone,
    .segment_at = segment_at,
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const HeartlockTzApiV1* heartlock_tz_api_v1(
    void) {
  return &kApi;
}
