#include "ledger_rules.h"

#include <algorithm>
#include <string>

#include "slots.h"

namespace heartlock::detail {

Result<void> check_run_record(std::string_view job, std::chrono::seconds retention,
                              std::string_view data) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return ok;
  }
  if (data.size() > kMaxRunRecordBytes) {
    return fail(Errc::invalid_argument,
                "run record of " + std::string(job) + " is " + std::to_string(data.size()) +
                    " bytes long; the limit is " + std::to_string(kMaxRunRecordBytes));
  }
  return {};
}

Result<void> check_run_query(std::string_view job) {
  return job.empty() ? Result<void>() : validate_name(job);
}

bool run_record_before(const RunRecordText& a, const RunRecordText& b) {
  if (a.slot != b.slot) {
    return a.slot > b.slot;
  }
  return a.job < b.job;
}

void order_run_records(std::vector<RunRecordText>& records, std::size_t limit) {
  std::sort(records.begin(), records.end(), run_record_before);
  if (records.size() > limit) {
    records.resize(limit);
  }
}

}  // namespace heartlock::detail
