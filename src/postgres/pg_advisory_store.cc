#include "pg_advisory_store.h"

#include <algorithm>
#include <charconv>
#include <thread>

#include "../core/process_identity.h"
#include "../core/sha256.h"
#include "advisory_lease.h"
#include "pg_lease_store.h"
#include "pg_ledger.h"
#include "pg_values.h"
#include "session_pool.h"

namespace heartlock::detail {
namespace {

using std::chrono::milliseconds;

Result<Attempt> busy(Result<LockInfo> info) {
  if (!info) {
    return std::unexpected(info.error());
  }
  return Attempt(std::move(*info));
}

}  // namespace

std::int64_t advisory_key(std::string_view name) {
  const std::string hex = sha256_hex(name).substr(0, 16);
  std::uint64_t v = 0;
  std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
  return static_cast<std::int64_t>(v);
}

PgAdvisoryStore::PgAdvisoryStore(PgUrl url, StoreOptions options)
    : LeasingStore(std::move(options)),
      sql_(std::make_shared<LeaseSql>(
          make_lease_sql(url.qualified_table(), url.qualified_slots_table(),
                         url.schema.empty() ? "" : quote_ident(url.schema), url.channel()))),
      advisory_(
          std::make_shared<AdvisorySql>(make_advisory_sql(url.qualified_table(), url.channel()))) {
  auto sql = sql_;
  auto setup = [sql, url](PgConnection& c) { return create_lease_tables(*sql, url, c); };
  client_ = std::make_shared<PgClient>(std::move(url), setup);
  ledger_ = std::make_unique<PgLedger>(client_, client_->url());
  pool_ = std::make_shared<SessionPool>(client_, client_->url().redacted);
}

PgAdvisoryStore::~PgAdvisoryStore() { stop_keepalive(); }

std::string PgAdvisoryStore::location(std::string_view name) const {
  return url() + " pg_advisory_lock(" + std::to_string(advisory_key(name)) + ")";
}

Result<std::vector<PgRow>> PgAdvisoryStore::run_claim(PgConnection& session,
                                                      const std::vector<PgValue>& params,
                                                      BootTime& sent) {
  // The lease's deadline counts from before the statement that records its expiry was sent.
  sent = boot_now();
  return session.exec(advisory_->claim, params);
}

bool PgAdvisoryStore::take_over(const std::string& name,
                                const std::pair<std::string, std::string>& ids) {
  auto killed = client_->exec(advisory_->take_over, {name, ids.first, ids.second});
  if (!killed || killed->empty()) {
    return false;
  }
  // The lock goes when the terminated backend has exited: wait for that, briefly.
  for (int i = 0; i < 200; ++i) {
    auto held = client_->exec("SELECT count(*) FROM pg_locks WHERE " + lock_match("$1", "$2"),
                              {ids.first, ids.second});
    if (held && !held->empty() && to_ll(held->front()[0]) == 0) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

Result<Attempt> PgAdvisoryStore::claim(const ClaimRequest& request) {
  const std::string name(request.name);
  const std::int64_t key = advisory_key(name);
  const auto ids = lock_ids(key);
  const ProcessIdentity self = self_identity();
  const auto& o = request.options;
  const std::vector<PgValue> params = {
      name,
      request.owner,
      std::to_string(o.ttl.count()),
      self.host,
      std::to_string(self.pid),
      o.command,
      std::to_string(o.stale_after.count()),
      o.slot ? PgValue(std::to_string(o.slot->time_since_epoch().count())) : PgValue(),
      std::to_string(key)};
  BootTime sent{};
  bool reused = false;
  auto session = pool_->take(reused);
  if (!session) {
    return std::unexpected(session.error());
  }
  // A kept session may have ended while idle (a restart): then once more with a new one.
  auto claimed = run_claim(**session, params, sent);
  if (!claimed && reused && (*session)->failed_before_running()) {
    session = pool_->take(reused);
    if (!session) {
      return std::unexpected(session.error());
    }
    claimed = run_claim(**session, params, sent);
  }
  PgConnection& s = **session;
  for (int attempt = 0;; ++attempt) {
    // A failed statement may have taken the lock: the session goes (and the lock with it).
    if (!claimed) {
      return std::unexpected(claimed.error());
    }
    if (claimed->empty() || claimed->front().size() < 3) {
      return fail(Errc::internal, "postgres " + url() + ": the advisory claim answered no row");
    }
    if (is_true(claimed->front()[0])) {
      break;  // the lock: recorded, or given back at once
    }
    // Held: if its holder stopped renewing or heartbeating, end its session and try again.
    if (attempt > 0 || !take_over(name, ids)) {
      pool_->give(std::move(*session));  // holds nothing
      return busy(inspect(name));
    }
    // The same rule as for any ended session: the claim takes it only if the record says the
    // lease ran out (a renewal that slipped in before the termination extends it).
    claimed = run_claim(s, params, sent);
  }
  const PgRow& row = claimed->front();
  if (!row[1]) {
    // Still in the last holder's min_hold, or its lease still runs although its session ended:
    // not ours yet (the waiting acquire retries by the time it runs out).
    if (is_true(row[2])) {
      pool_->give(std::move(*session));
    }
    return busy(inspect(name));
  }
  return Attempt(Claim{
      .lease = std::make_unique<AdvisoryLease>(client_, pool_, advisory_, std::move(*session), name,
                                               request.owner, o.ttl),
      .token = static_cast<std::uint64_t>(to_ll(row[1])),
      .location = location(name),
      .acquired_at = sent,
  });
}

std::unique_ptr<ReleaseWaiter> PgAdvisoryStore::release_waiter(std::string_view /*name*/) {
  return pg_release_waiter(*client_, sql_->channel);
}

Result<LockInfo> PgAdvisoryStore::inspect_lock(std::string_view name) {
  const auto ids = lock_ids(advisory_key(name));
  auto rows = client_->exec(advisory_->inspect, {std::string(name), ids.first, ids.second});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  LockInfo none{.name = std::string(name), .location = location(name), .detail = "free"};
  if (rows->empty()) {
    return none;
  }
  const PgRow& r = rows->front();
  const PgValue& lock_pid = r[15];
  const PgValue& backend_pid = r[14];
  if (!r[0]) {  // no record
    if (!lock_pid) {
      return none;
    }
    none.state = LockState::held;
    none.holder = Holder{.foreign = true};
    none.detail = "backend " + *lock_pid + " holds the advisory lock, with no heartlock record";
    return none;
  }
  LockInfo info = describe_pg_row(PgRow(r.begin(), r.begin() + 14), location(name));
  if (!lock_pid) {
    if (info.state == LockState::held && !info.min_hold_left && info.holder) {
      // The session ended, but not the lease it recorded: its holder may not know yet (a few ms,
      // or until its deadline if it is cut off), so the next acquire waits for the lease's end.
      long long left = to_ll(r[13]);
      const Holder& h = *info.holder;
      if (h.stale_after.count() > 0 && h.heartbeat_age) {
        left = std::min<long long>(left, (h.stale_after - *h.heartbeat_age).count());
      }
      info.detail = "the previous holder's session ended (pid " + std::to_string(h.pid) + " on " +
                    h.host + "); its lease runs for another " +
                    std::to_string(std::max<long long>(left, 0)) + "ms (it may still be working)";
    } else if (info.state != LockState::free && !info.min_hold_left) {
      info.state = LockState::dead;
      info.detail = "its holder's session has ended (" + info.detail + ")";
    }
    return info;
  }
  if (lock_pid != backend_pid) {
    info.state = LockState::held;
    if (info.holder) {
      info.holder->foreign = true;
    }
    info.detail = "backend " + *lock_pid + " holds the advisory lock, not the one recorded";
  }
  return info;
}

Result<std::vector<LockInfo>> PgAdvisoryStore::list() {
  auto rows = client_->exec(advisory_->list);
  if (!rows) {
    return std::unexpected(rows.error());
  }
  std::vector<LockInfo> out;
  for (const auto& row : *rows) {
    if (auto info = inspect(row[0].value_or(""))) {
      out.push_back(std::move(*info));
    }
  }
  return out;
}

Result<void> PgAdvisoryStore::break_lock(std::string_view name, std::uint64_t token) {
  const auto ids = lock_ids(advisory_key(name));
  auto rows = client_->exec(advisory_->break_lease,
                            {std::string(name), std::to_string(token), ids.first, ids.second});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (rows->empty() || to_ll(rows->front()[0]) != 1) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  return {};
}

Result<SlotClaim> PgAdvisoryStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                              std::chrono::seconds retention) {
  return claim_pg_slot(*client_, *sql_, job, slot, retention);
}

Result<std::optional<std::chrono::sys_seconds>> PgAdvisoryStore::last_slot(std::string_view job) {
  return last_pg_slot(*client_, *sql_, job);
}

Result<void> PgAdvisoryStore::put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                                             std::string_view data,
                                             std::chrono::seconds retention) {
  return ledger_->put(job, slot, data, retention);
}

Result<std::vector<RunRecordText>> PgAdvisoryStore::run_records(std::string_view job,
                                                                std::size_t limit) {
  return ledger_->records(job, limit);
}

}  // namespace heartlock::detail
