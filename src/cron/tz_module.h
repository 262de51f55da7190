// The C interface of heartlock-tz.so, the loadable module that holds the time-zone rules.
//
// The module (tz_module.cc) links Howard Hinnant's date/tz (libdate-tz) and with it the shared
// libstdc++; libheartlock loads it with dlopen on first use (tz_api.h says why). Only C types
// cross between the two: no std:: type, no C++ name mangling, and no exception (every entry
// catches everything inside the module and returns an error code instead).
//
// Compatibility: the module exports one symbol, heartlock_tz_api_v1. A change to the table
// below bumps HEARTLOCK_TZ_API_VERSION; the loader refuses a module of another version.
#ifndef HEARTLOCK_CRON_TZ_MODULE_H_
#define HEARTLOCK_CRON_TZ_MODULE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HEARTLOCK_TZ_API_VERSION 1
// The symbol the loader looks up with dlsym.
#define HEARTLOCK_TZ_API_SYMBOL "heartlock_tz_api_v1"

// What each entry returns.
enum HeartlockTzStatus {
  HEARTLOCK_TZ_OK = 0,
  HEARTLOCK_TZ_NOT_FOUND = 1,  // no zone of that name
  HEARTLOCK_TZ_ERROR = 2,      // the database failed (an exception inside the module)
};

// A zone of the tz database; owned by the module, valid until the process exits.
typedef struct HeartlockTzZone HeartlockTzZone;

// A segment of a zone's history with a constant UTC offset: [begin, end) in UTC seconds.
typedef struct HeartlockTzSegment {
  int64_t begin;
  int64_t end;
  int32_t offset;         // seconds east of UTC
  char abbreviation[32];  // "CEST", "+0530"; NUL-terminated, truncated if longer
} HeartlockTzSegment;

// The entries of version 1. Every function may be called from any thread once init succeeded.
typedef struct HeartlockTzApiV1 {
  uint32_t version;  // HEARTLOCK_TZ_API_VERSION
  uint32_t size;     // sizeof(HeartlockTzApiV1) as the module was built
  // Loads the tz database. HEARTLOCK_TZ_OK, or HEARTLOCK_TZ_ERROR with the reason copied
  // (NUL-terminated, truncated) into error[0, error_size).
  int (*init)(char* error, size_t error_size);
  // The zone called name[0, name_size) ("Europe/Berlin", or a link such as "US/Eastern") into
  // *zone. HEARTLOCK_TZ_OK, HEARTLOCK_TZ_NOT_FOUND (*zone = NULL) or HEARTLOCK_TZ_ERROR.
  int (*find_zone)(const char* name, size_t name_size, const HeartlockTzZone** zone);
  // The segment of `zone` holding the instant utc_seconds into *segment. HEARTLOCK_TZ_OK or
  // HEARTLOCK_TZ_ERROR.
  int (*segment_at)(const HeartlockTzZone* zone, int64_t utc_seconds, HeartlockTzSegment* segment);
} HeartlockTzApiV1;

// The module's one export: its table, static and immutable.
typedef const HeartlockTzApiV1* (*HeartlockTzApiV1Fn)(void);
const HeartlockTzApiV1* heartlock_tz_api_v1(void);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // HEARTLOCK_CRON_TZ_MODULE_H_
