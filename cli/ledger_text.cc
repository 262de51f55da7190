#include "ledger_text.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <string.h>  // sigabbrev_np (glibc)

namespace heartlock::cli {

using std::chrono::milliseconds;

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

std::string utc_text_millis(std::chrono::sys_time<milliseconds> t) {
  const auto second = std::chrono::floor<std::chrono::seconds>(t);
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>((t - second).count()));
  std::string out = utc_text(std::chrono::sys_time<milliseconds>(second));
  out.insert(out.size() - 1, buf);
  return out;
}

std::string utc_text(const RunRecord::time_point& t) {
  return utc_text(std::chrono::floor<milliseconds>(t));
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

std::optional<milliseconds> run_duration(const RunRecord& r) {
  if (!r.started || !r.ended) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<milliseconds>(*r.ended - *r.started);
}

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

std::string run_host(const RunRecord& r) {
  std::string who = r.host.empty() ? "-" : r.host;
  if (r.pid > 0) {
    who += ":" + std::to_string(r.pid);
  }
  return who;
}

std::string run_exit(const RunRecord& r) {
  if (r.signal) {
    return signal_name(*r.signal);
  }
  return r.exit_code ? std::to_string(*r.exit_code) : "-";
}

nlohmann::json run_record_json(const RunRecord& r) {
  auto time_or_null = [](const std::optional<RunRecord::time_point>& t) {
    return t ? nlohmann::json(utc_text(*t)) : nlohmann::json(nullptr);
  };
  auto took = run_duration(r);
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

void print_columns(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  if (rows.empty()) {
    return;
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
    out << line << "\n";
  }
}

}  // namespace heartlock::cli
