// The statements of the PostgreSQL lease mode, for one table. Every time they compare or store is
// the database's clock_timestamp(), never the client's; every mutation is one statement, so the
// check and the change are one atomic step (and, under READ COMMITTED, INSERT ... ON CONFLICT DO
// UPDATE ... WHERE re-checks the condition on the newest row version).
#ifndef HEARTLOCK_POSTGRES_LEASE_SQL_H_
#define HEARTLOCK_POSTGRES_LEASE_SQL_H_

#include <string>
#include <string_view>

namespace heartlock::detail {

struct LeaseSql {
  std::string create_schema;  // IF NOT EXISTS; empty for the search path's schema
  std::string create_table;   // IF NOT EXISTS
  std::string table_exists;   // $1: the qualified name; one row, non-NULL if it exists
  // $1 name, $2 owner, $3 ttl_ms, $4 host, $5 pid, $6 command, $7 stale_after_ms, $8 slot (epoch
  // s or NULL). One row (token) when taken; none when held by a live, renewing holder.
  std::string acquire;
  // $1 names, $2 owners, $3 ttl_ms, $4 heartbeat ages in ms (arrays). Per name: renewed (bool),
  // freed (bool: the row has no owner any more).
  std::string renew;
  // $1 name, $2 owner, $3 hold_ms. One row: released (count), freed (bool).
  std::string release;
  // $1 name, $2 token. One row: ended (count).
  std::string break_lease;
  // Columns of the state of one lock (inspect: WHERE name = $1) or of all (list).
  std::string inspect;
  std::string list;
  std::string channel;  // LISTEN/NOTIFY channel (a short identifier derived from the table)
  // The slots table (the lease table's name + "_slots") and Store::claim_slot: $1 job, $2 slot
  // (epoch s), $3 claimant, $4 retention (s). One row: won (count), first claimant.
  std::string slots_exists;  // $1: unused; one row, non-NULL if the slots table exists
  std::string create_slots;
  std::string claim_slot;
  // Store::last_slot: $1 job. One row (the latest slot, epoch s) or none.
  std::string last_slot;
};

// Replaces {T} with `table` and {C} with the quoted `channel` in a statement template.
std::string fill_sql(std::string_view sql, const std::string& table, const std::string& channel);

// The columns LeaseSql::inspect selects (14, in describe_pg_row's order), without FROM.
std::string lease_columns();

// `table` and `slots`: the quoted, possibly schema-qualified tables; `slots_name`: the latter
// unquoted (for to_regclass); `schema`: the quoted schema or empty; `channel`: a plain identifier.
LeaseSql make_lease_sql(const std::string& table, const std::string& slots,
                        const std::string& schema, const std::string& channel);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_LEASE_SQL_H_
