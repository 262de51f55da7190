// `heartlock history [JOB] [-n N] [--json]`: the run ledger (heartlock/ledger.h), newest slot
// first, as a table or one JSON array.
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "heartlock/duration.h"
#include "heartlock/ledger.h"
#include "heartlock/text.h"

#include "admin_commands.h"
#include "exit_codes.h"
#include "ledger_text.h"

namespace heartlock::cli {
namespace {

using std::chrono::milliseconds;

std::string signed_duration(milliseconds d) {
  return d < milliseconds(0) ? "-" + format_duration(-d) : format_duration(d);
}

std::vector<std::string> row_of(const RunRecord& r) {
  auto took = run_duration(r);
  // Every text field comes from the store, written by any host or by hand: escaped, so that a
  // hostile entry cannot steer the terminal (cut first, on a character boundary, then escape).
  return {printable(r.job),
          utc_text(std::chrono::sys_time<milliseconds>(r.slot)),
          std::string(to_string(r.state)),
          printable(clipped(run_host(r), 60)),
          r.started ? utc_text(*r.started) : "-",
          took ? signed_duration(*took) : "-",
          run_exit(r),
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
  print_columns(rows);
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
      out.push_back(run_record_json(r));
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
