// Showing run ledger entries (heartlock/ledger.h) and tables: what `heartlock history` and the cron
// section of `heartlock status` share.
#ifndef HEARTLOCK_CLI_LEDGER_TEXT_H_
#define HEARTLOCK_CLI_LEDGER_TEXT_H_

#include <chrono>
#include <cstddef>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "heartlock/ledger.h"

namespace heartlock::cli {

// RFC 3339 UTC, with milliseconds when `t` has any ("2026-03-29T01:00:00Z", "...:01.250Z").
std::string utc_text(std::chrono::sys_time<std::chrono::milliseconds> t);
std::string utc_text(const RunRecord::time_point& t);
// RFC 3339 UTC, always with milliseconds ("2026-03-29T01:00:00.000Z"): for log lines.
std::string utc_text_millis(std::chrono::sys_time<std::chrono::milliseconds> t);

// "SIGTERM", or "signal 99" for a number glibc has no name for.
std::string signal_name(int sig);

// How long the run took: ended - started, when both are known.
std::optional<std::chrono::milliseconds> run_duration(const RunRecord& r);

// `text` cut to at most `max` (> 3) bytes on a character boundary, "..." marking the cut.
std::string clipped(const std::string& text, std::size_t max);

// "host:pid" ("-" for no host; no ":pid" without a pid), not yet escaped.
std::string run_host(const RunRecord& r);

// How the run ended, for a table: "SIGKILL", "0", or "-" while unknown.
std::string run_exit(const RunRecord& r);

// One entry as JSON: every key always present (null when unknown), times in RFC 3339 UTC and
// durations in milliseconds.
nlohmann::json run_record_json(const RunRecord& r);

// Prints `rows` to `out` as columns two blanks apart (the first row is the header); cells are
// printed as they are: escape text from the store before.
void print_columns(const std::vector<std::vector<std::string>>& rows,
                   std::ostream& out = std::cout);

}  // namespace heartlock::cli

#endif  // HEARTLOCK_CLI_LEDGER_TEXT_H_
