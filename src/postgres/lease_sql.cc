#include "lease_sql.h"

namespace heartlock::detail {

std::string fill_sql(std::string_view sql, const std::string& table, const std::string& channel) {
  std::string out;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql.compare(i, 3, "{T}") == 0) {
      out += table;
      i += 2;
    } else if (sql.compare(i, 3, "{C}") == 0) {
      out += "'" + channel + "'";
      i += 2;
    } else {
      out.push_back(sql[i]);
    }
  }
  return out;
}

namespace {

constexpr const char* kColumns = R"sql(
  name, owner, token, state, host, pid, command, extract(epoch from slot)::bigint,
  ttl_ms, stale_after_ms,
  (extract(epoch from acquired_at) * 1000)::bigint,
  (extract(epoch from clock_timestamp() - renewed_at) * 1000)::bigint,
  (extract(epoch from clock_timestamp() - heartbeat_at) * 1000)::bigint,
  (extract(epoch from expires_at - clock_timestamp()) * 1000)::bigint
  FROM {T})sql";

}  // namespace

std::string lease_columns() {
  std::string c = kColumns;
  return c.substr(0, c.rfind("FROM"));
}

LeaseSql make_lease_sql(const std::string& table, const std::string& slots,
                        const std::string& schema, const std::string& channel) {
  LeaseSql s;
  s.channel = channel;
  s.create_schema = schema.empty() ? "" : "CREATE SCHEMA IF NOT EXISTS " + schema;
  s.table_exists = "SELECT to_regclass($1)";
  s.create_table = fill_sql(R"sql(
CREATE TABLE IF NOT EXISTS {T} (
  name           text PRIMARY KEY,
  owner          text,                    -- NULL: free
  token          bigint NOT NULL,         -- the last fencing token handed out for this name
  state          text NOT NULL,           -- held, released (min_hold), free
  host           text,
  pid            bigint,
  command        text,
  slot           timestamptz,
  ttl_ms         bigint NOT NULL DEFAULT 0,
  stale_after_ms bigint NOT NULL DEFAULT 0,
  acquired_at    timestamptz,
  renewed_at     timestamptz,
  heartbeat_at   timestamptz,
  expires_at     timestamptz NOT NULL,    -- end of the lease, or of min_hold after release
  backend_pid    integer                  -- mode=advisory: the holder's session
))sql",
                            table, channel);
  // Takes a free row, an expired lease (or finished min_hold), or a deadlocked holder's (no
  // heartbeat for stale_after); counts the token in the same statement.
  s.acquire = fill_sql(R"sql(
INSERT INTO {T} AS l (name, owner, token, state, host, pid, command, slot, ttl_ms, stale_after_ms,
                      acquired_at, renewed_at, heartbeat_at, expires_at)
VALUES ($1, $2, 1, 'held', $4, $5::bigint, $6, to_timestamp($8::bigint), $3::bigint, $7::bigint,
        clock_timestamp(), clock_timestamp(), clock_timestamp(),
        clock_timestamp() + $3::bigint * interval '1 millisecond')
ON CONFLICT (name) DO UPDATE SET
  owner = excluded.owner, token = l.token + 1, state = 'held', host = excluded.host,
  pid = excluded.pid, command = excluded.command, slot = excluded.slot, ttl_ms = excluded.ttl_ms,
  stale_after_ms = excluded.stale_after_ms, acquired_at = excluded.acquired_at,
  renewed_at = excluded.renewed_at, heartbeat_at = excluded.heartbeat_at,
  expires_at = excluded.expires_at
WHERE l.owner IS NULL OR l.expires_at <= clock_timestamp()
   OR (l.state = 'held' AND l.stale_after_ms > 0
       AND l.heartbeat_at + l.stale_after_ms * interval '1 millisecond' <= clock_timestamp())
RETURNING token)sql",
                       table, channel);
  // All due leases of a process in one statement. The heartbeat arrives as an age on the
  // client's monotonic clock and is stored as a database time.
  s.renew = fill_sql(R"sql(
WITH req AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
    AS r(name, owner, ttl_ms, age_ms)),
upd AS (
  UPDATE {T} AS l SET renewed_at = clock_timestamp(),
    heartbeat_at = clock_timestamp() - req.age_ms * interval '1 millisecond',
    expires_at = clock_timestamp() + req.ttl_ms * interval '1 millisecond'
  FROM req WHERE l.name = req.name AND l.owner = req.owner AND l.state = 'held'
  RETURNING l.name)
SELECT req.name, EXISTS (SELECT 1 FROM upd WHERE upd.name = req.name),
       COALESCE((SELECT l.owner IS NULL FROM {T} l WHERE l.name = req.name), true)
FROM req)sql",
                     table, channel);
  // With a hold left the row keeps its owner (state released) until expires_at; otherwise it is
  // freed and waiters are notified (delivered at commit). The third column (was the row free
  // already?) is read only when the update found nothing: NOT EXISTS (upd) is a one-time filter,
  // so a release that succeeds does not look the row up a second time.
  s.release = fill_sql(R"sql(
WITH upd AS (
  UPDATE {T} SET
    owner = CASE WHEN $3::bigint > 0 THEN owner END,
    state = CASE WHEN $3::bigint > 0 THEN 'released' ELSE 'free' END,
    expires_at = clock_timestamp() + greatest($3::bigint, 0) * interval '1 millisecond'
  WHERE name = $1 AND owner = $2
  RETURNING name),
notified AS (SELECT pg_notify({C}, name) FROM upd WHERE $3::bigint <= 0)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM notified),
       COALESCE((SELECT owner IS NULL FROM {T} WHERE name = $1 AND NOT EXISTS (SELECT FROM upd)),
                true))sql",
                       table, channel);
  s.break_lease = fill_sql(R"sql(
WITH upd AS (
  UPDATE {T} SET owner = NULL, state = 'free', expires_at = clock_timestamp()
  WHERE name = $1 AND token = $2::bigint AND owner IS NOT NULL
  RETURNING name),
notified AS (SELECT pg_notify({C}, name) FROM upd)
SELECT (SELECT count(*) FROM upd), (SELECT count(*) FROM notified))sql",
                           table, channel);
  s.inspect = fill_sql(std::string("SELECT") + kColumns + " WHERE name = $1", table, channel);
  s.list = fill_sql(std::string("SELECT") + kColumns + " ORDER BY name", table, channel);
  s.create_slots = fill_sql(R"sql(
CREATE TABLE IF NOT EXISTS {T} (
  job        text NOT NULL,
  slot       timestamptz NOT NULL,    -- the scheduled fire time
  claimed_by text NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (job, slot)
))sql",
                            slots, channel);
  // Removes the job's records past the retention, and claims the slot unless it is itself past
  // it; the primary key picks the one winner among concurrent claims.
  s.claim_slot = fill_sql(R"sql(
WITH gc AS (
  DELETE FROM {T} WHERE job = $1 AND slot < clock_timestamp() - $4::bigint * interval '1 second'),
ins AS (
  INSERT INTO {T} (job, slot, claimed_by)
  SELECT $1, to_timestamp($2::bigint), $3
  WHERE to_timestamp($2::bigint) >= clock_timestamp() - $4::bigint * interval '1 second'
  ON CONFLICT (job, slot) DO NOTHING
  RETURNING claimed_by)
SELECT (SELECT count(*) FROM ins),
       COALESCE((SELECT claimed_by FROM {T} WHERE job = $1 AND slot = to_timestamp($2::bigint)),
                CASE WHEN to_timestamp($2::bigint) <
                          clock_timestamp() - $4::bigint * interval '1 second'
                     THEN '(slot older than the retention)' ELSE '' END))sql",
                          slots, channel);
  // The primary key (job, slot) serves this as one backward index step, not a scan of the job's
  // rows. Rows past the retention are left to the next claim_slot, as everywhere.
  s.last_slot = fill_sql(R"sql(
SELECT extract(epoch from slot)::bigint FROM {T} WHERE job = $1 ORDER BY slot DESC LIMIT 1)sql",
                         slots, channel);
  return s;
}

}  // namespace heartlock::detail
