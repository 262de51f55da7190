// The PostgreSQL backend: postgres:// and postgresql:// URLs (see pg_url.h).
//
// Lease mode (default): one row per lock name in a table created on first use; the lease is the
// row's owner and expires_at, all on the database clock; the fencing token is the row's counter,
// incremented by the statement that takes the lock, so it strictly increases per name for as long
// as the row exists (rows are never deleted). Waiters LISTEN and are woken by the NOTIFY a release
// sends. Advisory mode (?mode=advisory): see pg_advisory_store.h.
#ifndef HEARTLOCK_POSTGRES_PG_STORE_H_
#define HEARTLOCK_POSTGRES_PG_STORE_H_

#include <memory>
#include <string_view>

#include "heartlock/store.h"

namespace heartlock::detail {

// Errc::invalid_argument for a bad URL. Connects lazily: an unreachable server is reported by the
// first operation, as unavailable.
Result<std::unique_ptr<Store>> open_postgres_store(std::string_view url, StoreOptions options);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_STORE_H_
