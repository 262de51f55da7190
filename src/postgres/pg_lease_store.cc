#include "pg_lease_store.h"

#include <algorithm>
#include <array>

#include "../core/process_identity.h"
#include "../core/slots.h"
#include "pg_ledger.h"
#include "pg_values.h"

namespace heartlock::detail {

using std::chrono::milliseconds;

static bool table_exists(const LeaseSql& sql, const std::string& table, PgConnection& c) {
  auto exists = c.exec(sql.table_exists, {table});
  return exists && !exists->empty() && exists->front()[0];
}

Result<void> create_lease_tables(const LeaseSql& sql, const PgUrl& url, PgConnection& c) {
  for (const auto& [table, create] : {std::pair{url.qualified_table(), sql.create_table},
                                      std::pair{url.qualified_slots_table(), sql.create_slots}}) {
    if (table_exists(sql, table, c)) {
      continue;
    }
    if (!sql.create_schema.empty()) {
      (void)c.exec(sql.create_schema);  // may race with another process; the table check decides
    }
    auto created = c.exec(create);
    // Two processes creating a table at once: one gets a unique violation; fine if it exists.
    if (!created && !table_exists(sql, table, c)) {
      return std::unexpected(Error{created.error().code, "cannot create the table " + table + ": " +
                                                             created.error().message});
    }
  }
  return {};
}

// Renews all due leases of a store in one statement (unnest of arrays): one round trip per tick.
// Thread-safety: as RenewBatch (one keepalive worker at a time); the client serialises its
// statements. Owned by shared_ptr: the store and its leases.
class PgRenewBatch final : public RenewBatch {
 public:
  PgRenewBatch(std::shared_ptr<PgClient> client, std::shared_ptr<const LeaseSql> sql)
      : client_(std::move(client)), sql_(std::move(sql)) {}
  std::vector<Result<std::optional<LostReason>>> renew_all(
      const std::vector<BackendLease*>& leases,
      const std::vector<BootTime>& last_heartbeats) override;

 private:
  std::shared_ptr<PgClient> client_;
  std::shared_ptr<const LeaseSql> sql_;
};

namespace {

// A lease in lease mode: the row's owner and expiry, renewed through the store's batch and
// released by one owner-fenced UPDATE on the shared client.
// Thread-safety: none needed; LeaseState serialises calls. Shares the store's client, statements
// and batch (shared_ptr), so it may outlive the store.
class PgLease final : public BackendLease {
 public:
  PgLease(std::shared_ptr<PgClient> client, std::shared_ptr<const LeaseSql> sql,
          std::shared_ptr<PgRenewBatch> batch, std::string name, std::string owner,
          milliseconds ttl)
      : client_(std::move(client)),
        sql_(std::move(sql)),
        batch_(std::move(batch)),
        name_(std::move(name)),
        owner_(std::move(owner)),
        ttl_(ttl) {}

  Result<std::optional<LostReason>> renew(BootTime last_heartbeat) override {
    std::vector<BackendLease*> one = {this};
    return std::move(batch_->renew_all(one, {last_heartbeat}).front());
  }

  Result<std::optional<LostReason>> release(std::chrono::nanoseconds hold_for) override {
    std::array<char, 24> hold{};
    const char* const params[] = {
        name_.c_str(), owner_.c_str(),
        pg_decimal(hold, std::chrono::ceil<milliseconds>(hold_for).count())};
    auto rows = client_->exec(sql_->release, params);
    if (!rows) {
      return std::unexpected(rows.error());
    }
    if (rows->empty() || to_ll(rows->front()[0]) == 1) {
      return std::optional<LostReason>();
    }
    return std::optional<LostReason>(is_true(rows->front()[2]) ? LostReason::expired
                                                               : LostReason::taken_over);
  }

  RenewBatch* batch() override { return batch_.get(); }

  // watch_fd() stays -1: the lease is the row, timed on the database's clock, not a session. The
  // connection it is renewed on is the store's one, shared by every lease and statement; when it
  // ends nothing is lost (the next renewal reconnects and finds the row still ours), so there is
  // no event worth a renewal before its time.

  const std::string& name() const { return name_; }
  const std::string& owner() const { return owner_; }
  milliseconds ttl() const { return ttl_; }

 private:
  std::shared_ptr<PgClient> client_;
  std::shared_ptr<const LeaseSql> sql_;
  std::shared_ptr<PgRenewBatch> batch_;
  std::string name_;
  std::string owner_;
  milliseconds ttl_;
};

}  // namespace

std::vector<Result<std::optional<LostReason>>> PgRenewBatch::renew_all(
    const std::vector<BackendLease*>& leases, const std::vector<BootTime>& last_heartbeats) {
  std::vector<std::string> names;
  std::vector<std::string> owners;
  std::vector<std::string> ttls;
  std::vector<std::string> ages;
  const BootTime now = boot_now();
  for (std::size_t i = 0; i < leases.size(); ++i) {
    auto* lease = static_cast<PgLease*>(leases[i]);
    names.push_back(lease->name());
    owners.push_back(lease->owner());
    ttls.push_back(std::to_string(lease->ttl().count()));
    ages.push_back(std::to_string(std::max<long long>(
        0, std::chrono::duration_cast<milliseconds>(now - last_heartbeats[i]).count())));
  }
  auto rows = client_->exec(sql_->renew, {pg_text_array(names), pg_text_array(owners),
                                          pg_text_array(ttls), pg_text_array(ages)});
  std::vector<Result<std::optional<LostReason>>> out;
  out.reserve(leases.size());
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (!rows) {
      out.push_back(std::unexpected(rows.error()));
      continue;
    }
    // One row per request, in order (unnest keeps it); match by name all the same.
    const PgRow* row = nullptr;
    if (i < rows->size() && (*rows)[i][0] == names[i]) {
      row = &(*rows)[i];
    }
    if (row == nullptr) {
      out.push_back(fail(Errc::internal, "postgres: renewal answered no row for " + names[i]));
    } else if (is_true((*row)[1])) {
      out.push_back(std::optional<LostReason>());
    } else {
      out.push_back(std::optional<LostReason>(is_true((*row)[2]) ? LostReason::expired
                                                                 : LostReason::taken_over));
    }
  }
  return out;
}

LockInfo describe_pg_row(const PgRow& r, std::string location) {
  LockInfo info;
  info.name = r[0].value_or("");
  info.location = std::move(location);
  const long long token = to_ll(r[2]);
  if (!r[1]) {
    info.state = LockState::free;
    info.holder = Holder{.token = static_cast<std::uint64_t>(token)};
    info.detail = "free (last token " + std::to_string(token) + ")";
    return info;
  }
  Holder h;
  h.owner = *r[1];
  h.token = static_cast<std::uint64_t>(token);
  h.host = r[4].value_or("");
  h.pid = to_ll(r[5]);
  h.command = r[6].value_or("");
  if (r[7]) {
    h.slot = std::chrono::sys_seconds(std::chrono::seconds(to_ll(r[7])));
  }
  h.ttl = milliseconds(to_ll(r[8]));
  h.stale_after = milliseconds(to_ll(r[9]));
  h.since = std::chrono::system_clock::time_point(milliseconds(to_ll(r[10])));
  h.renew_age = milliseconds(to_ll(r[11]));
  h.heartbeat_age = milliseconds(to_ll(r[12]));
  const long long expires_in = to_ll(r[13]);
  info.holder = h;
  const std::string who = "pid " + std::to_string(h.pid) + " on " + h.host;
  if (r[3] == "released") {
    if (expires_in > 0) {
      info.state = LockState::held;
      info.min_hold_left = milliseconds(expires_in);
      info.detail = "released, but min_hold keeps it for " + std::to_string(expires_in) + "ms";
    } else {
      info.state = LockState::free;
      info.detail = "free (released by " + who + ")";
    }
  } else if (expires_in <= 0) {
    info.state = LockState::expired;
    info.detail = "holder " + who + " did not renew; its lease ran out " +
                  std::to_string(-expires_in) + "ms ago";
  } else if (h.stale_after.count() > 0 && *h.heartbeat_age >= h.stale_after) {
    info.state = LockState::deadlocked;
    info.detail = "holder " + who + " has not heartbeat for " +
                  std::to_string(h.heartbeat_age->count()) + "ms";
  } else {
    info.state = LockState::held;
    info.detail = "held by " + who;
  }
  return info;
}

PgLeaseStore::PgLeaseStore(PgUrl url, StoreOptions options)
    : LeasingStore(std::move(options)),
      sql_(std::make_shared<LeaseSql>(
          make_lease_sql(url.qualified_table(), url.qualified_slots_table(),
                         url.schema.empty() ? "" : quote_ident(url.schema), url.channel()))) {
  auto sql = sql_;
  auto setup = [sql, url](PgConnection& c) { return create_lease_tables(*sql, url, c); };
  client_ = std::make_shared<PgClient>(std::move(url), setup);
  ledger_ = std::make_unique<PgLedger>(client_, client_->url());
  batch_ = std::make_shared<PgRenewBatch>(client_, sql_);
  location_head_ = client_->url().redacted + " " + client_->url().qualified_table() + " name=";
}

PgLeaseStore::~PgLeaseStore() { stop_keepalive(); }

std::string PgLeaseStore::location(std::string_view name) const {
  std::string out;
  out.reserve(location_head_.size() + name.size());
  return out.append(location_head_).append(name);
}

Result<Attempt> PgLeaseStore::claim(const ClaimRequest& request) {
  ProcessIdentity self = self_identity();
  const auto& o = request.options;
  const std::string name(request.name);  // NUL-terminated
  std::array<char, 24> ttl{};
  std::array<char, 24> pid{};
  std::array<char, 24> stale{};
  std::array<char, 24> slot{};
  const char* const params[] = {
      name.c_str(),
      request.owner.c_str(),
      pg_decimal(ttl, o.ttl.count()),
      self.host.c_str(),
      pg_decimal(pid, self.pid),
      o.command.c_str(),
      pg_decimal(stale, o.stale_after.count()),
      o.slot ? pg_decimal(slot, o.slot->time_since_epoch().count()) : nullptr};
  // The lease's deadline counts from before the statement was sent: the server's expiry was set
  // no earlier than that (see Lease::valid_until).
  const BootTime sent = boot_now();
  auto rows = client_->exec(sql_->acquire, params);
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (!rows->empty()) {
    return Attempt(Claim{
        .lease = std::make_unique<PgLease>(client_, sql_, batch_, name, request.owner, o.ttl),
        .token = static_cast<std::uint64_t>(to_ll(rows->front()[0])),
        .location = location(request.name),
        .acquired_at = sent,
    });
  }
  auto info = inspect(request.name);
  if (!info) {
    return std::unexpected(info.error());
  }
  return Attempt(std::move(*info));
}

namespace {

// See pg_release_waiter(). An expired lease notifies nobody: next_look() times that.
class PgReleaseWaiter final : public PushWaiter {
 public:
  PgReleaseWaiter(PgClient& client, std::string channel)
      : client_(client), channel_(std::move(channel)) {}

 private:
  bool connected() const override { return listener_ && !listener_->broken(); }
  void disconnect() override { listener_.reset(); }
  int socket() const override { return listener_->socket(); }

  Result<void> connect() override {
    auto c = client_.connect_new();
    if (!c) {
      return std::unexpected(c.error());
    }
    if ((*c)->exec("LISTEN " + quote_ident(channel_))) {
      listener_ = std::move(*c);
    }
    return {};
  }

  // Never blocks: the socket was polled.
  Result<bool> read_message(milliseconds /*timeout*/) override {
    return listener_->read_notifications();
  }

  PgClient& client_;
  std::string channel_;
  std::unique_ptr<PgConnection> listener_;
};

}  // namespace

std::unique_ptr<ReleaseWaiter> pg_release_waiter(PgClient& client, std::string channel) {
  return std::make_unique<PgReleaseWaiter>(client, std::move(channel));
}

std::unique_ptr<ReleaseWaiter> PgLeaseStore::release_waiter(std::string_view /*name*/) {
  return pg_release_waiter(*client_, sql_->channel);
}

Result<LockInfo> PgLeaseStore::inspect_lock(std::string_view name) {
  auto rows = client_->exec(sql_->inspect, {std::string(name)});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (rows->empty()) {
    LockInfo info{.name = std::string(name), .location = location(name), .detail = "free"};
    return info;
  }
  return describe_pg_row(rows->front(), location(name));
}

Result<std::vector<LockInfo>> PgLeaseStore::list() {
  auto rows = client_->exec(sql_->list);
  if (!rows) {
    return std::unexpected(rows.error());
  }
  std::vector<LockInfo> out;
  for (const auto& row : *rows) {
    out.push_back(describe_pg_row(row, location(row[0].value_or(""))));
  }
  return out;
}

Result<void> PgLeaseStore::break_lock(std::string_view name, std::uint64_t token) {
  auto rows = client_->exec(sql_->break_lease, {std::string(name), std::to_string(token)});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (rows->empty() || to_ll(rows->front()[0]) != 1) {
    return fail(Errc::not_owner, "lock " + std::string(name) + " is no longer lease " +
                                     std::to_string(token) + "; nothing changed");
  }
  return {};
}

Result<SlotClaim> claim_pg_slot(PgClient& client, const LeaseSql& sql, std::string_view job,
                                std::chrono::sys_seconds slot, std::chrono::seconds retention) {
  if (auto ok = check_slot_request(job, retention); !ok) {
    return std::unexpected(ok.error());
  }
  const std::string me = slot_claimant();
  auto rows = client.exec(sql.claim_slot,
                          {std::string(job), std::to_string(slot.time_since_epoch().count()), me,
                           std::to_string(retention.count())});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (rows->empty()) {
    return fail(Errc::internal, "postgres: the slot claim answered no row");
  }
  const bool won = to_ll(rows->front()[0]) == 1;
  return SlotClaim{.won = won, .claimed_by = won ? me : rows->front()[1].value_or("")};
}

Result<SlotClaim> PgLeaseStore::claim_slot(std::string_view job, std::chrono::sys_seconds slot,
                                           std::chrono::seconds retention) {
  return claim_pg_slot(*client_, *sql_, job, slot, retention);
}

Result<std::optional<std::chrono::sys_seconds>> last_pg_slot(PgClient& client, const LeaseSql& sql,
                                                             std::string_view job) {
  if (auto ok = validate_name(job); !ok) {
    return std::unexpected(ok.error());
  }
  auto rows = client.exec(sql.last_slot, {std::string(job)});
  if (!rows) {
    return std::unexpected(rows.error());
  }
  if (rows->empty() || !rows->front()[0]) {
    return std::optional<std::chrono::sys_seconds>();
  }
  return std::optional(std::chrono::sys_seconds(std::chrono::seconds(to_ll(rows->front()[0]))));
}

Result<std::optional<std::chrono::sys_seconds>> PgLeaseStore::last_slot(std::string_view job) {
  return last_pg_slot(*client_, *sql_, job);
}

Result<void> PgLeaseStore::put_run_record(std::string_view job, std::chrono::sys_seconds slot,
                                          std::string_view data, std::chrono::seconds retention) {
  return ledger_->put(job, slot, data, retention);
}

Result<std::vector<RunRecordText>> PgLeaseStore::run_records(std::string_view job,
                                                             std::size_t limit) {
  return ledger_->records(job, limit);
}

}  // namespace heartlock::detail
