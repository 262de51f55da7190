#include "torture_check.h"

#include <map>
#include <sstream>

namespace heartlock::tools {
namespace {

struct Inside {
  std::uint64_t token = 0;
  bool stopped = false;  // stopped at some point since it entered
};

}  // namespace

Verdict check_log(std::istream& log) {
  Verdict v;
  std::map<long, Inside> inside;          // pid -> its open section
  std::map<long, bool> stopped_in_lease;  // pid -> stopped since its last exit
  // pid -> between its "stop" and "cont" lines. The driver logs "stop" just before it sends
  // SIGSTOP, so the worker may still write a line or two after it: a section entered in that
  // window counts as paused too.
  std::map<long, bool> paused;
  std::uint64_t max_token = 0;
  auto problem = [&](std::string text) {
    ++v.violations;
    if (v.problems.size() < 10) {
      v.problems.push_back(std::move(text));
    }
  };
  std::string line;
  std::uint64_t lineno = 0;
  while (std::getline(log, line)) {
    ++lineno;
    std::istringstream in(line);
    std::string what;
    in >> what;
    if (what == "enter" || what == "exit") {
      std::uint64_t token = 0;
      long pid = 0;
      if (!(in >> token >> pid)) {
        problem("line " + std::to_string(lineno) + ": malformed: " + line);
        continue;
      }
      bool stale = token < max_token || (what == "enter" && token == max_token);
      if (stale) {
        if (token == max_token && what == "enter") {
          problem("line " + std::to_string(lineno) + ": token " + std::to_string(token) +
                  " entered twice");
        } else if (!stopped_in_lease[pid]) {
          problem("line " + std::to_string(lineno) + ": pid " + std::to_string(pid) +
                  " wrote with stale token " + std::to_string(token) + " (current " +
                  std::to_string(max_token) + ") but was never stopped");
        } else {
          ++v.fenced;
        }
        if (what == "exit") {
          inside.erase(pid);
          stopped_in_lease[pid] = false;
        }
        continue;
      }
      if (what == "enter") {
        for (const auto& [other, section] : inside) {
          if (other != pid && !section.stopped) {
            problem("line " + std::to_string(lineno) + ": pid " + std::to_string(pid) +
                    " entered with token " + std::to_string(token) + " while live pid " +
                    std::to_string(other) + " (token " + std::to_string(section.token) +
                    ") was inside");
          }
        }
        inside.clear();  // everyone else is fenced from now on
        inside[pid] = Inside{token, paused[pid]};
        max_token = token;
        ++v.sections;
      } else {
        inside.erase(pid);
        stopped_in_lease[pid] = false;
      }
    } else if (what == "stop" || what == "kill" || what == "cont") {
      long pid = 0;
      in >> pid;
      if (what == "stop") {
        ++v.stops;
        paused[pid] = true;
        stopped_in_lease[pid] = true;
        if (auto it = inside.find(pid); it != inside.end()) {
          it->second.stopped = true;
        }
      } else if (what == "kill") {
        ++v.kills;
        inside.erase(pid);
        paused[pid] = false;
      } else {
        paused[pid] = false;  // cont
      }
    } else if (what == "cut" || what == "heal") {
      v.partitions += what == "cut" ? 1 : 0;
    } else if (!line.empty()) {
      problem("line " + std::to_string(lineno) + ": unknown: " + line);
    }
  }
  return v;
}

}  // namespace heartlock::tools
