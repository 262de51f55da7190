// The etcd backend under faults, against real etcd processes the tests start: the server killed
// and restarted while a lease is held, gone for longer than the ttl (the CLI stops its command),
// user/password authentication, TLS. (The torture runs: torture_test.cc.)
#include <signal.h>
#include <unistd.h>

#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/core/io_deadline.h"
#include "../../src/etcd/etcd_client.h"
#include "../support/etcd_server.h"
#include "../support/redis_server.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Child;
using testing::eventually;
using testing::HasErrc;
using testing::IsAcquired;
using testing::IsBusy;
using testing::IsOk;

TEST(EtcdFaultTest, ALeaseSurvivesAQuickRestartOfTheServer) {
  testing::EtcdServer server;
  auto store = testing::open_store(server.url());
  auto held = store->try_acquire("job", {.ttl = 6s});
  ASSERT_THAT(held, IsAcquired());
  server.kill();
  server.start();
  // etcd gives every lease its full ttl again when a leader is elected after the restart.
  ASSERT_TRUE(eventually([&] { return held->lease().renew().has_value(); }, 10s));
  EXPECT_FALSE(held->lease().lost());
  auto other = testing::open_store(server.url());
  auto busy = other->try_acquire("job", {});
  ASSERT_THAT(busy, IsBusy());
  EXPECT_EQ(busy->holder().holder->token, held->lease().token());
  EXPECT_THAT(held->lease().release(), IsOk());
  auto next = other->try_acquire("job", {});
  ASSERT_THAT(next, IsAcquired());
  EXPECT_GT(next->lease().token(), held->lease().token());
}

TEST(EtcdFaultTest, ServerGoneLongerThanTheTtlMeansLost) {
  testing::EtcdServer server;
  auto store = testing::open_store(server.url() + "?timeout=500ms");
  auto held = store->try_acquire("job", {.ttl = 2s});
  ASSERT_THAT(held, IsAcquired());
  server.kill();
  ASSERT_TRUE(eventually([&] { return held->lease().lost(); }, 10s));
  EXPECT_EQ(held->lease().lost_reason(), LostReason::backend_lost);
}

TEST(EtcdFaultTest, CliStopsTheCommandWhenTheServerDies) {
  testing::EtcdServer server;
  testing::TempDir dir;
  auto [run, command] = testing::start_supervised_sleep(server.url() + "?timeout=500ms", "2s", dir);
  ASSERT_GT(command, 0);
  server.kill();
  EXPECT_EQ(run.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

TEST(EtcdFaultTest, UnreachableIsUnavailable) {
  int port = testing::free_port();
  auto store = testing::open_store("etcd://127.0.0.1:" + std::to_string(port) + "?timeout=500ms");
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::unavailable));
  EXPECT_THAT(Store::open("etcd://h/path"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open("etcd://h?bogus=1"), HasErrc(Errc::invalid_argument));
}

TEST(EtcdFaultTest, UserAndPassword) {
  testing::EtcdServer server;
  // Auth on: a root user (which etcd requires before enabling auth).
  detail::EtcdUrl admin;
  admin.endpoints = {"127.0.0.1:" + std::to_string(server.port())};
  detail::EtcdClient client(admin);
  ASSERT_THAT(client.call("auth/user/add", {{"name", "root"}, {"password", "s3cret-root"}}),
              IsOk());
  ASSERT_THAT(client.call("auth/user/grant", {{"user", "root"}, {"role", "root"}}), IsOk());
  ASSERT_THAT(client.call("auth/enable", nlohmann::json::object()), IsOk());

  const std::string host = "127.0.0.1:" + std::to_string(server.port());
  auto good = testing::open_store("etcd://root:s3cret-root@" + host);
  auto got = good->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_EQ(good->url().find("s3cret"), std::string::npos);
  EXPECT_THAT(testing::open_store("etcd://root:s3cret-root@" + host)->try_acquire("job", {}),
              IsBusy());

  auto wrong = testing::open_store("etcd://root:not-it@" + host)->try_acquire("job", {});
  ASSERT_THAT(wrong, HasErrc(Errc::permission_denied));
  EXPECT_EQ(wrong.error().message.find("not-it"), std::string::npos);
  EXPECT_THAT(testing::open_store("etcd://" + host)->try_acquire("job", {}),
              HasErrc(Errc::permission_denied));
  auto cli = testing::run_command(
      {testing::heartlock_binary(), "-b", "etcd://root:not-it@" + host, "run", "--", "true"});
  EXPECT_EQ(cli.exit_code, 69);
  EXPECT_EQ(cli.err.find("not-it"), std::string::npos) << cli.err;
  EXPECT_NE(cli.err.find("authentication failed"), std::string::npos) << cli.err;
}

TEST(EtcdFaultTest, TlsWithTheRightCaAndAClearErrorWithTheWrongOne) {
  testing::TempDir certs;
  testing::TempDir other;
  testing::make_test_certificates(certs);
  testing::make_test_certificates(other, "other-ca");
  testing::EtcdServer server(
      {"--cert-file", certs.file("server.pem"), "--key-file", certs.file("server.key")}, true);
  auto store = testing::open_store(server.url() + "?cacert=" + certs.file("ca.pem"));
  ASSERT_TRUE(eventually([&] { return store->inspect("x").has_value(); }, 20s));
  EXPECT_THAT(store->try_acquire("job", {}), IsAcquired());
  auto wrong = testing::open_store(server.url() + "?cacert=" + other.file("other-ca.pem"))
                   ->try_acquire("job", {});
  ASSERT_THAT(wrong, HasErrc(Errc::permission_denied));
  EXPECT_NE(wrong.error().message.find("did not verify"), std::string::npos)
      << wrong.error().message;
}

// The I/O deadline (the lease's deadline, during a renewal) bounds a request to a server that
// stopped answering, not the URL's timeout (5 s); the connection is then dropped, so the late
// answer never answers a later request.
TEST(EtcdFaultTest, IoDeadlineCutsARequestToAStoppedServerShort) {
  testing::EtcdServer server;
  auto store = testing::open_store(server.url() + "?timeout=5s");
  ASSERT_THAT(store->inspect("job"), IsOk());  // connected
  ASSERT_GT(server.pid(), 0);
  testing::ScopedStop stopped({server.pid()});
  Result<LockInfo> info;
  const auto start = std::chrono::steady_clock::now();
  {
    detail::ScopedIoDeadline bound(detail::boot_now() + 200ms);
    info = store->inspect("job");
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_THAT(info, HasErrc(Errc::unavailable));
  EXPECT_LT(took, 1500ms) << "the URL's timeout (5 s) was used, not the I/O deadline";
  stopped.resume();
  EXPECT_THAT(store->try_acquire("other", {}), IsAcquired());
}

TEST(EtcdFaultTest, NothingIsSentOnceTheIoDeadlineHasPassed) {
  auto& server = testing::shared_etcd();
  auto store = testing::open_store(server.url() + "?prefix=deadline_passed/");
  ASSERT_THAT(store->inspect("job"), IsOk());
  detail::ScopedIoDeadline bound(detail::boot_now() - 1ms);
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::unavailable));
  EXPECT_NE(got.error().message.find("deadline passed"), std::string::npos) << got.error().message;
}

}  // namespace
}  // namespace heartlock
