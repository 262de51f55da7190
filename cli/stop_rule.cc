#include "stop_rule.h"

#include <algorithm>

#include "heartlock/duration.h"

namespace heartlock::cli {
namespace {

using std::chrono::milliseconds;

milliseconds limit_for(milliseconds span, const LeaseOptions& o) {
  const milliseconds interval = renew_interval(o);
  return span - lease_drift_margin(span) - interval - interval / 2 - stop_margin(o);
}

}  // namespace

milliseconds stop_margin(const LeaseOptions& o) noexcept {
  return std::clamp(o.ttl / 20, milliseconds(2), milliseconds(250));
}

milliseconds max_kill_grace(const LeaseOptions& o) noexcept {
  milliseconds limit = limit_for(o.ttl, o);
  if (o.stale_after.count() > 0) {
    limit = std::min(limit, limit_for(o.stale_after, o));
  }
  return std::max(milliseconds(0), limit);
}

std::string explain_max_kill_grace(const LeaseOptions& o) {
  const bool by_stale = o.stale_after.count() > 0 && o.stale_after < o.ttl;
  const milliseconds span = by_stale ? o.stale_after : o.ttl;
  return "at most " + format_duration(max_kill_grace(o)) +
         " fits: " + (by_stale ? "--stale-after " : "--ttl ") + format_duration(span) + " less " +
         format_duration(lease_drift_margin(span)) +
         " clock-drift margin, 1.5 renew intervals of " + format_duration(renew_interval(o)) +
         " and a " + format_duration(stop_margin(o)) + " stop margin";
}

}  // namespace heartlock::cli
