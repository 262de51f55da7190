#include "advisory_sql.h"

#include "lease_sql.h"

namespace heartlock::detail {
namespace {

constexpr std::string_view kLockMatch =
    "locktype = 'advisory' AND classid = $CLS::oid AND objid = $OBJ::oid AND objsubid = 1 AND "
    "granted";

// AdvisorySql::claim.
std::string claim_sql(const std::string& table, const std::string& channel) {
  // The lock alone proves only that no session holds it now. A holder whose session the server
  // ended (pg_terminate_backend, a restart, a connection timed out) may not have heard yet -- a
  // few ms for the goodbye on its socket, or, cut off, until its own deadline -- and works on
  // until then. So the record decides as in lease mode: free, run out, or deadlocked; else the
  // lock is given back at once. The upsert waits for a concurrent release's row lock and
  // re-checks the newest row version (pg_advisory_unlock takes effect before the release's
  // UPDATE commits). Session locks are not transactional: should the statement fail after the
  // lock was taken, the caller drops the session, which frees it.
  return fill_sql(R"sql(
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
}

}  // namespace

std::string lock_match(const std::string& cls, const std::string& obj) {
  std::string m(kLockMatch);
  m.replace(m.find("$CLS"), 4, cls);
  m.replace(m.find("$OBJ"), 4, obj);
  return m;
}

AdvisorySql make_advisory_sql(const std::string& table, const std::string& channel) {
  AdvisorySql s;
  s.claim = claim_sql(table, channel);
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

std::pair<std::string, std::string> lock_ids(std::int64_t key) {
  const auto u = static_cast<std::uint64_t>(key);
  return {std::to_string(u >> 32), std::to_string(u & 0xffffffffULL)};
}

}  // namespace heartlock::detail
