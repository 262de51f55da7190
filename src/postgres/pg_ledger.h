// PgLedger: the run ledger (Store::put_run_record, Store::run_records) of both PostgreSQL modes,
// in the table <table>_runs beside the slots table:
//
//   job        text COLLATE "C"   -- byte order, as every backend sorts job names
//   slot       timestamptz        -- the scheduled fire time
//   data       bytea              -- the caller's text, kept byte for byte (any encoding)
//   expires_at timestamptz        -- slot + retention, on the database's clock
//   written_at timestamptz
//   PRIMARY KEY (job, slot)       -- one job's entries, newest first: a backward index scan
//   UNIQUE (slot, job)            -- every job's: a backward scan, sorted by job within a slot
//
// The table is created on the ledger's first use, not with the lease tables, so that a store
// whose role may not create tables keeps working as before for everything but the ledger.
#ifndef HEARTLOCK_POSTGRES_PG_LEDGER_H_
#define HEARTLOCK_POSTGRES_PG_LEDGER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/store.h"

#include "pg_client.h"

namespace heartlock::detail {

// The ledger's statements for one table (pg_ledger.cc says what each does and why).
struct LedgerSql {
  std::string table;         // quoted, possibly schema-qualified
  std::string create;        // IF NOT EXISTS
  std::string put;           // $1 job, $2 slot (epoch s), $3 data (hex), $4 retention (s)
  std::string of_job;        // $1 job, $2 limit: job, slot (epoch s), data (hex)
  std::string of_every_job;  // $1 limit: as of_job
};
LedgerSql make_ledger_sql(const std::string& runs_table);

// Thread-safety: all methods may be called concurrently (the client serialises statements).
// Shares the store's client.
class PgLedger {
 public:
  PgLedger(std::shared_ptr<PgClient> client, const PgUrl& url);

  // As Store::put_run_record / Store::run_records.
  Result<void> put(std::string_view job, std::chrono::sys_seconds slot, std::string_view data,
                   std::chrono::seconds retention);
  Result<std::vector<RunRecordText>> records(std::string_view job, std::size_t limit);

 private:
  // Creates the table unless it exists (once per store; tolerates a concurrent creator).
  Result<void> ensure_table();

  const std::shared_ptr<PgClient> client_;
  const LedgerSql sql_;
  std::atomic<bool> ready_{false};  // the table is known to exist
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_LEDGER_H_
