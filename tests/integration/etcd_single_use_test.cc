// The etcd backend opened single_use (StoreOptions, as `heartlock run` opens it): release revokes
// the lease instead of deleting the key and keeping the lease as a spare. The guarantees must be
// those of an ordinary store: the lock is free at once, tokens keep increasing, a newer holder's
// key is never touched, and a key deleted under its holder is reported lost on release.
#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/etcd/etcd_client.h"
#include "../support/etcd_server.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using testing::HasErrc;
using testing::IsAcquired;
using testing::IsOk;

std::unique_ptr<Store> open_single_use(const std::string& url) {
  auto store = Store::open(url, StoreOptions{.single_use = true});
  EXPECT_TRUE(store.has_value()) << store.error().message;
  return store ? std::move(*store) : nullptr;
}

TEST(EtcdSingleUseTest, ReleaseFreesTheLockAndTokensKeepIncreasing) {
  auto& server = testing::shared_etcd();
  auto store = open_single_use(server.url());
  auto first = store->try_acquire("single-use-free", {});
  ASSERT_THAT(first, IsAcquired());
  EXPECT_THAT(first->lease().release(), IsOk());
  // The same store again (no spare to take), then another one.
  auto second = store->try_acquire("single-use-free", {});
  ASSERT_THAT(second, IsAcquired());
  EXPECT_GT(second->lease().token(), first->lease().token());
  EXPECT_THAT(second->lease().release(), IsOk());
  auto other = testing::open_store(server.url());
  auto third = other->try_acquire("single-use-free", {});
  ASSERT_THAT(third, IsAcquired());
  EXPECT_GT(third->lease().token(), second->lease().token());
  EXPECT_THAT(third->lease().release(), IsOk());
}

TEST(EtcdSingleUseTest, AKeyDeletedUnderItsHolderIsLostAndTheNewHolderKeepsIt) {
  auto& server = testing::shared_etcd();
  auto store = open_single_use(server.url());
  auto held = store->try_acquire("single-use-deleted", {});
  ASSERT_THAT(held, IsAcquired());
  // Deleted behind the holder's back, its lease left alive (`etcdctl del`, or a forced release
  // whose revoke has not landed yet), and taken by someone else.
  auto url = detail::parse_etcd_url(server.url());
  ASSERT_TRUE(url.has_value());
  detail::EtcdClient client(std::move(*url));
  ASSERT_TRUE(client
                  .call("kv/deleterange",
                        {{"key", detail::base64_encode("heartlock/lock/single-use-deleted")}})
                  .has_value());
  auto other = testing::open_store(server.url());
  auto next = other->try_acquire("single-use-deleted", {});
  ASSERT_THAT(next, IsAcquired());
  EXPECT_THAT(held->lease().release(), HasErrc(Errc::lost));
  EXPECT_EQ(held->lease().lost_reason(), LostReason::taken_over);
  auto info = other->inspect("single-use-deleted");
  ASSERT_TRUE(info.has_value());
  ASSERT_TRUE(info->holder.has_value());
  EXPECT_EQ(info->holder->token, next->lease().token());
  EXPECT_THAT(next->lease().release(), IsOk());
}

TEST(EtcdSingleUseTest, ABrokenLeaseIsLostOnRelease) {
  auto& server = testing::shared_etcd();
  auto store = open_single_use(server.url());
  auto held = store->try_acquire("single-use-broken", {});
  ASSERT_THAT(held, IsAcquired());
  auto other = testing::open_store(server.url());
  ASSERT_THAT(other->break_lease("single-use-broken", held->lease().token()), IsOk());
  EXPECT_THAT(held->lease().release(), HasErrc(Errc::lost));
}

}  // namespace
}  // namespace heartlock
