#include "torture_check.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace heartlock::tools {
namespace {

struct Inside {
  std::uint64_t token = 0;
  bool stopped = false;  // stopped at some point since it entered
};

// One write as the resource judged it.
struct Write {
  std::string kind;  // enter, write, exit
  std::uint64_t token = 0;
  long pid = 0;
  bool believed_held = true;
  bool accepted = true;
};

class Checker {
 public:
  void write(const Write& w, std::uint64_t lineno);
  void fault(const std::string& what, long pid);
  Verdict& verdict() { return v_; }

 private:
  void problem(std::string text) {
    ++v_.violations;
    note(std::move(text));
  }
  void note(std::string text) {
    if (v_.problems.size() < 10) {
      v_.problems.push_back(std::move(text));
    }
  }
  void leave(long pid) {
    inside_.erase(pid);
    stopped_in_lease_[pid] = false;
  }

  Verdict v_;
  std::map<long, Inside> inside_;          // pid -> its open section
  std::map<long, bool> stopped_in_lease_;  // pid -> stopped since its last exit
  // pid -> between its "stop" and "cont" lines. The driver logs "stop" just before it sends
  // SIGSTOP, so the worker may still write a line or two after it: a section entered in that
  // window counts as paused too.
  std::map<long, bool> paused_;
  std::uint64_t max_token_ = 0;     // the highest token accepted
  std::uint64_t last_entered_ = 0;  // the token of the last accepted entry
};

void Checker::write(const Write& w, std::uint64_t lineno) {
  const std::string at = "line " + std::to_string(lineno) + ": ";
  if (w.kind == "enter" && w.token <= last_entered_ && w.accepted) {
    if (w.token == last_entered_) {
      problem(at + "token " + std::to_string(w.token) + " entered twice");
      return;
    }
  }
  if (!w.accepted) {
    ++v_.fenced;
    if (w.token >= max_token_) {
      problem(at + "the resource rejected token " + std::to_string(w.token) + ", current " +
              std::to_string(max_token_));
    } else if (w.believed_held && !stopped_in_lease_[w.pid] && !paused_[w.pid]) {
      problem(at + "pid " + std::to_string(w.pid) + " wrote with stale token " +
              std::to_string(w.token) + " (current " + std::to_string(max_token_) +
              ") but was never stopped");
    }
    if (w.kind == "exit") {
      leave(w.pid);
    }
    return;
  }
  ++v_.writes;
  if (w.token < max_token_) {
    ++v_.lost_updates;
    note(at + "lost update: pid " + std::to_string(w.pid) + "'s " + w.kind + " with token " +
         std::to_string(w.token) + " accepted after token " + std::to_string(max_token_));
  }
  if (w.kind == "enter") {
    for (const auto& [other, section] : inside_) {
      if (other != w.pid && !section.stopped) {
        problem(at + "pid " + std::to_string(w.pid) + " entered with token " +
                std::to_string(w.token) + " while live pid " + std::to_string(other) + " (token " +
                std::to_string(section.token) + ") was inside");
      }
    }
    inside_.clear();  // everyone else is fenced from now on
    inside_[w.pid] = Inside{w.token, paused_[w.pid]};
    last_entered_ = std::max(last_entered_, w.token);
    ++v_.sections;
  } else if (w.kind == "exit") {
    leave(w.pid);
  }
  max_token_ = std::max(max_token_, w.token);
}

void Checker::fault(const std::string& what, long pid) {
  if (what == "stop") {
    ++v_.stops;
    paused_[pid] = true;
    stopped_in_lease_[pid] = true;
    if (auto it = inside_.find(pid); it != inside_.end()) {
      it->second.stopped = true;
    }
  } else if (what == "kill" || what == "gone") {
    v_.kills += what == "kill" ? 1 : 0;
    inside_.erase(pid);
    paused_[pid] = false;
  } else if (what == "cont") {
    paused_[pid] = false;
  } else if (what == "wstop") {
    ++v_.wrapper_stops;  // no excuse: COMMAND is not stopped, the watchdog must act
  } else if (what == "cut") {
    ++v_.partitions;
  } else if (what == "jump") {
    ++v_.clock_jumps;
  } else if (what == "restart") {
    ++v_.restarts;
  } else if (what == "server_stop") {
    ++v_.server_stops;
  } else if (what == "terminate") {
    ++v_.terminations;
  } else if (what == "node_down") {
    ++v_.node_downs;
  } else if (what == "failover") {
    ++v_.failovers;
  }
}

bool is_fault(const std::string& what) {
  for (const char* f :
       {"stop", "cont", "kill", "gone", "cut", "heal", "wstop", "wcont", "jump", "restart",
        "server_stop", "server_cont", "terminate", "node_down", "node_up", "failover"}) {
    if (what == f) {
      return true;
    }
  }
  return false;
}

}  // namespace

Verdict check_log(std::istream& log) {
  Checker checker;
  std::uint64_t max_seen = 0;  // for the older form: what a fencing resource would have seen
  std::string line;
  std::uint64_t lineno = 0;
  while (std::getline(log, line)) {
    ++lineno;
    std::istringstream in(line);
    std::string what;
    in >> what;
    if (what == "enter" || what == "write" || what == "exit") {
      Write w{.kind = what};
      std::string belief;
      std::string verdict;
      if (!(in >> w.token >> w.pid)) {
        checker.verdict().violations++;
        checker.verdict().problems.push_back("line " + std::to_string(lineno) +
                                             ": malformed: " + line);
        continue;
      }
      if (in >> belief >> verdict) {
        w.believed_held = belief == "held";
        w.accepted = verdict == "accepted";
      } else {
        // The older form: judged as a resource that checks tokens would have judged it.
        w.accepted = w.token >= max_seen;
      }
      if (w.accepted) {
        max_seen = std::max(max_seen, w.token);
      }
      checker.write(w, lineno);
    } else if (is_fault(what)) {
      long pid = 0;
      in >> pid;
      checker.fault(what, pid);
    } else if (!line.empty()) {
      checker.verdict().violations++;
      checker.verdict().problems.push_back("line " + std::to_string(lineno) + ": unknown: " + line);
    }
  }
  return checker.verdict();
}

std::string summary(const Verdict& v) {
  std::ostringstream out;
  out << "sections=" << v.sections << " violations=" << v.violations
      << " lost_updates=" << v.lost_updates << " fenced=" << v.fenced << " writes=" << v.writes
      << " kills=" << v.kills << " stops=" << v.stops << " partitions=" << v.partitions
      << " wrapper_stops=" << v.wrapper_stops << " clock_jumps=" << v.clock_jumps
      << " restarts=" << v.restarts << " server_stops=" << v.server_stops
      << " terminations=" << v.terminations << " node_downs=" << v.node_downs
      << " failovers=" << v.failovers;
  return out.str();
}

}  // namespace heartlock::tools
