#include "pg_advisory_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include "../core/io_deadline.h"
#include "../core/process_identity.h"
#include "../core/sha256.h"
#include "pg_lease_store.h"

namespace heartlock::detail {

// The advisory-mode statements. pg_locks shows a bigint advisory key as classid (high 32 bits)
// and objid (low 32 bits) with objsubid 1; {K} stands for that match.
struct AdvisorySql {
  // $1..$8 as LeaseSql::acquire, $9 key. Takes the advisory lock and, in the same statement,
  // records this session as the holder -- unless the record still blocks the name: a min_hold
  // still running, or a previous holder's lease still running although its session has ended
  // (it may not know yet; see claim()). Then the lock is unlocked again. One row: got the lock
  // (bool), token (NULL unless recorded), unlocked again (bool).
  std::string claim;
  // $1 name, $2 owner, $3 heartbeat age ms, $4 classid, $5 objid, $6 ttl ms.
  // One row: backend pid, rows updated, lock still held by this session.
  std::string renew;
  // $1 name, $2 owner, $3 hold ms, $4 key. One row: rows updated.
  std::string release;
  // $1 name, $2 owner, $3 hold ms: release's record part alone, for a lease whose session has
  // ended. One row: rows updated.
  std::string release_record;
  // $1 name, $2 classid, $3 objid. Terminates the session of an expired or deadlocked holder.
  std::string take_over;
  // $1 name, $2 classid, $3 objid. The row's columns (or NULLs) + backend_pid + the pid that
  // holds the lock (or NULL).
  std::string inspect;
  // $1 name, $2 token, $3 classid, $4 objid. Ends that lease: terminates its session.
  std::string break_lease;
  std::string list;
};

namespace {

using std::chrono::milliseconds;

long long to_ll(const PgValue& v) {
  long long out = 0;
  if (v) {
    std::from_chars(v->data(), v->data() + v->size(), out);
  }
  return out;
}

bool is_true(const PgValue& v) { return v && *v == "t"; }

Result<Attempt> busy(Result<LockInfo> info) {
  if (!info) {
    return std::unexpected(info.error());
  }
  return Attempt(std::move(*info));
}

constexpr std::string_view kLockMatch =
    "locktype = 'advisory' AND classid = $CLS::oid AND objid = $OBJ::oid AND objsubid = 1 AND "
    "granted";

std::string lock_match(const std::string& cls, const std::string& obj) {
  std::string m(kLockMatch);
  m.replace(m.find("$CLS"), 4, cls);
  m.replace(m.find("$OBJ"), 4, obj);
  return m;
}

AdvisorySql make_advisory_sql(const std::string& table, const std::string& channel) {
  AdvisorySql s;
  // The lock alone proves only that no session holds it now. A holder whose session the server
  // ended (pg_terminate_backend, a restart, a connection timed out) may not have heard yet -- a
  // few ms for the goodbye on its socket, or, cut off, until its own deadline -- and works on
  // until then. So the record decides as in lease mode: free, run out, or deadlocked; else the
  // lock is given back at once. The upsert waits for a concurrent release's row lock and
  // re-checks the newest row version (pg_advisory_unlock takes effect before the release's
  // UPDATE commits). Session locks are not transactional: should the statement fail after the
  // lock was taken, the caller drops the session, which frees it.
  s.claim = fill_sql(R"sql(
WITH lk AS (SELECT pg_try_advisory_lock($9::bigint) AS got),
rec AS (
  INSERT INTO {T} AS l (name, owner, token, state, host, pid, command, slot, ttl_ms,
                        stale_after_ms, acquired_at, renewed_at, heartbeat_at, expires_at,
                        backend_pid)
  SELECT $1::text, $2::text, 1, 'held', $4::text, $5::bigint, $6::text, to_timestamp($8::bigint),
         $3::bigint, $7::bigint, clock_timestamp(), clock_timestamp(), clock_timestamp(),
         clock_timestamp() + $3::bigint * interval '1 millisecond', pg_backend_pid()
  FROM lk WHERE lk.got
  ON CONFLICT (name) DO UPDATE SET
    owner = excluded.owner, token = l.token + 1, state = 'held', host = excluded.host,
    pid = excluded.pid, command = excluded.command, slot = excluded.slot,
    ttl_ms = excluded.ttl_ms, stale_after_ms = excluded.stale_after_ms,
    acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at,
    heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at,
    backend_pid = excluded.backend_pid
  WHERE l.owner IS NULL OR l.expires_at <= clock_timestamp()
     OR (l.state = 'held' AND l.stale_after_ms > 0
         AND l.heartbeat_at + l.stale_after_ms * interval '1 millisecond' <= clock_timestamp())
  RETURNING token)
SELECT lk.got, r.token,
       CASE WHEN lk.got AND r.token IS NULL THEN pg_advisory_unlock($9::bigint) ELSE false END
FROM lk LEFT JOIN rec r ON true)sql",
                     table, channel);
  s.renew = fill_sql(R"sql(
WITH upd AS (
  UPDATE {T} SET renewed_at = clock_timestamp(),
    heartbeat_at = clock_timestamp() - $3::bigint * interval '1 millisecond',
    expires_at = clock_timestamp() + $6::bigint * interval '1 millisecond'
  WHERE name = $1 AND owner = $2 RETURNING 1)
SELECT pg_backend_pid(), (SELECT count(*) FROM upd),
       EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND )sql" +
                         lock_match("$4", "$5") + ")",
                     table, channel);
  constexpr std::string_view kReleaseRecord = R"sql(
WITH upd AS (
  UPDATE {T} SET
    owner = CASE WHEN $3::bigint > 0 THEN owner END,
    state = CASE WHEN $3::bigint > 0 THEN 'released' ELSE 'free' END,
    expires_at = clock_timestamp() + greatest($3::bigint, 0) * interval '1 millisecond',
    backend_pid = NULL
  WHERE name = $1 AND owner = $2 RETURNING name),
notified AS (SELECT pg_notify({C}, name) FROM upd)
SELECT (SELECT count(*) FROM upd), )sql";
  s.release = fill_sql(std::string(kReleaseRecord) +
                           "pg_advisory_unlock($4::bigint), (SELECT count(*) FROM notified)",
                       table, channel);
  s.release_record =
      fill_sql(std::string(kReleaseRecord) + "(SELECT count(*) FROM notified)", table, channel);
  s.take_over = fill_sql(R"sql(
SELECT pg_terminate_backend(k.pid) FROM {T} l JOIN pg_locks k ON k.pid = l.backend_pid
WHERE l.name = $1 AND l.state = 'held' AND k.)sql" +
                             lock_match("$2", "$3") + R"sql(
  AND (l.expires_at <= clock_timestamp()
       OR (l.stale_after_ms > 0
           AND l.heartbeat_at + l.stale_after_ms * interval '1 millisecond' <= clock_timestamp())))sql",
                         table, channel);
  s.inspect = fill_sql("SELECT r.*, (SELECT pid FROM pg_locks WHERE " + lock_match("$2", "$3") +
                           " LIMIT 1) FROM (SELECT 1) one LEFT JOIN (SELECT " + lease_columns() +
                           ", backend_pid FROM {T} WHERE name = $1) r ON true",
                       table, channel);
  s.break_lease = fill_sql(R"sql(
WITH l AS (SELECT backend_pid FROM {T} WHERE name = $1 AND token = $2::bigint AND owner IS NOT NULL),
upd AS (UPDATE {T} SET owner = NULL, state = 'free', expires_at = clock_timestamp(),
          backend_pid = NULL
        WHERE name = $1 AND token = $2::bigint AND owner IS NOT NULL RETURNING name),
killed AS (SELECT pg_terminate_backend(k.pid) FROM pg_locks k JOIN l ON k.pid = l.backend_pid
           WHERE k.)sql" + lock_match("$3", "$4") +
                               R"sql(),
notified AS (SELECT pg_notify({C}, name) FROM upd)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM killed), (SELECT count(*) FROM notified))sql",
                           table, channel);
  s.list = fill_sql("SELECT name FROM {T} ORDER BY name", table, channel);
  return s;
}

// pg_locks' classid and objid of a key, as decimal text.
std::pair<std::string, std::string> lock_ids(std::int64_t key) {
  const auto u = static_cast<std::uint64_t>(key);
  return {std::to_string(u >> 32), std::to_string(u & 0xffffffffULL)};
}

}  // namespace

// Sessions that held an advisory lock and released it cleanly (or never got one), kept for the
// next acquire: a new session costs a connection set-up (~3 ms here), a kept one nothing.
class SessionPool {
 public:
  SessionPool(std::shared_ptr<PgClient> client, std::string url)
      : client_(std::move(client)), url_(std::move(url)) {}

  // A kept session (`reused` set), else a new one checked for a transaction-pooling proxy.
  Result<std::unique_ptr<PgConnection>> take(bool& reused) {
    {
      std::lock_guard lock(mu_);
      while (!idle_.empty()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        // Sessions the server ended meanwhile (a restart) said so on their sockets: skipped here
        // rather than found out by a statement.
        if (s->usable_when_idle()) {
          reused = true;
          return s;
        }
      }
    }
    reused = false;
    auto session = client_->connect_new();
    if (!session) {
      return session;
    }
    // A session lock needs a session: behind a transaction-pooling proxy each statement may run
    // on another backend, and the lock would stay behind on one we no longer talk to.
    PgConnection& s = **session;
    auto first = s.exec("SELECT pg_backend_pid()");
    auto second = s.exec("SELECT pg_backend_pid()");
    if (!first || !second) {
      return std::unexpected(!first ? first.error() : second.error());
    }
    if (first->empty() || second->empty() || first->front()[0] != second->front()[0] ||
        to_ll(first->front()[0]) != s.backend_pid()) {
      return fail(Errc::unsupported,
                  "postgres " + url_ +
                      ": the backend changed between two statements -- a transaction-pooling "
                      "proxy (e.g. pgbouncer pool_mode=transaction) is in front, and session "
                      "advisory locks do not survive it; connect to PostgreSQL directly, or use "
                      "mode=lease");
    }
    return session;
  }

  // Keeps a session that holds no lock (at most a few).
  void give(std::unique_ptr<PgConnection> session) {
    if (!session || session->broken()) {
      return;
    }
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(std::move(session));
    }
  }

 private:
  static constexpr std::size_t kMaxIdle = 8;
  std::shared_ptr<PgClient> client_;
  const std::string url_;
  std::mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
};

namespace {

// A lease: the advisory lock held by a session pinned for the lease's life.
class AdvisoryLease final : public BackendLease {
 public:
  AdvisoryLease(std::shared_ptr<PgClient> client, std::shared_ptr<SessionPool> pool,
                std::shared_ptr<const AdvisorySql> sql, std::unique_ptr<PgConnection> session,
                std::string name, std::string owner, milliseconds ttl)
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

  // Also what the keepalive calls when watch_fd() turns readable: exec() first reads what arrived
  // on the idle session -- a notice, or the server's goodbye and EOF after pg_terminate_backend or
  // a shutdown -- and a session found gone answers "lost" here, before anything is sent.
  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override {
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

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
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

  // The pinned session's socket: the lock lives exactly as long as the session, and the server
  // says at once when it ends one (pg_terminate_backend by a contender or an admin, a shutdown):
  // an error message and EOF arrive on the idle socket, and renew() then finds the lease lost
  // without waiting for the renew interval. -1 once the session has left this lease (lost or
  // released). Atomic: read by the keepalive while a renewal on another thread may drop it.
  int watch_fd() const override { return watch_fd_.load(std::memory_order_relaxed); }

 private:
  // Why a session that no longer holds the lock lost it: taken from us if the record is no longer
  // ours, else the session simply ended (an admin, a restart).
  LostReason why_gone() {
    watch_fd_.store(-1, std::memory_order_relaxed);
    session_.reset();
    auto info = client_->exec("SELECT 1");  // keeps the shared connection warm; cheap
    (void)info;
    return record_taken() ? LostReason::taken_over : LostReason::backend_lost;
  }
  // The lease's session has ended and the holder has stopped (it releases): frees the record if
  // it is still ours, so that contenders need not wait for the lease to run out (they would: a
  // holder whose session ended may still be working, see AdvisorySql::claim). Best effort, and
  // brief: the server may be out of reach (a partition), and past a ttl the record has run out
  // anyway.
  void release_record(milliseconds hold) {
    ScopedIoDeadline bound(boot_now() + std::min(ttl_, kReleaseRecordBound));
    auto rows = client_->exec(sql_->release_record, {name_, owner_, std::to_string(hold.count())});
    (void)rows;
  }
  static constexpr milliseconds kReleaseRecordBound{2000};
  // Whether the record names another owner, or none: the session is found gone at once (watch_fd),
  // often before a new holder has recorded itself, and a record freed under us was freed by
  // break_lease (`release --force`), which hands the lock to the next acquirer -- as the renewal
  // statement, which matches no row then, says too.
  bool record_taken() {
    auto rows = client_->exec(sql_->inspect, {name_, ids_.first, ids_.second});
    return rows && !rows->empty() && rows->front()[0] &&
           (!rows->front()[1] || *rows->front()[1] != owner_);
  }

  std::mutex mu_;
  std::shared_ptr<PgClient> client_;
  std::shared_ptr<SessionPool> pool_;
  std::shared_ptr<const AdvisorySql> sql_;
  std::unique_ptr<PgConnection> session_;  // guarded by mu_
  std::atomic<int> watch_fd_;              // session_'s socket while it is this lease's, else -1
  const int backend_pid_;
  const std::string name_;
  const std::string owner_;
  const milliseconds ttl_;
  const std::int64_t key_;
  const std::pair<std::string, std::string> ids_;
};

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
  pool_ = std::make_shared<SessionPool>(client_, client_->url().redacted);
}

PgAdvisoryStore::~PgAdvisoryStore() { stop_keepalive(); }

std::string PgAdvisoryStore::location(std::string_view name) const {
  return url() + " pg_advisory_lock(" + std::to_string(advisory_key(name)) + ")";
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
  // The lease's deadline counts from before the statement that records its expiry was sent.
  BootTime sent{};
  auto claim_on = [&](PgConnection& s) {
    sent = boot_now();
    return s.exec(advisory_->claim, params);
  };
  bool reused = false;
  auto session = pool_->take(reused);
  if (!session) {
    return std::unexpected(session.error());
  }
  // A kept session may have ended while idle (a restart): then once more with a new one.
  auto claimed = claim_on(**session);
  if (!claimed && reused && (*session)->failed_before_running()) {
    session = pool_->take(reused);
    if (!session) {
      return std::unexpected(session.error());
    }
    claimed = claim_on(**session);
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
    if (attempt > 0) {
      pool_->give(std::move(*session));  // holds nothing
      return busy(inspect(name));
    }
    // Held: if its holder stopped renewing or heartbeating, end its session and try again.
    auto killed = client_->exec(advisory_->take_over, {name, ids.first, ids.second});
    if (!killed || killed->empty()) {
      pool_->give(std::move(*session));  // holds nothing
      return busy(inspect(name));
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
    // The same rule as for any ended session: the claim takes it only if the record says the
    // lease ran out (a renewal that slipped in before the termination extends it).
    claimed = claim_on(s);
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

}  // namespace heartlock::detail
