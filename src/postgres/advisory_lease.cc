#include "advisory_lease.h"

#include <algorithm>

#include "../core/io_deadline.h"
#include "pg_advisory_store.h"
#include "pg_values.h"

namespace heartlock::detail {

using std::chrono::milliseconds;

AdvisoryLease::AdvisoryLease(std::shared_ptr<PgClient> client, std::shared_ptr<SessionPool> pool,
                             std::shared_ptr<const AdvisorySql> sql,
                             std::unique_ptr<PgConnection> session, std::string name,
                             std::string owner, milliseconds ttl)
    : client_(std::move(client)),
      pool_(std::move(pool)),
      sql_(std::move(sql)),
      session_(std::move(session)),
      watch_fd_(session_->socket()),
      backend_pid_(session_->backend_pid()),
      name_(std::move(name)),
      owner_(std::move(owner)),
      ttl_(ttl),
      key_(advisory_key(name_)),
      ids_(lock_ids(key_)) {}

Result<std::optional<LostReason>> AdvisoryLease::renew(BootTime last_heartbeat) {
  std::lock_guard lock(mu_);
  if (!session_) {
    return std::optional<LostReason>(LostReason::backend_lost);
  }
  auto age = std::chrono::duration_cast<milliseconds>(boot_now() - last_heartbeat);
  auto rows = session_->exec(sql_->renew, {name_, owner_, std::to_string(age.count()), ids_.first,
                                           ids_.second, std::to_string(ttl_.count())});
  if (!rows && !session_->broken()) {
    return std::unexpected(rows.error());  // a failed statement; the session lives on
  }
  if (!rows || rows->empty()) {
    // The session is gone, and the lock with it: lost now, whatever the ttl says.
    return std::optional<LostReason>(why_gone());
  }
  const PgRow& r = rows->front();
  if (to_ll(r[0]) != backend_pid_) {
    // A transaction-pooling proxy handed us another backend: the lock is not ours here.
    return std::optional<LostReason>(LostReason::backend_lost);
  }
  if (!is_true(r[2])) {
    return std::optional<LostReason>(why_gone());
  }
  if (to_ll(r[1]) != 1) {
    return std::optional<LostReason>(LostReason::taken_over);
  }
  return std::optional<LostReason>();
}

Result<std::optional<LostReason>> AdvisoryLease::release(std::chrono::nanoseconds hold_for) {
  std::lock_guard lock(mu_);
  auto hold = std::chrono::ceil<milliseconds>(hold_for);
  if (!session_) {
    release_record(hold);
    return std::optional<LostReason>(LostReason::backend_lost);
  }
  auto rows = session_->exec(sql_->release,
                             {name_, owner_, std::to_string(hold.count()), std::to_string(key_)});
  std::optional<LostReason> lost;
  if (!rows || rows->empty()) {
    lost = why_gone();
    if (lost == LostReason::backend_lost) {
      release_record(hold);
    }
  } else if (to_ll(rows->front()[0]) != 1 || !is_true(rows->front()[1])) {
    lost = LostReason::taken_over;
  }
  watch_fd_.store(-1, std::memory_order_relaxed);  // before the session leaves this lease
  if (!lost && session_) {
    pool_->give(std::move(session_));  // unlocked: fit for the next acquire
  }
  session_.reset();  // otherwise end the session: whatever it held is released with it
  return lost;
}

LostReason AdvisoryLease::why_gone() {
  watch_fd_.store(-1, std::memory_order_relaxed);
  session_.reset();
  auto info = client_->exec("SELECT 1");  // keeps the shared connection warm; cheap
  (void)info;
  return record_taken() ? LostReason::taken_over : LostReason::backend_lost;
}

void AdvisoryLease::release_record(milliseconds hold) {
  ScopedIoDeadline bound(boot_now() + std::min(ttl_, kReleaseRecordBound));
  auto rows = client_->exec(sql_->release_record, {name_, owner_, std::to_string(hold.count())});
  (void)rows;
}

bool AdvisoryLease::record_taken() {
  auto rows = client_->exec(sql_->inspect, {name_, ids_.first, ids_.second});
  return rows && !rows->empty() && rows->front()[0] &&
         (!rows->front()[1] || *rows->front()[1] != owner_);
}

}  // namespace heartlock::detail
