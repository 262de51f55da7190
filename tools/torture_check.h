// Verifies a torture log: the writes the fenced resource judged, in its order, and the faults the
// driver and the test injected, each logged just before it happens.
//
// Writes (by the fenced resource, fenced_resource.h):
//   KIND TOKEN PID held|lost accepted|rejected      KIND: enter, write or exit
// PID is the worker (in CLI mode the `heartlock run` wrapper the driver started); held|lost is
// whether the worker still believed it held the lease. Workers write "enter" first thing after
// acquiring, "write" every few milliseconds while they hold, "exit" at the end. The older form
// "enter|exit TOKEN PID", without belief and verdict, is judged as a resource that checks tokens
// would have judged it.
//
// Faults: "stop PID"/"cont PID" (SIGSTOP/SIGCONT of a worker), "kill PID" (SIGKILL), "gone PID"
// (the resource saw the worker's connection close: it is dead), "cut PID"/"heal SLOT" (a
// partition), "wstop PID"/"wcont PID" (the wrapper stopped, not COMMAND: CLI mode), "jump SLOT
// OFFSET" (a worker's wall clock jumped), and the server's: "restart", "server_stop",
// "server_cont", "terminate" (its sessions ended by the server), "node_down"/"node_up" (one node
// of several), "failover".
//
// Violations:
//   - an entry whose token is not larger than the one entered before it (duplicate tokens),
//   - an entry while another worker is inside and that worker was neither stopped, killed nor
//     gone during its section (two live holders at once); a worker counts as stopped from its
//     "stop" line to its "cont" line, since it may write a line after "stop" is logged,
//   - a rejected (stale-token) write by a worker that still believed it held the lease and was
//     never stopped during its section: it ran on after someone else got in. A stopped wrapper
//     ("wstop") or a partition is no excuse: heartlock run's watchdog, or the lease's deadline,
//     must have stopped the writer before anyone else could get in.
// Lost updates: an accepted write whose token is below a token accepted before it (the resource
// failed to fence; only a resource that does not check tokens gets any).
#ifndef HEARTLOCK_TOOLS_TORTURE_CHECK_H_
#define HEARTLOCK_TOOLS_TORTURE_CHECK_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace heartlock::tools {

struct Verdict {
  std::uint64_t sections = 0;  // accepted entries
  std::uint64_t violations = 0;
  std::uint64_t lost_updates = 0;  // accepted writes with a token below one accepted before
  std::uint64_t fenced = 0;        // writes the resource rejected (stale tokens)
  std::uint64_t writes = 0;        // writes the resource accepted
  std::uint64_t kills = 0;
  std::uint64_t stops = 0;
  std::uint64_t partitions = 0;  // "cut" lines
  std::uint64_t wrapper_stops = 0;
  std::uint64_t clock_jumps = 0;
  std::uint64_t restarts = 0;
  std::uint64_t server_stops = 0;
  std::uint64_t terminations = 0;
  std::uint64_t node_downs = 0;
  std::uint64_t failovers = 0;
  std::vector<std::string> problems;  // the first few violations and lost updates, in words
};

Verdict check_log(std::istream& log);

// The summary line heartlock-torture prints (without a newline):
//   sections=… violations=… lost_updates=… fenced=… kills=… stops=… partitions=… …
std::string summary(const Verdict& v);

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_TORTURE_CHECK_H_
