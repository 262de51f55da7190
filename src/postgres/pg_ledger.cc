#include "pg_ledger.h"

#include <algorithm>
#include <limits>

#include "../core/ledger_rules.h"
#include "lease_sql.h"
#include "pg_values.h"

namespace heartlock::detail {
namespace {

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

// What encode(data, 'hex') returned, as bytes; nullopt for text that is not hex.
std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]);
    const int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

LedgerSql make_ledger_sql(const std::string& runs_table) {
  LedgerSql s;
  s.table = runs_table;
  s.create = fill_sql(R"sql(
CREATE TABLE IF NOT EXISTS {T} (
  job        text COLLATE "C" NOT NULL,
  slot       timestamptz NOT NULL,
  data       bytea NOT NULL,
  expires_at timestamptz NOT NULL,
  written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (job, slot),
  UNIQUE (slot, job)
))sql",
                      runs_table, "");
  // One statement: write (or replace) the entry, and remove expired ones -- the job's (up to 64,
  // oldest first, through the primary key) and, so that jobs nobody writes any more go too, any
  // among the 16 oldest entries of the table (through the (slot, job) index): bounded work per
  // write. The entry itself is never both written and removed (one statement may not change a
  // row twice): a slot already past its retention is removed instead of written.
  s.put = fill_sql(R"sql(
WITH arg AS (
  SELECT $1::text COLLATE "C" AS job, to_timestamp($2::bigint) AS slot,
         to_timestamp($2::bigint) + $4::bigint * interval '1 second' AS expires_at,
         clock_timestamp() AS now),
old AS (
  (SELECT t.job, t.slot FROM {T} t, arg
   WHERE t.job = arg.job AND t.expires_at <= arg.now ORDER BY t.slot LIMIT 64)
  UNION
  (SELECT t.job, t.slot FROM {T} t ORDER BY t.slot LIMIT 16)),
gc AS (
  DELETE FROM {T} t USING old, arg
  WHERE t.job = old.job AND t.slot = old.slot AND t.expires_at <= arg.now
    AND NOT (t.job = arg.job AND t.slot = arg.slot)),
dropped AS (
  DELETE FROM {T} t USING arg
  WHERE t.job = arg.job AND t.slot = arg.slot AND arg.expires_at <= arg.now),
put AS (
  INSERT INTO {T} (job, slot, data, expires_at)
  SELECT job, slot, decode($3, 'hex'), expires_at FROM arg WHERE expires_at > now
  ON CONFLICT (job, slot) DO UPDATE SET
    data = excluded.data, expires_at = excluded.expires_at, written_at = clock_timestamp())
SELECT 1)sql",
                   runs_table, "");
  // Entries past their retention are not reported, whether or not a write has removed them yet.
  s.of_job = fill_sql(R"sql(
SELECT job, extract(epoch from slot)::bigint, encode(data, 'hex') FROM {T}
WHERE job = $1 AND expires_at > clock_timestamp() ORDER BY slot DESC LIMIT $2::bigint)sql",
                      runs_table, "");
  s.of_every_job = fill_sql(R"sql(
SELECT job, extract(epoch from slot)::bigint, encode(data, 'hex') FROM {T}
WHERE expires_at > clock_timestamp() ORDER BY slot DESC, job LIMIT $1::bigint)sql",
                            runs_table, "");
  return s;
}

PgLedger::PgLedger(std::shared_ptr<PgClient> client, const PgUrl& url)
    : client_(std::move(client)), sql_(make_ledger_sql(url.qualified_runs_table())) {}

Result<void> PgLedger::ensure_table() {
  if (ready_.load()) {
    return {};
  }
  auto exists = [&] {
    auto r = client_->exec("SELECT to_regclass($1)", {sql_.table});
    return r && !r->empty() && r->front()[0];
  };
  if (!exists()) {
    auto created = client_->exec(sql_.create);
    // Two processes creating the table at once: one gets a unique violation; fine if it exists.
    if (!created && !exists()) {
      return std::unexpected(Error{created.error().code, "cannot create the table " + sql_.table +
                                                             ": " + created.error().message});
    }
  }
  ready_.store(true);
  return {};
}

Result<void> PgLedger::put(std::string_view job, std::chrono::sys_seconds slot,
                           std::string_view data, std::chrono::seconds retention) {
  if (auto ok = check_run_record(job, retention, data); !ok) {
    return ok;
  }
  if (auto ok = ensure_table(); !ok) {
    return ok;
  }
  auto rows =
      client_->exec(sql_.put, {std::string(job), std::to_string(slot.time_since_epoch().count()),
                               to_hex(data), std::to_string(retention.count())});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  return {};
}

Result<std::vector<RunRecordText>> PgLedger::records(std::string_view job, std::size_t limit) {
  if (auto ok = check_run_query(job); !ok) {
    return std::unexpected(ok.error());
  }
  if (limit == 0) {
    return std::vector<RunRecordText>();
  }
  if (auto ok = ensure_table(); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string n = std::to_string(std::min<std::size_t>(
      limit, static_cast<std::size_t>(std::numeric_limits<long long>::max())));
  auto rows = job.empty() ? client_->exec(sql_.of_every_job, {n})
                          : client_->exec(sql_.of_job, {std::string(job), n});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  std::vector<RunRecordText> out;
  out.reserve(rows->size());
  for (const PgRow& row : *rows) {
    auto data = row.size() == 3 && row[0] && row[2] ? from_hex(*row[2]) : std::nullopt;
    if (!data) {
      return fail(Errc::internal, "postgres " + client_->url().redacted + " " + sql_.table +
                                      ": a run record that is not (job, slot, hex data)");
    }
    out.push_back(
        RunRecordText{.job = *row[0],
                      .slot = std::chrono::sys_seconds(std::chrono::seconds(to_ll(row[1]))),
                      .data = std::move(*data)});
  }
  // The database sorted already; sorting again costs little and makes the order the same on every
  // backend whatever the planner chose.
  order_run_records(out, limit);
  return out;
}

}  // namespace heartlock::detail
