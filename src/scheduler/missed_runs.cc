#include "missed_runs.h"

#include <deque>

namespace heartlock::detail {

DueSlots due_slots(const CronSchedule& schedule, std::chrono::sys_seconds first,
                   std::chrono::system_clock::time_point now, const MissedRuns& missed) {
  using std::chrono::sys_seconds;
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  DueSlots out;
  std::deque<sys_seconds> kept;  // missed slots the policy runs (the latest max_runs)
  auto miss = [&](sys_seconds missed_slot) {
    ++out.missed;
    if (missed.policy == MissedPolicy::skip) {
      return;
    }
    kept.push_back(missed_slot);
    const std::size_t limit = missed.policy == MissedPolicy::run_once ? 1 : missed.max_runs;
    while (kept.size() > limit) {
      kept.pop_front();
    }
  };
  // Every due slot but the latest was overtaken by a later one: missed. The latest is on time
  // when it is at most the grace old.
  // The latest due slot so far, when has_latest (not an optional: g++ 12 at -O2 takes the
  // optional's value for maybe-uninitialized where it is pushed, which fails the release build).
  sys_seconds latest{};
  bool has_latest = false;
  std::optional<sys_seconds> slot = first;
  std::size_t scanned = 0;
  for (; slot && *slot <= now_s; slot = schedule.next_after(*slot)) {
    if (++scanned == kMaxScanned && now - *slot > missed.grace) {
      // A very frequent job after a very long outage: the rest of the missed slots are not
      // looked at one by one (they count as one); the scan goes on from just before the grace.
      ++out.missed;
      slot = schedule.next_after(now_s - missed.grace - std::chrono::seconds(1));
      if (!slot || *slot > now_s) {
        break;
      }
    }
    if (has_latest) {
      miss(latest);
    }
    latest = *slot;
    has_latest = true;
  }
  if (has_latest && now - latest > missed.grace) {
    miss(latest);
    has_latest = false;
  }
  out.run.assign(kept.begin(), kept.end());
  if (has_latest) {
    out.run.push_back(latest);
  }
  out.next = slot && *slot > now_s ? slot : schedule.next_after(now_s);
  return out;
}

}  // namespace heartlock::detail
