// What every backend's run ledger (Store::put_run_record, Store::run_records) shares: the checks
// made before any I/O and the order entries are reported in.
#ifndef HEARTLOCK_CORE_LEDGER_RULES_H_
#define HEARTLOCK_CORE_LEDGER_RULES_H_

#include <chrono>
#include <cstddef>
#include <string_view>
#include <vector>

#include "heartlock/error.h"
#include "heartlock/store.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad job name, a retention that is not positive, or `data` larger
// than kMaxRunRecordBytes.
Result<void> check_run_record(std::string_view job, std::chrono::seconds retention,
                              std::string_view data);

// Errc::invalid_argument for a job name that is neither empty (every job) nor valid.
Result<void> check_run_query(std::string_view job);

// Whether `a` is reported before `b`: newer slot first, then by job name (byte order, as
// std::string compares).
bool run_record_before(const RunRecordText& a, const RunRecordText& b);

// Sorts `records` in that order and keeps the first `limit`.
void order_run_records(std::vector<RunRecordText>& records, std::size_t limit);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_LEDGER_RULES_H_
