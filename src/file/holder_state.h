// What a lock file says about its holder, as a pure function of what was observed and the time,
// so the rules can be tested with a fake clock.
#ifndef HEARTLOCK_FILE_HOLDER_STATE_H_
#define HEARTLOCK_FILE_HOLDER_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "heartlock/lease.h"

#include "../core/clock.h"
#include "../core/process_identity.h"
#include "record.h"

namespace heartlock::detail {

struct Observation {
  ParsedRecord parsed;
  bool locked = false;                  // someone holds the flock(2) lock on the current file
  std::int64_t flock_pid = 0;           // from /proc/locks when known
  Liveness holder = Liveness::unknown;  // of the process the record names
  std::string boot_id;                  // this boot
};

// Describes the lock. Rules:
//  - not locked: a "held" record means the holder died (dead, free at once); a "released" record
//    within its min_hold keeps the lock held; otherwise free;
//  - locked with no readable heartlock record, or with a record whose process is gone: held by a
//    foreign holder (flock(1), a child that inherited the fd), never taken over;
//  - locked by the live recorded holder: expired if not renewed within its ttl, deadlocked if no
//    heartbeat within its stale_after, held otherwise.
LockInfo describe(std::string_view name, const Observation& seen, BootTime now,
                  std::string location);

// Whether a contender may take the lock over from its holder.
bool may_take_over(const LockInfo& info);

// The holder a record describes, with ages measured at `now` when the record is from this boot.
Holder holder_of(const Record& record, BootTime now, std::string_view boot_id);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_HOLDER_STATE_H_
