#include <algorithm>
#include <cstdio>
#include <iostream>

#include "heartlock/duration.h"
#include "heartlock/leader.h"
#include "heartlock/text.h"

#include "admin_commands.h"
#include "exit_codes.h"

namespace heartlock::cli {
namespace {

std::string age(const std::optional<std::chrono::milliseconds>& d) {
  return d ? format_duration(*d) : "-";
}

void print_table(const std::vector<LockInfo>& locks) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back(
      {"NAME", "STATE", "TOKEN", "HOLDER", "HELD FOR", "HEARTBEAT", "COMMAND", "LOCATION"});
  for (const auto& info : locks) {
    std::string token = "-";
    std::string holder = "-";
    std::string held = "-";
    std::string beat = "-";
    std::string command = "-";
    if (info.holder) {
      const Holder& h = *info.holder;
      token = h.token > 0 ? std::to_string(h.token) : "-";
      if (h.foreign) {
        holder = h.pid > 0 ? "pid " + std::to_string(h.pid) + " (no record)" : "unknown";
      } else if (h.pid > 0) {
        holder = std::to_string(h.pid) + "@" + h.host;
      }
      if (!h.foreign) {
        command = h.command.empty() ? "-" : h.command;
        if (info.state != LockState::free && info.state != LockState::dead) {
          beat = age(h.heartbeat_age);
        }
      }
      if (info.state != LockState::free && info.state != LockState::dead && !h.foreign) {
        held = format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now() - h.since));
      }
    }
    std::string state(to_string(info.state));
    if (info.min_hold_left) {
      state += " (min_hold " + format_duration(*info.min_hold_left) + ")";
    }
    // An Election's lock: its holder is the leader (only while held; a dead or expired one is
    // nobody's leader, and its COMMAND column still says whose election it was).
    if (info.state == LockState::held && is_leader_lock(info)) {
      state += " (leader)";
    }
    // Names, hosts and commands come from lock records and servers: escaped, so that a hostile
    // one cannot steer the terminal (printable() keeps a multi-byte character whole, but the cut
    // below counts bytes: cut first, on a character boundary, then escape).
    if (command.size() > 40) {
      std::size_t cut = 37;
      while (cut > 0 && (static_cast<unsigned char>(command[cut]) & 0xc0) == 0x80) {
        --cut;
      }
      command = command.substr(0, cut) + "...";
    }
    std::string where = info.location;
    if (info.state == LockState::unknown) {
      where += " (" + info.detail + ")";
    }
    rows.push_back({printable(info.name), state, token, printable(holder), held, beat,
                    printable(command), printable(where)});
  }
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(width[i] - row[i].size() + 2, ' ');
      }
    }
    std::cout << line << "\n";
  }
}

}  // namespace

int show_status(const std::string& name, const CommonArgs& common) {
  Events events = make_events(common);
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  std::vector<LockInfo> locks;
  if (!name.empty()) {
    auto info = store->inspect(name);
    if (!info) {
      events.error(info.error().message);
      return exit_code_for(info.error());
    }
    locks.push_back(std::move(*info));
  } else {
    auto all = store->list();
    if (!all) {
      events.error(all.error().message);
      return exit_code_for(all.error());
    }
    locks = std::move(*all);
  }
  if (common.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& info : locks) {
      out.push_back(to_json(info));
    }
    std::cout << (name.empty() ? out : out.front())
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else if (locks.empty()) {
    std::cout << "no locks in " << store->url() << "\n";
  } else {
    print_table(locks);
  }
  return kExitOk;
}

}  // namespace heartlock::cli
