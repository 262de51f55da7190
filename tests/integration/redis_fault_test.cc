// The Redis backend under faults, against real redis-server processes: the server dies while a
// lease is held, a holder pauses past its ttl, and the torture checker.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

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
    return reason == LostReason::taken_over && !released ? 0 : 11;
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
  ASSERT_EQ(testing::run_command({"redis-cli", "-p", port, "SCRIPT", "FLUSH"}).exit_code, 0);
  ASSERT_EQ(testing::run_command({"redis-cli", "-p", port, "CONFIG", "RESETSTAT"}).exit_code, 0);
  std::this_thread::sleep_for(1200ms);  // two ttls: every lease renewed at least once since
  for (auto& lease : leases) {
    EXPECT_FALSE(lease.lost()) << lease.name();
  }
  auto stats = testing::run_command({"redis-cli", "-p", port, "INFO", "commandstats"}).out;
  EXPECT_EQ(stats.find("cmdstat_eval:"), std::string::npos) << "no per-lease EVAL: " << stats;
  EXPECT_NE(stats.find("cmdstat_script|load:calls=1,"), std::string::npos) << stats;
}

TEST(RedisFaultTest, TortureFindsNoViolations) {
  testing::RedisServer server;
  auto r = testing::run_command({HEARTLOCK_TORTURE, "--workers", "6", "--seconds", "8", "--ttl",
                                 "400ms", "--backend", server.url()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("violations=0"), std::string::npos) << r.out;
}

TEST(RedisFaultTest, TortureFindsNoViolationsOnRedlock) {
  auto r =
      testing::run_command({HEARTLOCK_TORTURE, "--workers", "6", "--seconds", "8", "--ttl", "400ms",
                            "--backend", testing::shared_redlock_url() + "?prefix=torture:"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("violations=0"), std::string::npos) << r.out;
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
