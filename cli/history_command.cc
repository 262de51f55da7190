// `heartlock history [JOB] [-n N] [--json]`: the run ledger (heartlock/ledger.h), newest slot
// first, as a table or one JSON array.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <string.h>  // sigabbrev_np (glibc)

#include "heartlock/duration.h"
#include "heartlock/ledger.h"
#include "heartlock/text.h"

#include "admin_commands.h"
#include "exit_codes.h"

namespace heartlock::cli {
namespace {

using std::chrono::milliseconds;

// RFC 3339 UTC, with milliseconds when `t` has any ("2026-03-29T01:00:00Z", "...:01.250Z").
// Civil-calendar arithmetic: no gmtime_r and its time-zone lock, and any year chrono can hold.
std::string utc_text(std::chrono::sys_time<milliseconds> t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd(day);
  std::chrono::hh_mm_ss hms(t - day);
  char buf[64];
  int n =
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                    static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                    static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(std::max(n, 0)));
  if (auto ms = hms.subseconds().count(); ms != 0) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(ms));
    out += buf;
  }
  return out + "Z";
}

std::string utc_text(const RunRecord::time_point& t) {
  return utc_text(std::chrono::floor<milliseconds>(t));
}

std::string signed_duration(milliseconds d) {
  return d < milliseconds(0) ? "-" + format_duration(-d) : format_duration(d);
}

// "SIGTERM", or "signal 99" for a number glibc has no name for.
std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

std::optional<milliseconds> duration_of(const RunRecord& r) {
  if (!r.started || !r.ended) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<milliseconds>(*r.ended - *r.started);
}

// `text` cut to at most `max` bytes on a character boundary, "..." marking the cut.
std::string clipped(const std::string& text, std::size_t max) {
  if (text.size() <= max) {
    return text;
  }
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) {
    --cut;
  }
  return text.substr(0, cut) + "...";
}

std::vector<std::string> row_of(const RunRecord& r) {
  std::string who = r.host.empty() ? "-" : r.host;
  if (r.pid > 0) {
    who += ":" + std::to_string(r.pid);
  }
  std::string exit = "-";
  if (r.signal) {
    exit = signal_name(*r.signal);
  } else if (r.exit_code) {
    exit = std::to_string(*r.exit_code);
  }
  auto took = duration_of(r);
  // Every text field comes from the store, written by any host or by hand: escaped, so that a
  // hostile entry cannot steer the terminal (cut first, on a character boundary, then escape).
  return {printable(r.job),
          utc_text(std::chrono::sys_time<milliseconds>(r.slot)),
          std::string(to_string(r.state)),
          printable(clipped(who, 60)),
          r.started ? utc_text(*r.started) : "-",
          took ? signed_duration(*took) : "-",
          exit,
          r.started ? signed_duration(r.lateness) : "-",
          r.attempts > 0 ? std::to_string(r.attempts) : "-",
          r.definition.empty() ? "-"
                               : printable(r.definition.substr(0, 16)),  // as cron --check shows it
          r.detail.empty() ? "-" : printable(clipped(r.detail, 80))};
}

void print_table(const std::vector<RunRecord>& records) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"JOB", "SLOT", "STATE", "HOST:PID", "STARTED", "DURATION", "EXIT", "LATE",
                  "TRIES", "DEFINITION", "DETAIL"});
  for (const RunRecord& r : records) {
    rows.push_back(row_of(r));
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

// One entry as JSON: every key always present (null when unknown), times in RFC 3339 UTC and
// durations in milliseconds.
nlohmann::json json_of(const RunRecord& r) {
  auto time_or_null = [](const std::optional<RunRecord::time_point>& t) {
    return t ? nlohmann::json(utc_text(*t)) : nlohmann::json(nullptr);
  };
  auto took = duration_of(r);
  nlohmann::json j;
  j["job"] = r.job;
  j["slot"] = utc_text(std::chrono::sys_time<milliseconds>(r.slot));
  j["state"] = std::string(to_string(r.state));
  j["host"] = r.host;
  j["pid"] = r.pid;
  j["started"] = time_or_null(r.started);
  j["ended"] = time_or_null(r.ended);
  j["duration_ms"] = took ? nlohmann::json(took->count()) : nlohmann::json(nullptr);
  j["exit_code"] = r.exit_code ? nlohmann::json(*r.exit_code) : nlohmann::json(nullptr);
  j["signal"] = r.signal ? nlohmann::json(*r.signal) : nlohmann::json(nullptr);
  j["signal_name"] = r.signal ? nlohmann::json(signal_name(*r.signal)) : nlohmann::json(nullptr);
  j["lateness_ms"] = r.lateness.count();
  j["attempts"] = r.attempts;
  j["token"] = r.token ? nlohmann::json(*r.token) : nlohmann::json(nullptr);
  j["definition"] = r.definition;
  j["detail"] = r.detail;
  return j;
}

}  // namespace

int show_history(const std::string& job, std::size_t limit, const CommonArgs& common) {
  Events events = make_events(common);
  int code = 0;
  auto store = open_store(common, events, code);
  if (!store) {
    return code;
  }
  auto records = run_history(*store, job, limit);
  if (!records) {
    const Error& e = records.error();
    events.error(e.code == Errc::unsupported ? "no history to show: " + e.message
                                             : "cannot read the run ledger: " + e.message);
    return exit_code_for(e);
  }
  if (common.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const RunRecord& r : *records) {
      out.push_back(json_of(r));
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (records->empty()) {
    std::cout << "no runs recorded" << (job.empty() ? "" : " for " + printable(job)) << " in "
              << store->url() << "\n";
  } else {
    print_table(*records);
  }
  return kExitOk;
}

}  // namespace heartlock::cli
