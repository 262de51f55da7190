#include "pg_store.h"

#include "pg_advisory_store.h"
#include "pg_lease_store.h"

namespace heartlock::detail {

Result<std::unique_ptr<Store>> open_postgres_store(std::string_view url, StoreOptions options) {
  auto parsed = parse_pg_url(url);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  if (parsed->advisory) {
    return std::make_unique<PgAdvisoryStore>(std::move(*parsed), std::move(options));
  }
  return std::make_unique<PgLeaseStore>(std::move(*parsed), std::move(options));
}

}  // namespace heartlock::detail
