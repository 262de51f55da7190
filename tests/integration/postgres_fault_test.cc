// The PostgreSQL backend under faults, against real PostgreSQL servers the tests start: the
// holder's connection is terminated, the server restarts or goes away, the client's clock is
// wrong. (The torture runs: torture_test.cc.)
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "heartlock/heartlock.h"

#include "../../src/core/io_deadline.h"
#include "../support/postgres_server.h"
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

const char* kTerminateHeartlockSessions =
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE application_name = 'heartlock' AND pid <> pg_backend_pid()";

TEST(PostgresFaultTest, ALeaseOutlivesItsConnectionAndARestart) {
  testing::PostgresServer server;
  auto store = testing::open_store(server.url());
  auto held = store->try_acquire("job", {.ttl = 3s});
  ASSERT_THAT(held, IsAcquired());
  // The lease is the row, not the session: the holder reconnects and renews.
  EXPECT_EQ(server.psql(kTerminateHeartlockSessions), "1\n");
  EXPECT_THAT(held->lease().renew(), IsOk());
  server.stop();
  server.start();
  EXPECT_THAT(held->lease().renew(), IsOk());
  auto other = testing::open_store(server.url());
  auto busy = other->try_acquire("job", {});
  ASSERT_THAT(busy, IsBusy());
  EXPECT_EQ(busy->holder().holder->token, held->lease().token());
  EXPECT_FALSE(held->lease().lost());
  EXPECT_THAT(held->lease().release(), IsOk());
  auto next = other->try_acquire("job", {});
  ASSERT_THAT(next, IsAcquired());
  EXPECT_GT(next->lease().token(), held->lease().token());
}

TEST(PostgresFaultTest, ServerGoneLongerThanTheTtlMeansLost) {
  testing::PostgresServer server;
  auto store = testing::open_store(server.url("timeout=500ms"));
  auto held = store->try_acquire("job", {.ttl = 900ms});
  ASSERT_THAT(held, IsAcquired());
  server.stop();
  ASSERT_TRUE(eventually([&] { return held->lease().lost(); }, 10s));
  EXPECT_EQ(held->lease().lost_reason(), LostReason::backend_lost);
  server.start();
  EXPECT_THAT(held->lease().renew(), HasErrc(Errc::lost));
}

TEST(PostgresFaultTest, CliStopsTheCommandWhenTheServerGoes) {
  testing::PostgresServer server;
  testing::TempDir dir;
  auto [run, command] = testing::start_supervised_sleep(server.url("timeout=500ms"), "900ms", dir);
  ASSERT_GT(command, 0);
  server.stop();
  EXPECT_EQ(run.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

TEST(PostgresFaultTest, WrongPasswordIsPermissionDeniedAndNeverPrinted) {
  auto& server = testing::shared_postgres();
  std::string url =
      "postgres://heartlock:not-the-password@127.0.0.1:" + std::to_string(server.port()) +
      "/postgres";
  auto store = testing::open_store(url);
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::permission_denied));
  EXPECT_EQ(got.error().message.find("not-the-password"), std::string::npos);
  EXPECT_EQ(store->url().find("not-the-password"), std::string::npos);
  auto cli = testing::run_command({testing::heartlock_binary(), "-b", url, "run", "--", "true"});
  EXPECT_EQ(cli.exit_code, 69);
  EXPECT_EQ(cli.err.find("not-the-password"), std::string::npos) << cli.err;
  EXPECT_NE(cli.err.find("password authentication failed"), std::string::npos) << cli.err;
}

TEST(PostgresFaultTest, UnreachableServerIsUnavailable) {
  int port = testing::free_port();
  auto store =
      testing::open_store("postgres://heartlock@127.0.0.1:" + std::to_string(port) + "/postgres");
  EXPECT_THAT(store->try_acquire("job", {}), HasErrc(Errc::unavailable));
}

TEST(PostgresFaultTest, BadUrlsAreClearErrors) {
  EXPECT_THAT(Store::open("postgres://h/db?mode=sometimes"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open("postgres://h/db?table=a.b.c"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open("postgres://h/db?nonsense=1"), HasErrc(Errc::invalid_argument));
}

// Every time is the database's: a client whose wall clock is hours off (libfaketime; the
// monotonic clocks, which measure durations, stay true as on a real machine) neither takes over a
// live lease nor loses its own.
// libfaketime is preloaded directly, not through the `faketime` wrapper: the wrapper creates a
// named semaphore per pid and failed with "sem_open: File exists" on one left by a killed run. A
// sanitizer runtime must then not insist on coming first.
std::map<std::string, std::string> faketime_env(const std::string& offset) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return {{"LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"},
          {"FAKETIME", offset},
          {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
          {"ASAN_OPTIONS", std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0"}};
}

TEST(PostgresFaultTest, TheClientsClockChangesNothing) {
  auto& server = testing::shared_postgres();
  const std::string url = server.url("table=clock_test");
  auto store = testing::open_store(url);
  auto held = store->try_acquire("job", {.ttl = 2s});
  ASSERT_THAT(held, IsAcquired());
  for (const char* offset : {"+2h", "-2h"}) {
    auto r = testing::run_command(
        {testing::heartlock_binary(), "-b", url, "run", "-n", "-k", "job", "--", "true"},
        faketime_env(offset));
    EXPECT_EQ(r.exit_code, 75) << offset << ": " << r.err;
  }
  ASSERT_THAT(held->lease().release(), IsOk());
  // A holder with a wrong clock keeps its lease past several ttls, and others see it held.
  auto run = Child::fork([&]() -> int {
    std::string bin = testing::heartlock_binary();
    for (const auto& [k, v] : faketime_env("-3h")) {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
    ::execl(bin.c_str(), bin.c_str(), "-b", url.c_str(), "run", "-k", "job", "--ttl", "600ms", "--",
            "sleep", "3", nullptr);
    return 127;
  });
  ASSERT_TRUE(eventually([&] {
    auto info = store->inspect("job");
    return info && info->state == LockState::held;
  }));
  std::this_thread::sleep_for(2s);
  auto info = store->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->state, LockState::held) << info->detail;
  EXPECT_EQ(run.exit_code(), 0);
}

// The advisory lock held by `backend_pid` (psql's output, newline and all) is gone from
// pg_locks: the terminated backend has exited.
bool advisory_lock_gone(const testing::PostgresServer& server, const std::string& backend_pid) {
  return server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = " +
                     backend_pid) == "0\n";
}

// Advisory mode: the lock is the session. Terminating it loses the lease at once (not after the
// ttl), and the CLI stops its command. The name stays blocked until the holder, having stopped,
// releases (or its lease runs out: AdvisoryEndedSessionBlocksTheLockUntilTheLeaseRunsOut).
TEST(PostgresFaultTest, AdvisoryLockDiesWithItsSession) {
  auto& server = testing::shared_postgres();
  const std::string url = server.url("mode=advisory&table=adv_fault");
  auto store = testing::open_store(url);
  auto held = store->try_acquire("job", {.ttl = 30s});
  ASSERT_THAT(held, IsAcquired());
  auto info = store->inspect("job");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->state, LockState::held);
  EXPECT_NE(info->location.find("pg_advisory_lock("), std::string::npos) << info->location;
  const std::string pid = server.psql("SELECT backend_pid FROM adv_fault WHERE name = 'job'");
  server.psql(kTerminateHeartlockSessions);
  EXPECT_THAT(held->lease().renew(), HasErrc(Errc::lost));
  EXPECT_EQ(held->lease().lost_reason(), LostReason::backend_lost);
  ASSERT_TRUE(eventually([&] { return advisory_lock_gone(server, pid); }));
  auto other = testing::open_store(url);
  auto busy = other->try_acquire("job", {});
  ASSERT_THAT(busy, IsBusy());
  EXPECT_EQ(busy->holder().state, LockState::held);
  EXPECT_NE(busy->holder().detail.find("session ended"), std::string::npos)
      << busy->holder().detail;
  EXPECT_THAT(held->lease().release(), HasErrc(Errc::lost));
  auto next = other->try_acquire("job", {});
  ASSERT_THAT(next, IsAcquired());
  EXPECT_GT(next->lease().token(), held->lease().token());
}

// The bug the torture run found: a holder's session ended by the server (pg_terminate_backend,
// a restart, a timed-out connection) frees the advisory lock at once, but the holder hears of it
// only from the goodbye on its socket, a few ms later -- or, cut off by a partition, at its own
// deadline -- and works on until then. A contender must not get the lock before the holder's
// lease has run out by the database's clock; a waiting one gets it then, with a larger token.
TEST(PostgresFaultTest, AdvisoryEndedSessionBlocksTheLockUntilTheLeaseRunsOut) {
  auto& server = testing::shared_postgres();
  const std::string url = server.url("mode=advisory&table=adv_ended");
  auto store = testing::open_store(url);
  // Without a keepalive the holder does not hear the goodbye: as if it were cut off.
  auto held = store->try_acquire("job", {.ttl = 1s, .keepalive = false});
  ASSERT_THAT(held, IsAcquired());
  const BootClock::time_point deadline = held->lease().valid_until();
  const std::string pid = server.psql("SELECT backend_pid FROM adv_ended WHERE name = 'job'");
  ASSERT_EQ(server.psql("SELECT pg_terminate_backend(" + pid + ")"), "t\n");
  ASSERT_TRUE(eventually([&] { return advisory_lock_gone(server, pid); }));
  auto other = testing::open_store(url);
  int tries = 0;
  // Busy until shortly before the holder's deadline (the margin only absorbs a slow call).
  while (BootClock::now() < deadline - 100ms) {
    auto busy = other->try_acquire("job", {});
    ASSERT_THAT(busy, IsBusy()) << "taken while the holder's lease still ran, "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - BootClock::now())
                                       .count()
                                << "ms before its deadline";
    if (tries++ == 0) {
      EXPECT_EQ(busy->holder().state, LockState::held);
      ASSERT_TRUE(busy->holder().holder);
      EXPECT_EQ(busy->holder().holder->token, held->lease().token());
      EXPECT_NE(busy->holder().detail.find("session ended"), std::string::npos)
          << busy->holder().detail;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GT(tries, 5);
  auto next = other->acquire("job", {}, 5s);
  ASSERT_THAT(next, IsAcquired());
  const auto now = BootClock::now();
  EXPECT_GE(now, deadline);
  EXPECT_LT(now, deadline + 1500ms) << "the waiting acquire did not retry when the lease ran out";
  EXPECT_GT(next->lease().token(), held->lease().token());
}

// Sessions kept for the next acquire may die while idle (a restart): acquire takes a new one.
TEST(PostgresFaultTest, AdvisoryKeptSessionsSurviveARestart) {
  testing::PostgresServer server;
  auto store = testing::open_store(server.url("mode=advisory"));
  {
    auto first = store->try_acquire("job", {});
    ASSERT_THAT(first, IsAcquired());
    ASSERT_THAT(first->lease().release(), IsOk());  // its session is kept
  }
  server.stop();
  server.start();
  auto again = store->try_acquire("job", {});
  ASSERT_THAT(again, IsAcquired());
  EXPECT_THAT(again->lease().renew(), IsOk());
}

TEST(PostgresFaultTest, AdvisoryCliStopsTheCommandWhenItsSessionIsTerminated) {
  auto& server = testing::shared_postgres();
  testing::TempDir dir;
  auto [run, command] =
      testing::start_supervised_sleep(server.url("mode=advisory&table=adv_cli"), "900ms", dir);
  ASSERT_GT(command, 0);
  server.psql(kTerminateHeartlockSessions);
  EXPECT_EQ(run.exit_code(), 79);
  EXPECT_FALSE(testing::process_alive(command));
}

// The holder's session terminated by someone else (an admin, a contender's takeover): the
// contender gets the lock within milliseconds, so the holder must know as fast. The server's
// goodbye on the idle session makes the lease's watch descriptor readable, and the keepalive
// renews at once -- well before the renew interval (10 s here).
// Needs the keepalive to poll BackendLease::watch_fd().
TEST(PostgresFaultTest, AdvisoryLeaseIsLostAsSoonAsItsSessionIsTerminated) {
  auto& server = testing::shared_postgres();
  auto store = testing::open_store(server.url("mode=advisory&table=adv_watch"));
  std::atomic<int> reason{-1};
  auto held = store->try_acquire(
      "job", {.ttl = 30s, .on_lost = [&](LostReason r, std::string_view) { reason = int(r); }});
  ASSERT_THAT(held, IsAcquired());
  const std::string pid = server.psql("SELECT backend_pid FROM adv_watch WHERE name = 'job'");
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(server.psql("SELECT pg_terminate_backend(" + pid + ")"), "t\n");
  ASSERT_TRUE(eventually([&] { return held->lease().lost(); }, 3s))
      << "not noticed well before the renew interval (10 s)";
  EXPECT_EQ(held->lease().lost_reason(), LostReason::backend_lost);
  EXPECT_EQ(reason.load(), static_cast<int>(LostReason::backend_lost));
}

// Elapsed time of f(), for generous upper bounds only.
template <class F>
std::chrono::milliseconds elapsed(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

// The backends (one process each) of the sessions heartlock has open on `server`.
std::vector<pid_t> heartlock_backends(const testing::PostgresServer& server) {
  std::vector<pid_t> out;
  std::istringstream in(
      server.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'heartlock' AND "
                  "pid <> pg_backend_pid()"));
  for (std::string line; std::getline(in, line);) {
    out.push_back(static_cast<pid_t>(std::stol(line)));
  }
  return out;
}

// The I/O deadline (the lease's deadline, during a renewal) bounds a statement to a backend that
// stopped answering, not the URL's timeout (5 s); the connection is then dropped, so the late
// answer never answers a later statement.
TEST(PostgresFaultTest, IoDeadlineCutsAStatementToAStoppedBackendShort) {
  testing::PostgresServer server;
  auto store = testing::open_store(server.url("timeout=5s"));
  ASSERT_THAT(store->inspect("job"), IsOk());  // connected, table created
  const auto backends = heartlock_backends(server);
  ASSERT_FALSE(backends.empty());
  testing::ScopedStop stopped(backends);
  Result<LockInfo> info;
  auto took = elapsed([&] {
    detail::ScopedIoDeadline bound(detail::boot_now() + 200ms);
    info = store->inspect("job");
  });
  EXPECT_THAT(info, HasErrc(Errc::unavailable));
  EXPECT_LT(took, 1500ms) << "the URL's timeout (5 s) was used, not the I/O deadline";
  stopped.resume();
  EXPECT_THAT(store->try_acquire("other", {}), IsAcquired());
}

// Connecting is bounded the same way: a server that accepts the connection and never answers.
TEST(PostgresFaultTest, IoDeadlineCutsAConnectToASilentServerShort) {
  // A listening socket nobody accepts from: the kernel completes the handshake, no one answers.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto store =
      testing::open_store("postgres://heartlock@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                          "/postgres?timeout=5s");
  Result<LockInfo> info;
  auto took = elapsed([&] {
    detail::ScopedIoDeadline bound(detail::boot_now() + 200ms);
    info = store->inspect("job");
  });
  ::close(fd);
  EXPECT_THAT(info, HasErrc(Errc::unavailable));
  EXPECT_LT(took, 1500ms) << "the connect timeout (5 s) was used, not the I/O deadline";
}

TEST(PostgresFaultTest, NothingIsSentOnceTheIoDeadlineHasPassed) {
  auto& server = testing::shared_postgres();
  auto store = testing::open_store(server.url("table=deadline_passed"));
  ASSERT_THAT(store->inspect("job"), IsOk());
  detail::ScopedIoDeadline bound(detail::boot_now() - 1ms);
  auto got = store->try_acquire("job", {});
  ASSERT_THAT(got, HasErrc(Errc::unavailable));
  EXPECT_NE(got.error().message.find("deadline passed"), std::string::npos) << got.error().message;
}

TEST(PostgresFaultTest, AdvisoryKeyIsTheDocumentedOne) {
  // The SQL in pg_advisory_store.h computes the same key as the library: the holder is found in
  // pg_locks under it.
  auto& server = testing::shared_postgres();
  auto store = testing::open_store(server.url("mode=advisory&table=adv_key"));
  auto held = store->try_acquire("nightly backup", {});
  ASSERT_THAT(held, IsAcquired());
  auto out = server.psql(
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
      "((classid::bigint << 32) | objid::bigint) = "
      "('x' || left(encode(sha256(convert_to('nightly backup', 'UTF8')), 'hex'), 16))"
      "::bit(64)::bigint");
  EXPECT_EQ(out, "1\n");
}

// Behind a transaction-pooling proxy (a real PgBouncer, round robin over three server sessions):
// lease mode works as it does directly, prepared statements included; advisory mode is refused,
// because a session lock would stay behind on a server session we no longer talk to.
TEST(PostgresFaultTest, BehindPgBouncerLeaseModeWorksAndAdvisoryModeIsRefused) {
  auto& server = testing::shared_postgres();
  testing::PgBouncer bouncer(server);
  auto a = testing::open_store(bouncer.url("table=via_bouncer"));
  auto b = testing::open_store(bouncer.url("table=via_bouncer"));
  auto first = a->try_acquire("job", {.ttl = 300ms});
  ASSERT_THAT(first, IsAcquired());
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(b->try_acquire("job", {}), IsBusy());
    std::this_thread::sleep_for(100ms);  // past three ttls in all: renewals go through too
  }
  EXPECT_FALSE(first->lease().lost());
  ASSERT_THAT(first->lease().release(), IsOk());
  auto second = b->try_acquire("job", {});
  ASSERT_THAT(second, IsAcquired());
  EXPECT_GT(second->lease().token(), first->lease().token());

  auto advisory = testing::open_store(bouncer.url("mode=advisory&table=adv_bouncer"));
  auto refused = advisory->try_acquire("job", {});
  ASSERT_THAT(refused, HasErrc(Errc::unsupported));
  EXPECT_NE(refused.error().message.find("transaction-pooling proxy"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace heartlock
