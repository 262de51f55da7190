// The etcd backend opened short_lived (StoreOptions, as `heartlock run` opens it): release revokes
// the lease instead of deleting the key and keeping the lease as a spare. The guarantees must be
// those of an ordinary store: the lock is free at once, tokens keep increasing, a newer holder's
// key is never touched, and a key deleted under its holder is reported lost on release. What
// changes is the cost, counted here in raft writes from etcd's own /metrics. (The store contract
// suite runs in this mode too: tests/contract/store_contract_test.cc.)
#include <unistd.h>

#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/etcd/etcd_client.h"
#include "../../src/etcd/etcd_lease.h"
#include "../support/etcd_server.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using testing::HasErrc;
using testing::IsAcquired;
using testing::IsOk;
using namespace std::chrono_literals;

std::unique_ptr<Store> open_with(const std::string& url, bool short_lived) {
  auto store = Store::open(url, StoreOptions{.short_lived = short_lived});
  EXPECT_TRUE(store.has_value()) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

std::unique_ptr<Store> open_short_lived(const std::string& url) { return open_with(url, true); }

detail::EtcdClient raw_client(const testing::EtcdServer& server) {
  auto url = detail::parse_etcd_url(server.url());
  EXPECT_TRUE(url.has_value());
  return detail::EtcdClient(std::move(*url));
}

// The etcd lease the lock `name` (default prefix) is attached to, 0 if none.
long long lease_of(detail::EtcdClient& client, const std::string& name) {
  auto r = client.call("kv/range", {{"key", detail::base64_encode("heartlock/lock/" + name)}});
  EXPECT_TRUE(r.has_value());
  if (!r || !r->contains("kvs") || (*r)["kvs"].empty()) {
    return 0;
  }
  return detail::json_int((*r)["kvs"][0], "lease");
}

// The TTL etcd reports for `lease`: -1 once it is revoked or expired.
long long lease_ttl(detail::EtcdClient& client, long long lease) {
  auto r = client.call("lease/timetolive", {{"ID", std::to_string(lease)}});
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r ? detail::json_int(*r, "TTL") : 0;
}

// etcd's count of committed raft proposals (its /metrics), -1 if it cannot be read.
long long proposals_committed(int port) {
  const int fd = testing::connect_loopback(port);
  if (fd < 0) {
    return -1;
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  std::string answer;
  char buf[8192];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::istringstream lines(answer);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("etcd_server_proposals_committed_total ")) {
      return std::stoll(line.substr(line.find(' ') + 1));
    }
  }
  return -1;
}

// The proposal count once it stands still for a while: what etcd proposes of its own after
// starting (publishing its member, the cluster version) is over.
long long quiet_proposals(const testing::EtcdServer& server) {
  long long before = proposals_committed(server.port());
  for (int stable = 0, tries = 0; stable < 5 && tries < 100; ++tries) {
    std::this_thread::sleep_for(100ms);
    const long long now = proposals_committed(server.port());
    stable = now == before ? stable + 1 : 0;
    before = now;
  }
  return before;
}

// How many leases the server has, alive ones only (revoked and expired ones are not listed).
std::size_t leases_alive(detail::EtcdClient& client) {
  auto r = client.call("lease/leases", nlohmann::json::object());
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r && r->contains("leases") ? (*r)["leases"].size() : 0;
}

// The raft writes of one acquire, release and close of a store, on a server nobody else uses.
long long writes_per_run(const testing::EtcdServer& server, bool short_lived) {
  const long long before = quiet_proposals(server);
  {
    auto store = open_with(server.url(), short_lived);
    auto held = store->try_acquire("writes", {.ttl = 30s});
    EXPECT_THAT(held, IsAcquired());
    if (held && held->acquired()) {
      EXPECT_THAT(held->lease().release(), IsOk());
    }
  }
  return proposals_committed(server.port()) - before;
}

TEST(EtcdShortLivedTest, ReleaseFreesTheLockAndTokensKeepIncreasing) {
  auto& server = testing::shared_etcd();
  auto store = open_short_lived(server.url());
  auto first = store->try_acquire("short-lived-free", {});
  ASSERT_THAT(first, IsAcquired());
  EXPECT_THAT(first->lease().release(), IsOk());
  // The same store again (no spare to take), then another one.
  auto second = store->try_acquire("short-lived-free", {});
  ASSERT_THAT(second, IsAcquired());
  EXPECT_GT(second->lease().token(), first->lease().token());
  EXPECT_THAT(second->lease().release(), IsOk());
  auto other = testing::open_store(server.url());
  auto third = other->try_acquire("short-lived-free", {});
  ASSERT_THAT(third, IsAcquired());
  EXPECT_GT(third->lease().token(), second->lease().token());
  EXPECT_THAT(third->lease().release(), IsOk());
}

TEST(EtcdShortLivedTest, AKeyDeletedUnderItsHolderIsLostAndTheNewHolderKeepsIt) {
  auto& server = testing::shared_etcd();
  auto store = open_short_lived(server.url());
  auto held = store->try_acquire("short-lived-deleted", {});
  ASSERT_THAT(held, IsAcquired());
  // Deleted behind the holder's back, its lease left alive (`etcdctl del`, or a forced release
  // whose revoke has not landed yet), and taken by someone else.
  auto client = raw_client(server);
  const long long old_lease = lease_of(client, "short-lived-deleted");
  ASSERT_NE(old_lease, 0);
  ASSERT_TRUE(client
                  .call("kv/deleterange",
                        {{"key", detail::base64_encode("heartlock/lock/short-lived-deleted")}})
                  .has_value());
  auto other = testing::open_store(server.url());
  auto next = other->try_acquire("short-lived-deleted", {});
  ASSERT_THAT(next, IsAcquired());
  const long long new_lease = lease_of(client, "short-lived-deleted");
  ASSERT_NE(new_lease, old_lease);
  EXPECT_THAT(held->lease().release(), HasErrc(Errc::lost));
  EXPECT_EQ(held->lease().lost_reason(), LostReason::taken_over);
  // The old holder's lease is revoked all the same (it holds nothing of the new holder's), so
  // it does not outlive the run; the new holder's lease is untouched.
  EXPECT_EQ(lease_ttl(client, old_lease), -1);
  EXPECT_GT(lease_ttl(client, new_lease), 0);
  auto info = other->inspect("short-lived-deleted");
  ASSERT_TRUE(info.has_value());
  ASSERT_TRUE(info->holder.has_value());
  EXPECT_EQ(info->holder->token, next->lease().token());
  EXPECT_THAT(next->lease().release(), IsOk());
}

TEST(EtcdShortLivedTest, ABrokenLeaseIsLostOnRelease) {
  auto& server = testing::shared_etcd();
  auto store = open_short_lived(server.url());
  auto held = store->try_acquire("short-lived-broken", {});
  ASSERT_THAT(held, IsAcquired());
  auto other = testing::open_store(server.url());
  ASSERT_THAT(other->break_lease("short-lived-broken", held->lease().token()), IsOk());
  EXPECT_THAT(held->lease().release(), HasErrc(Errc::lost));
}

TEST(EtcdShortLivedTest, ReleaseRevokesTheLeaseItself) {
  auto& server = testing::shared_etcd();
  auto client = raw_client(server);
  // Short-lived: after release the lease is gone, not kept as a spare.
  auto store = open_short_lived(server.url());
  auto held = store->try_acquire("short-lived-revoked", {.ttl = 30s});
  ASSERT_THAT(held, IsAcquired());
  const long long lease = lease_of(client, "short-lived-revoked");
  ASSERT_NE(lease, 0);
  EXPECT_GT(lease_ttl(client, lease), 0);
  EXPECT_THAT(held->lease().release(), IsOk());
  EXPECT_EQ(lease_of(client, "short-lived-revoked"), 0);  // the key went with it
  EXPECT_EQ(lease_ttl(client, lease), -1);
  // The default: the key is deleted and the lease lives on as a spare until the store closes.
  long long spare = 0;
  {
    auto keeping = open_with(server.url(), false);
    auto kept = keeping->try_acquire("short-lived-kept", {.ttl = 30s});
    ASSERT_THAT(kept, IsAcquired());
    spare = lease_of(client, "short-lived-kept");
    ASSERT_NE(spare, 0);
    EXPECT_THAT(kept->lease().release(), IsOk());
    EXPECT_EQ(lease_of(client, "short-lived-kept"), 0);
    EXPECT_GT(lease_ttl(client, spare), 0);
  }
  EXPECT_EQ(lease_ttl(client, spare), -1);
}

TEST(EtcdShortLivedTest, AcquireReleaseCloseIsThreeWritesNotFour) {
  // A server of its own: nothing else proposes while counting.
  testing::EtcdServer server;
  ASSERT_GE(proposals_committed(server.port()), 0) << "no etcd_server_proposals_committed_total";
  // lease/grant, the put txn, lease/revoke (the read before it is no proposal).
  EXPECT_EQ(writes_per_run(server, true), 3);
  // lease/grant, the put txn, the delete txn, and the spare's lease/revoke at close.
  EXPECT_EQ(writes_per_run(server, false), 4);
}

// `heartlock run` acquires once and exits: it opens its store short_lived, so its release is the
// lease's revoke. Opened otherwise, the release would delete the key (a fourth write) and keep
// the lease as a spare until the store closed at exit.
TEST(EtcdShortLivedTest, HeartlockRunReleasesByRevokeInThreeWrites) {
  testing::EtcdServer server;
  auto client = raw_client(server);
  ASSERT_EQ(leases_alive(client), 0u);
  const long long before = quiet_proposals(server);
  ASSERT_GE(before, 0) << "no etcd_server_proposals_committed_total";
  auto r = testing::run_command({testing::heartlock_binary(), "run", "-b", server.url(), "-n", "-k",
                                 "cli-run", "--", "sh", "-c", "echo ran"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_EQ(proposals_committed(server.port()) - before, 3)
      << "lease/grant, the put txn, lease/revoke";
  EXPECT_EQ(leases_alive(client), 0u);
  EXPECT_EQ(lease_of(client, "cli-run"), 0);
}

// A release's outcome as text: "released", "lost REASON" or "error CODE".
std::string outcome(const Result<std::optional<LostReason>>& r) {
  if (!r) {
    return "error " + std::string(to_string(r.error().code));
  }
  return r->has_value() ? "lost " + std::string(to_string(**r)) : "released";
}

// The outcome of a release by revoke, for each answer of the check and of the revoke.
TEST(EtcdShortLivedTest, RevokeReleaseOutcome) {
  const Error down{Errc::unavailable, "etcd 127.0.0.1:1: connection refused"};
  const Error gone{Errc::invalid_argument,
                   "etcd 127.0.0.1:1: etcdserver: requested lease not found"};
  const Error other{Errc::invalid_argument, "etcd 127.0.0.1:1: something else"};
  int asked = 0;
  auto why = [&] {
    ++asked;
    return LostReason::taken_over;
  };
  using detail::revoke_release_outcome;
  const Result<bool> ours = true;
  const Result<bool> not_ours = false;
  const Result<bool> unknown = std::unexpected(down);
  const Result<void> revoked;
  // Ours, revoked: released. Ours and the lease already gone (a retried revoke, or it expired
  // after the check): released too, not lost.
  EXPECT_EQ(outcome(revoke_release_outcome(ours, revoked, why)), "released");
  EXPECT_EQ(outcome(revoke_release_outcome(ours, std::unexpected(gone), why)), "released");
  // Ours, but the revoke failed otherwise: its error.
  EXPECT_THAT(revoke_release_outcome(ours, std::unexpected(down), why), HasErrc(Errc::unavailable));
  EXPECT_THAT(revoke_release_outcome(ours, std::unexpected(other), why),
              HasErrc(Errc::invalid_argument));
  EXPECT_EQ(asked, 0);
  // Not ours: lost, whatever the revoke answered.
  for (const Result<void>& r :
       {revoked, Result<void>(std::unexpected(gone)), Result<void>(std::unexpected(down))}) {
    EXPECT_EQ(outcome(revoke_release_outcome(not_ours, r, why)), "lost taken_over");
  }
  EXPECT_EQ(asked, 3);
  // The check failed: its error, whatever the revoke answered.
  EXPECT_THAT(revoke_release_outcome(unknown, revoked, why), HasErrc(Errc::unavailable));
  EXPECT_THAT(revoke_release_outcome(unknown, std::unexpected(gone), why),
              HasErrc(Errc::unavailable));
  EXPECT_EQ(asked, 3);
  EXPECT_TRUE(detail::is_lease_not_found(gone));
  EXPECT_FALSE(detail::is_lease_not_found(other));
  EXPECT_FALSE(detail::is_lease_not_found(down));
}

}  // namespace
}  // namespace heartlock
