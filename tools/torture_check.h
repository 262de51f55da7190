// Verifies a torture log. Workers append "enter TOKEN PID" when they start a critical section
// and "exit TOKEN PID" when they end it; the driver appends "stop PID" before it SIGSTOPs a
// worker, "cont PID" after it SIGCONTs it and "kill PID" before it SIGKILLs it.
//
// The log is judged the way a resource that checks fencing tokens would: a write carrying a token
// below the highest seen is rejected (counted as fenced), which is legitimate only for a worker
// that was stopped during its section (it may have been taken over). Violations:
//   - an accepted entry whose token is not larger than every earlier one (duplicate tokens),
//   - an entry while another worker is inside and that worker was neither stopped nor killed
//     during its section (two live holders at once); a worker counts as stopped from its "stop"
//     line to its "cont" line, since it may write a line after "stop" is logged,
//   - a fenced (stale-token) write by a worker that was never stopped during its section.
// "cut PID" and "heal PID" mark a partition of a worker from the server (heartlock-torture
// --partition): counted, and no excuse -- a cut-off holder must end its section by its lease's
// deadline, before anyone else can enter.
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
  std::uint64_t fenced = 0;  // rejected stale-token writes by stopped workers
  std::uint64_t kills = 0;
  std::uint64_t stops = 0;
  std::uint64_t partitions = 0;       // "cut" lines
  std::vector<std::string> problems;  // the first few violations, in words
};

Verdict check_log(std::istream& log);

}  // namespace heartlock::tools

#endif  // HEARTLOCK_TOOLS_TORTURE_CHECK_H_
