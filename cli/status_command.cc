#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <sstream>

#include "heartlock/duration.h"
#include "heartlock/leader.h"
#include "heartlock/text.h"

#include "admin_commands.h"
#include "cron_status.h"
#include "crontab_file.h"
#include "exit_codes.h"
#include "ledger_text.h"
#include "status_watch.h"

namespace heartlock::cli {
namespace {

std::string age(const std::optional<std::chrono::milliseconds>& d) {
  return d ? format_duration(*d) : "-";
}

void print_table(const std::vector<LockInfo>& locks, std::ostream& out) {
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
  print_columns(rows, out);
}

// The lock `name`, or every lock when it is empty.
Result<std::vector<LockInfo>> read_locks(Store& store, const std::string& name) {
  if (name.empty()) {
    return store.list();
  }
  auto info = store.inspect(name);
  if (!info) {
    return std::unexpected(info.error());
  }
  return std::vector<LockInfo>{std::move(*info)};
}

// Every lock as an array, or the one asked for as an object, as always -- scripts read that; with
// `with_cron` (--cron or --crontab) the array becomes {"locks": [...], "cron": [...]}, and the one
// lock's object gains a "cron" key.
void print_json(const std::vector<LockInfo>& locks, bool every_lock, const CronStatus& cron,
                bool with_cron) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& info : locks) {
    out.push_back(to_json(info));
  }
  if (!every_lock) {
    out = out.front();
  }
  if (with_cron) {
    if (every_lock) {
      out = nlohmann::json{{"locks", std::move(out)}};
    }
    out["cron"] = cron_status_json(cron);
  }
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

// The cron section: what it cannot read is a problem of its own, never a failure.
CronStatus read_cron(Store& store, const StatusArgs& args, const Crontab* crontab,
                     const std::vector<LockInfo>& locks) {
  return collect_cron_status(
      store, {.job = args.name,
              .crontab = crontab,
              .locks = args.name.empty() ? &locks : nullptr,
              .now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())});
}

// The text `status` prints: the table of locks, then the cron section.
void print_text(const std::vector<LockInfo>& locks, const CronStatus& cron, bool with_crontab,
                const Store& store, std::ostream& out) {
  if (locks.empty()) {
    out << "no locks in " << store.url() << "\n";
  } else {
    print_table(locks, out);
  }
  if (!cron.jobs.empty()) {
    out << "\n";
    print_cron_status(cron, with_crontab, out);
  }
}

// One frame of --watch: the text, with errors and warnings in it (stderr would tear the screen).
std::string watch_frame(Store& store, const StatusArgs& args, const Crontab* crontab) {
  std::ostringstream out;
  auto locks = read_locks(store, args.name);
  if (!locks) {
    out << "error: " << printable(locks.error().message) << "\n";
    return out.str();
  }
  const CronStatus cron = read_cron(store, args, crontab, *locks);
  print_text(*locks, cron, crontab != nullptr, store, out);
  for (const std::string& problem : cron.problems) {
    out << "warning: " << printable(problem) << "\n";
  }
  return out.str();
}

// The --watch interval, once the options allow a watch; nullopt (reported) if they do not.
std::optional<std::chrono::milliseconds> watch_interval(const StatusArgs& args,
                                                        const CommonArgs& common, Events& events) {
  if (common.json) {
    events.error("status --watch draws a table; it cannot be combined with --json");
    return std::nullopt;
  }
  if (::isatty(STDOUT_FILENO) != 1) {
    events.error(
        "status --watch needs a terminal on stdout; to record the status, run `heartlock "
        "status` from a loop or from cron");
    return std::nullopt;
  }
  auto interval = duration_arg(args.interval, "--interval", events);
  if (interval && *interval < kMinWatchInterval) {
    events.error("--interval: " + format_duration(*interval) + " is too short; at least " +
                 format_duration(kMinWatchInterval));
    return std::nullopt;
  }
  return interval;
}

}  // namespace

int show_status(const StatusArgs& args, const CommonArgs& common) {
  Events events = make_events(common);
  std::optional<std::chrono::milliseconds> interval;
  if (args.watch) {
    interval = watch_interval(args, common, events);
    if (!interval) {
      return kExitUsage;
    }
  }
  std::optional<Crontab> crontab;
  if (!args.crontab.empty()) {
    auto loaded = load_crontab(args.crontab);
    if (!loaded) {
      for (const std::string& line : loaded.error().errors) {
        events.error(line);
      }
      return loaded.error().exit_code;
    }
    crontab = *std::move(loaded);
  }
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  const Crontab* cron_file = crontab ? &*crontab : nullptr;
  if (interval) {
    const std::string title = "heartlock status " +
                              (args.name.empty() ? "" : printable(args.name) + " ") + "(" +
                              store->url() + ")";
    return watch_on_terminal(title, *interval,
                             [&] { return watch_frame(*store, args, cron_file); });
  }
  auto locks = read_locks(*store, args.name);
  if (!locks) {
    events.error(locks.error().message);
    return exit_code_for(locks.error());
  }
  CronStatus cron = read_cron(*store, args, cron_file, *locks);
  for (const std::string& problem : cron.problems) {
    events.emit(LogLevel::warn, "cron_status", problem);
  }
  if (common.json) {
    print_json(*locks, args.name.empty(), cron, args.cron || crontab.has_value());
  } else {
    print_text(*locks, cron, crontab.has_value(), *store, std::cout);
  }
  return kExitOk;
}

}  // namespace heartlock::cli
