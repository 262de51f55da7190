// AdvisorySql: the statements of the PostgreSQL backend's advisory mode (pg_advisory_store.h),
// and how an advisory lock key shows in pg_locks.
#ifndef HEARTLOCK_POSTGRES_ADVISORY_SQL_H_
#define HEARTLOCK_POSTGRES_ADVISORY_SQL_H_

#include <cstdint>
#include <string>
#include <utility>

namespace heartlock::detail {

// The advisory-mode statements. pg_locks shows a bigint advisory key as classid (high 32 bits)
// and objid (low 32 bits) with objsubid 1; {K} stands for that match.
// Immutable once made; shared by the store and its leases.
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

// The statements for the lease table `table` (quoted) and NOTIFY channel `channel`.
AdvisorySql make_advisory_sql(const std::string& table, const std::string& channel);

// The pg_locks condition that the advisory lock with classid `cls` and objid `obj` (SQL
// expressions, e.g. "$2") is granted.
std::string lock_match(const std::string& cls, const std::string& obj);

// pg_locks' classid and objid of a key, as decimal text.
std::pair<std::string, std::string> lock_ids(std::int64_t key);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_ADVISORY_SQL_H_
