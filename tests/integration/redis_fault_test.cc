// The Redis backend under faults, against real redis-server processes: the server dies while a
// lease is held, a holder pauses past its ttl. (The torture runs: torture_test.cc.)
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/core/io_deadline.h"
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
using testing::Signal;

TEST(RedisFaultTest, ServerKilledWhileHoldingMeansLostBeforeTheTtlRunsOut) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  std::atomic<int> reason{-1};
  auto got = store->try_acquire(
      "job", {.ttl = 600ms, .on_lost = [&](LostReason r, std::string_view) { reason = int(r); }});
  ASSERT_THAT(got, IsAcquired());
  server.kill();
  ASSERT_TRUE(eventually([&] { return got->lease().lost(); }, 10s));
  EXPECT_EQ(got->lease().lost_reason(), LostReason::backend_lost);
  EXPECT_EQ(reason.load(), static_cast<int>(LostReason::backend_lost));
  EXPECT_THAT(got->lease().renew(), HasErrc(Errc::lost));
}

TEST(RedisFaultTest, UnreachableServerIsUnavailableNotBusy) {
  testing::RedisServer server;
  std::string url = server.url();
  server.kill();
  auto store = testing::open_store(url);
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::unavailable));
  EXPECT_THAT(store->inspect("job"), HasErrc(Errc::unavailable));
}

TEST(RedisFaultTest, WrongPasswordIsPermissionDeniedAndNeverPrinted) {
  testing::RedisServer server({"--requirepass", "right-one"});
  auto url = server.url();
  auto store = testing::open_store("redis://:not-the-one@" + url.substr(8));
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::permission_denied));
  EXPECT_EQ(got.error().message.find("not-the-one"), std::string::npos) << got.error().message;
  EXPECT_EQ(store->url().find("not-the-one"), std::string::npos);
  auto good = testing::open_store("redis://:right-one@" + url.substr(8));
  EXPECT_THAT(good->try_acquire("job", {}), IsAcquired());
}

TEST(RedisFaultTest, AclUserWithPassword) {
  // A named ACL user that may run scripts and publish on its own keys only.
  testing::RedisServer server({"--user", "default", "off", "--user", "jobs", "on", ">s3cret",
                               "~heartlock:*", "&heartlock:*", "+@all"});
  auto hostport = server.url().substr(8);
  auto good = testing::open_store("redis://jobs:s3cret@" + hostport);
  auto got = good->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_THAT(good->inspect("job"), IsOk());
  auto wrong = testing::open_store("redis://jobs:guess@" + hostport);
  auto refused = wrong->try_acquire("job", {});
  ASSERT_THAT(refused, HasErrc(Errc::permission_denied));
  EXPECT_EQ(refused.error().message.find("guess"), std::string::npos);
  auto nobody = testing::open_store("redis://" + hostport);
  EXPECT_THAT(nobody->try_acquire("job", {}), HasErrc(Errc::permission_denied))
      << "the default user is off: NOAUTH must be a permission error, not 'unavailable'";
}

TEST(RedisFaultTest, StoppedHolderExpiresIsTakenOverAndFenced) {
  testing::RedisServer server;
  Signal ready;
  auto child = Child::fork([&]() -> int {
    auto store = testing::open_store(server.url());
    auto got = store->try_acquire("job", {.ttl = 200ms});
    if (!got || got->busy()) {
      ready.notify('B');
      return 2;
    }
    ready.notify('A');
    if (!eventually([&] { return got->lease().lost(); }, 20s)) {
      return 10;
    }
    auto reason = got->lease().lost_reason();
    auto released = got->lease().release();
    // The deadline timer may tell (backend_lost) before a renewal finds the takeover.
    return (reason == LostReason::taken_over || reason == LostReason::backend_lost) && !released
               ? 0
               : 11;
  });
  ASSERT_EQ(ready.wait(), 'A');
  child.signal(SIGSTOP);
  auto store = testing::open_store(server.url());
  auto mine = testing::acquire_eventually(*store, "job");
  ASSERT_TRUE(mine);
  child.signal(SIGCONT);
  EXPECT_EQ(child.exit_code(), 0);
  EXPECT_THAT(mine->renew(), IsOk());
  EXPECT_THAT(testing::open_store(server.url())->try_acquire("job", {}), IsBusy());
}

TEST(RedisFaultTest, CliStopsTheCommandWhenTheServerDies) {
  testing::RedisServer server;
  testing::TempDir dir;
  auto [run, command] = testing::start_supervised_sleep(server.url(), "600ms", dir);
  ASSERT_GT(command, 0);
  server.kill();
  EXPECT_EQ(run.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

TEST(RedisFaultTest, ManyLeasesOfOneStayAliveFarPastTheirTtl) {
  // 500 leases renewed by one keepalive (pipelined per tick) for three ttls.
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  std::vector<Lease> leases;
  for (int i = 0; i < 500; ++i) {
    auto got = store->try_acquire("job-" + std::to_string(i), {.ttl = 300ms});
    ASSERT_THAT(got, IsAcquired());
    leases.push_back(std::move(*got).lease());
  }
  std::this_thread::sleep_for(900ms);  // three ttls: unrenewed leases would be gone
  auto other = testing::open_store(server.url());
  for (int i = 0; i < 500; i += 50) {
    EXPECT_THAT(other->try_acquire("job-" + std::to_string(i), {}), IsBusy()) << i;
  }
  for (auto& lease : leases) {
    EXPECT_FALSE(lease.lost()) << lease.name();
  }
}

// The server forgets its scripts (a restart, SCRIPT FLUSH): a batch of renewals reloads the script
// once and sends the batch again, instead of one round trip per lease.
TEST(RedisFaultTest, ManyLeasesSurviveTheServerForgettingTheScripts) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  std::vector<Lease> leases;
  for (int i = 0; i < 500; ++i) {
    auto got = store->try_acquire("job-" + std::to_string(i), {.ttl = 600ms});
    ASSERT_THAT(got, IsAcquired());
    leases.push_back(std::move(*got).lease());
  }
  const std::string port = std::to_string(server.port());
  // Statistics reset first: a renewal batch that falls between the two commands then still counts
  // (in the other order its SCRIPT LOAD went uncounted now and then).
  ASSERT_EQ(testing::run_command({"redis-cli", "-p", port, "CONFIG", "RESETSTAT"}).exit_code, 0);
  ASSERT_EQ(testing::run_command({"redis-cli", "-p", port, "SCRIPT", "FLUSH"}).exit_code, 0);
  std::this_thread::sleep_for(1200ms);  // two ttls: every lease renewed at least once since
  for (auto& lease : leases) {
    EXPECT_FALSE(lease.lost()) << lease.name();
  }
  auto stats = testing::run_command({"redis-cli", "-p", port, "INFO", "commandstats"}).out;
  EXPECT_EQ(stats.find("cmdstat_eval:"), std::string::npos) << "no per-lease EVAL: " << stats;
  EXPECT_NE(stats.find("cmdstat_script|load:calls=1,"), std::string::npos) << stats;
}

// A server restarted without persistence has forgotten every lease, and a contender may get the
// lock at once (with token 1). The holder's idle connection is closed by the restart; its lease's
// watch descriptor turns readable, and the keepalive renews at once instead of at the renew
// interval (10 s here): the renewal, on a new connection, finds the lease gone.
// Needs the keepalive to poll BackendLease::watch_fd().
TEST(RedisFaultTest, RestartWithoutPersistenceIsNoticedAtOnce) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  std::atomic<int> reason{-1};
  auto got = store->try_acquire(
      "job", {.ttl = 30s, .on_lost = [&](LostReason r, std::string_view) { reason = int(r); }});
  ASSERT_THAT(got, IsAcquired());
  server.kill();
  server.start();
  ASSERT_TRUE(eventually([&] { return got->lease().lost(); }, 6s))
      << "not noticed well before the renew interval (10 s)";
  EXPECT_EQ(got->lease().lost_reason(), LostReason::expired);
  EXPECT_EQ(reason.load(), static_cast<int>(LostReason::expired));
}

// The same, with the server back before the holder notices: its data gone (FLUSHALL, as a restart
// without persistence leaves it) and the holder's connection closed. The check the closed
// connection triggers reconnects and finds the lease gone at once.
// Needs the keepalive to poll BackendLease::watch_fd().
TEST(RedisFaultTest, ForgottenLeaseOnAClosedConnectionIsNoticedAtOnce) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  auto got = store->try_acquire("job", {.ttl = 30s});
  ASSERT_THAT(got, IsAcquired());
  const std::string port = std::to_string(server.port());
  ASSERT_EQ(testing::run_command({"redis-cli", "-p", port, "FLUSHALL"}).exit_code, 0);
  ASSERT_EQ(
      testing::run_command({"redis-cli", "-p", port, "CLIENT", "KILL", "TYPE", "normal"}).exit_code,
      0);
  ASSERT_TRUE(eventually([&] { return got->lease().lost(); }, 3s))
      << "not noticed well before the renew interval (10 s)";
  EXPECT_EQ(got->lease().lost_reason(), LostReason::expired);
}

// A connection the server closed while idle (CLIENT KILL, a restart, its idle timeout) is found
// before the next command is sent on it, and the command goes to a new connection instead of
// failing. (No keepalive: it would notice the closed connection first.)
TEST(RedisFaultTest, ConnectionClosedWhileIdleIsReplacedBeforeTheNextCommand) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  auto got = store->try_acquire("job", {.ttl = 30s, .keepalive = false});
  ASSERT_THAT(got, IsAcquired());
  auto killed = testing::run_command(
      {"redis-cli", "-p", std::to_string(server.port()), "CLIENT", "KILL", "TYPE", "normal"});
  ASSERT_EQ(killed.exit_code, 0) << killed.err;
  ASSERT_NE(killed.out, "0\n") << "no connection was killed";
  EXPECT_THAT(got->lease().renew(), IsOk());
  EXPECT_FALSE(got->lease().lost());
}

// Elapsed time of f(), for generous upper bounds only.
template <class F>
std::chrono::milliseconds elapsed(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

// The I/O deadline (the lease's deadline, during a renewal) bounds a command to a server that
// stopped answering, not the URL's timeout (5 s); the connection is then dropped, so the late
// reply never answers a later command.
TEST(RedisFaultTest, IoDeadlineCutsACommandToAStoppedServerShort) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url() + "?timeout=5s");
  ASSERT_THAT(store->inspect("job"), IsOk());  // connected
  testing::ScopedStop stopped({server.pid()});
  Result<LockInfo> info;
  auto took = elapsed([&] {
    detail::ScopedIoDeadline bound(detail::boot_now() + 200ms);
    info = store->inspect("job");
  });
  EXPECT_THAT(info, HasErrc(Errc::unavailable));
  EXPECT_LT(took, 1500ms) << "the URL's timeout (5 s) was used, not the I/O deadline";
  stopped.resume();
  // The stopped server now answers the inspect; that answer must not be taken for this one's.
  EXPECT_THAT(store->try_acquire("other", {}), IsAcquired());
}

TEST(RedisFaultTest, NothingIsSentOnceTheIoDeadlineHasPassed) {
  testing::RedisServer server;
  auto store = testing::open_store(server.url());
  ASSERT_THAT(store->inspect("job"), IsOk());
  detail::ScopedIoDeadline bound(detail::boot_now() - 1ms);
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::unavailable));
  EXPECT_NE(got.error().message.find("deadline passed"), std::string::npos) << got.error().message;
}

// Redlock renews node after node. Under an I/O deadline a node that stopped answering gets only
// its share of the time left, so the nodes after it are still asked and confirm the renewal.
TEST(RedisFaultTest, RedlockRenewalReachesTheOtherNodesPastAStoppedOne) {
  testing::RedisServer a;
  testing::RedisServer b;
  testing::RedisServer c;
  auto store = testing::open_store("redis://127.0.0.1:" + std::to_string(a.port()) +
                                   ",127.0.0.1:" + std::to_string(b.port()) +
                                   ",127.0.0.1:" + std::to_string(c.port()) + "?timeout=5s");
  auto got = store->try_acquire("job", {.ttl = 30s});
  ASSERT_THAT(got, IsAcquired());
  testing::ScopedStop stopped({a.pid()});
  Result<void> renewed;
  auto took = elapsed([&] {
    detail::ScopedIoDeadline bound(detail::boot_now() + 900ms);
    renewed = got->lease().renew();
  });
  EXPECT_THAT(renewed, IsOk()) << "the stopped first node used up the time of the others";
  EXPECT_LT(took, 2s);
}

}  // namespace
}  // namespace heartlock

namespace heartlock {
namespace {

class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_test_certificates(certs_);
    testing::make_test_certificates(other_, "other-ca");
    server_ = std::make_unique<testing::RedisServer>(
        std::vector<std::string>{"--tls-cert-file", certs_.file("server.pem"), "--tls-key-file",
                                 certs_.file("server.key"), "--tls-ca-cert-file",
                                 certs_.file("ca.pem"), "--tls-auth-clients", "no"},
        true);
  }
  std::string url(const std::string& query) const {
    return "rediss://127.0.0.1:" + std::to_string(server_->port()) + "?" + query;
  }

  testing::TempDir certs_;
  testing::TempDir other_;
  std::unique_ptr<testing::RedisServer> server_;
};

TEST_F(RedisTlsTest, VerifiedServerWorks) {
  auto store = testing::open_store(url("cacert=" + certs_.file("ca.pem")));
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, IsAcquired());
  EXPECT_THAT(testing::open_store(url("cacert=" + certs_.file("ca.pem")))->try_acquire("job", {}),
              IsBusy());
}

TEST_F(RedisTlsTest, WrongCaIsAClearVerificationError) {
  auto store = testing::open_store(url("cacert=" + other_.file("other-ca.pem")));
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::permission_denied));
  EXPECT_NE(got.error().message.find("did not verify"), std::string::npos) << got.error().message;
  auto cli =
      testing::run_command({testing::heartlock_binary(), "-b",
                            url("cacert=" + other_.file("other-ca.pem")), "run", "--", "true"});
  EXPECT_EQ(cli.exit_code, 69) << cli.err;
}

TEST_F(RedisTlsTest, CronlockModeSpeaksTlsAsGolockDoes) {
  std::map<std::string, std::string> env = {{"CRONLOCK_HOST", "127.0.0.1"},
                                            {"CRONLOCK_PORT", std::to_string(server_->port())},
                                            {"CRONLOCK_TLS", "yes"},
                                            {"CRONLOCK_GRACE", "0"},
                                            {"CRONLOCK_RECONNECT_ATTEMPTS", "0"}};
  // The test CA is not in the system store: a clear verification error, cronlock's 201.
  auto r = testing::run_command({testing::heartlock_binary(), "cronlock", "true"}, env);
  EXPECT_EQ(r.exit_code, 201);
  EXPECT_NE(r.err.find("did not verify"), std::string::npos) << r.err;
  env["CRONLOCK_TLS_SKIP_VERIFY"] = "yes";
  r = testing::run_command({testing::heartlock_binary(), "cronlock", "true"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(RedisTlsTest, InsecureSkipsVerification) {
  auto store = testing::open_store(url("insecure=1&cacert=" + other_.file("other-ca.pem")));
  EXPECT_THAT(store->try_acquire("job", {}), IsAcquired());
}

}  // namespace
}  // namespace heartlock
