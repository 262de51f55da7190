// `heartlock metrics`: the state of locks in Prometheus's text exposition format 0.0.4, for
// node_exporter's textfile collector (run from cron with -o FILE) or any scraper of files.
//
// Families (prefix heartlock_; every lock series has the labels name and backend, the store's URL
// without credentials):
//   store_up{backend}                      gauge: 1 if the store answered, else 0 (and no lock
//                                          series follow)
//   locks{backend}                         gauge: locks reported
//   lock_state{name,backend,state[,host][,pid]}
//                                          gauge, always 1: the lock's state (free, held,
//                                          deadlocked, dead, expired, unknown); host and pid of
//                                          the holder when known and the lock is not free
//   lock_holder_age_seconds{name,backend}  gauge: how long the holder has had it (as `status`
//                                          shows it: not for a free or dead lock, nor for a
//                                          foreign holder, whose record heartlock cannot read)
//   lock_heartbeat_age_seconds{name,backend}
//                                          gauge: age of the holder's last heartbeat (same cases)
//   lock_token{name,backend}               gauge: the fencing token of the current or last holder
//
// host and pid are labels of lock_state only: every run of a cron job has a new pid, and on the
// age and token series such a label would start a new series per run.
#ifndef HEARTLOCK_CLI_LOCK_METRICS_H_
#define HEARTLOCK_CLI_LOCK_METRICS_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/heartlock.h"

#include "common.h"

namespace heartlock::cli {

// The exposition for `locks` of the store at `backend`, ages measured at `now`; `locks` null: the
// store did not answer (store_up 0). Series are sorted by name; a name listed twice counts once.
std::string render_lock_metrics(const std::vector<LockInfo>* locks, std::string_view backend,
                                std::chrono::system_clock::time_point now);

// Replaces `path` with `text` atomically: written to a temporary file in the same directory
// (".NAME.XXXXXX", which node_exporter's *.prom glob skips), then renamed over it, so a reader
// sees the old file or the new one, never part of one. The file's mode is 0666 less the umask.
// Errc::permission_denied or Errc::unavailable, with the path and the reason.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path, std::string_view text);

// What `heartlock metrics` does.
struct MetricsArgs {
  std::vector<std::string> names;  // these locks; empty: every lock
  std::string output;              // -o FILE; empty: stdout
};

// Prints (or writes to -o FILE) the metrics. 0; 64 for a bad name; 69 when the store cannot be
// read (the exposition is still written, with heartlock_store_up 0); 73 when FILE cannot be
// written.
int show_metrics(const MetricsArgs& args, const CommonArgs& common);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_LOCK_METRICS_H_
