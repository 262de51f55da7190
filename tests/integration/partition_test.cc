// A lease is never trusted past its deadline: the holder is cut off from its server by a frozen
// proxy (a partition: the server stays up for everyone else, the holder's requests hang) and a
// contender talks to the server directly. Real servers, real processes, no sleeps as assertions.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../../src/core/clock.h"
#include "../../tools/tcp_proxy.h"
#include "../support/backends.h"
#include "../support/test_support.h"

namespace heartlock {
namespace {

using namespace std::chrono_literals;
using testing::Backend;
using testing::TempDir;
using testing::unique_suffix;
using tools::TcpProxy;

// The wall clock in ns, as `date +%s%N` writes it: the holder's and contender's lines and the
// test's own marks are compared on it (one machine, so one clock).
long long wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<long long> read_numbers(const std::string& path) {
  std::vector<long long> out;
  std::ifstream in(path);
  long long v = 0;
  while (in >> v) {
    out.push_back(v);
  }
  return out;
}

// Every server a URL names (127.0.0.1:PORT, one or several), each behind a proxy of its own:
// url() reaches them through the proxies, freeze() cuts them all off at once.
class CutOff {
 public:
  explicit CutOff(const std::string& direct) {
    const std::string host = "127.0.0.1:";
    std::size_t from = 0;
    for (auto at = direct.find(host); at != std::string::npos; at = direct.find(host, from)) {
      auto digits = at + host.size();
      auto end = direct.find_first_not_of("0123456789", digits);
      end = end == std::string::npos ? direct.size() : end;
      proxies_.push_back(
          std::make_unique<TcpProxy>(std::stoi(direct.substr(digits, end - digits))));
      url_ += direct.substr(from, digits - from) + std::to_string(proxies_.back()->port());
      from = end;
    }
    url_ += direct.substr(from);
    EXPECT_FALSE(proxies_.empty()) << direct;
  }
  const std::string& url() const { return url_; }
  void freeze() {
    for (auto& p : proxies_) {
      p->freeze();
    }
  }
  void thaw() {
    for (auto& p : proxies_) {
      p->thaw();
    }
  }

 private:
  std::vector<std::unique_ptr<TcpProxy>> proxies_;
  std::string url_;
};

class Partition : public ::testing::TestWithParam<Backend> {};

// The operator's view: `heartlock run --ttl 3s` through the proxy, a command appending a
// timestamped line every 20 ms; the proxy freezes at several phases of the renewal cycle; a
// contender on the server directly. No line of the holder may come after the contender started,
// and none later than one ttl after the cut.
TEST_P(Partition, HolderCutOffStopsBeforeTheContenderStarts) {
  const Backend& b = GetParam();
  const std::string direct = b.url();
  const auto ttl = 3s;
  // Phases of the renew interval (ttl/3 = 1 s) at which the cut comes.
  for (auto phase : {0ms, 550ms}) {
    SCOPED_TRACE("phase " + std::to_string(phase.count()) + "ms");
    TempDir dir;
    CutOff proxy(direct);
    const std::string cut_off = proxy.url();
    const std::string key = "partition-" + unique_suffix();
    const std::string lines = dir.file("holder.lines");
    const std::string bin = testing::heartlock_binary();
    // The second phase's command ignores SIGTERM (its whole group does): then only the SIGKILL at
    // the deadline less the stop margin ends it, and that must still come before the contender.
    const std::string script = std::string(phase > 0ms ? "trap '' TERM; " : "") +
                               "while :; do date +%s%N >> " + lines + "; sleep 0.02; done";
    auto holder = testing::Child::fork([&]() -> int {
      ::setpgid(0, 0);
      ::execl(bin.c_str(), bin.c_str(), "-q", "-b", cut_off.c_str(), "run", "-k", key.c_str(),
              "--ttl", "3s", "--", "sh", "-c", script.c_str(), nullptr);
      return 127;
    });
    ASSERT_TRUE(testing::eventually([&] { return read_numbers(lines).size() >= 3; }))
        << "the holder never ran";
    std::this_thread::sleep_for(phase);  // where in the renewal cycle the cut comes
    proxy.freeze();
    const long long cut = wall_ns();

    const std::string started = dir.file("contender.start");
    auto contender = testing::run_command({bin, "-q", "-b", direct, "run", "-k", key, "-w", "60s",
                                           "--", "sh", "-c", "date +%s%N > " + started},
                                          {}, 90s);
    ASSERT_EQ(contender.exit_code, 0) << contender.err;
    auto start = read_numbers(started);
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(holder.exit_code(30s), 79) << "the holder must report the lost lease";
    auto written = read_numbers(lines);
    ASSERT_FALSE(written.empty());
    const long long last = *std::max_element(written.begin(), written.end());
    EXPECT_LT(last, start[0]) << "the holder's command wrote " << (last - start[0]) / 1'000'000
                              << "ms after the contender started";
    EXPECT_LE(last, cut + std::chrono::nanoseconds(ttl).count())
        << "the holder's command wrote " << (last - cut) / 1'000'000 << "ms after the cut";
    // For docs/benchmarks.md: how the stop fell against the cut and the contender.
    std::printf(
        "[ measure  ] %s phase %lldms: last line %+lldms after the cut, contender started "
        "%+lldms after it (margin %lldms)\n",
        b.name.c_str(), static_cast<long long>(phase.count()), (last - cut) / 1'000'000,
        (start[0] - cut) / 1'000'000, (start[0] - last) / 1'000'000);
    proxy.thaw();
  }
}

// 200 leases in one process through a proxy that freezes: every lease learns it is lost no later
// than the deadline the library reported for it.
TEST_P(Partition, EveryLeaseIsToldByItsDeadline) {
  const Backend& b = GetParam();
  CutOff proxy(b.url());
  const std::string url = proxy.url();
  auto store = testing::open_store(url);
  ASSERT_TRUE(store);
  // Advisory mode pins a server session per lease; the shared test server allows 200 in all.
  const int n = b.name == "advisory" ? 40 : 200;
  std::vector<std::atomic<long long>> lost_at(static_cast<std::size_t>(n));
  std::vector<Lease> leases;
  for (int i = 0; i < n; ++i) {
    auto got = store->try_acquire(
        "many-" + std::to_string(i),
        {.ttl = 3s, .on_lost = [&lost_at, i](LostReason, std::string_view) {
           lost_at[static_cast<std::size_t>(i)].store(detail::boot_now().count());
         }});
    ASSERT_TRUE(got && got->acquired()) << (got ? "busy" : got.error().message);
    leases.push_back(std::move(got->lease()));
  }
  std::this_thread::sleep_for(1200ms);  // a renewal round or so, so deadlines are not all alike
  proxy.freeze();
  std::this_thread::sleep_for(300ms);  // replies already read by then are applied
  std::vector<BootClock::time_point> deadline;
  for (auto& lease : leases) {
    deadline.push_back(lease.valid_until());
  }
  ASSERT_TRUE(testing::eventually(
      [&] {
        return std::all_of(lost_at.begin(), lost_at.end(), [](auto& t) { return t.load() != 0; });
      },
      20s));
  auto worst = std::chrono::nanoseconds::min();
  auto best = std::chrono::nanoseconds::max();
  for (int i = 0; i < n; ++i) {
    const auto& lease = leases[static_cast<std::size_t>(i)];
    EXPECT_EQ(lease.lost_reason(), LostReason::backend_lost) << i;
    const auto at =
        BootClock::time_point(BootClock::duration(lost_at[static_cast<std::size_t>(i)]));
    const auto d = deadline[static_cast<std::size_t>(i)];
    ASSERT_GT(d.time_since_epoch().count(), 0) << "lease " << i << " was lost within 300ms";
    worst = std::max(worst, at - d);
    best = std::min(best, at - d);
    EXPECT_LE(at, d) << "lease " << i << " told "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(at - d).count()
                     << "ms after its deadline";
  }
  std::printf("[ measure  ] %s: %d leases, loss notice minus deadline from %.1fms to %.1fms\n",
              b.name.c_str(), n, std::chrono::duration<double, std::milli>(best).count(),
              std::chrono::duration<double, std::milli>(worst).count());
  proxy.thaw();
  leases.clear();
}

// A renewal that hangs on one store delays nothing on a healthy store in the same process.
TEST_P(Partition, AFrozenStoreDoesNotHoldUpAHealthyOne) {
  const Backend& b = GetParam();
  CutOff proxy(b.url());
  auto frozen = testing::open_store(proxy.url());
  auto healthy = testing::open_store(b.url());
  ASSERT_TRUE(frozen && healthy);
  auto cut = frozen->try_acquire("cut", {.ttl = 3s});
  auto ok = healthy->try_acquire("ok", {.ttl = 600ms});
  ASSERT_TRUE(cut && cut->acquired() && ok && ok->acquired());
  proxy.freeze();
  const auto first = ok->lease().valid_until();
  ASSERT_TRUE(testing::eventually([&] { return cut->lease().lost(); }, 20s));
  EXPECT_FALSE(ok->lease().lost()) << "the healthy store's lease renewed meanwhile";
  EXPECT_GT(ok->lease().valid_until(), first + 1s) << "renewed several times while frozen";
  proxy.thaw();
}

INSTANTIATE_TEST_SUITE_P(Backends, Partition, ::testing::ValuesIn(testing::network_backends()),
                         [](const auto& param_info) { return param_info.param.name; });

// A holder alive but making no progress is deadlocked, not a lock held for ever. Asked for with
// --stale-after 5s and the default ttl (30 s), the renew interval follows the shorter of the two
// (5 s / 3): the holder's wrapper stops COMMAND and exits 79, and a waiting contender gets the
// lock within stale_after plus one renew interval.
class Deadlock : public ::testing::TestWithParam<Backend> {};

TEST_P(Deadlock, StaleAfterWithTheDefaultTtlIsTakenOverWithinOneRenewInterval) {
  const Backend& b = GetParam();
  const std::string url = b.url();
  TempDir dir;
  const std::string key = "deadlock-" + unique_suffix();
  const std::string pid_file = dir.file("command.pid");
  const std::string script = "echo $$ > " + pid_file + "; exec sleep 60";
  const std::string bin = testing::heartlock_binary();
  const long long begun = wall_ns();
  // --heartbeat explicit, and COMMAND never sends one: alive, but no progress.
  auto holder = testing::Child::fork([&]() -> int {
    ::setpgid(0, 0);
    ::execl(bin.c_str(), bin.c_str(), "-q", "-b", url.c_str(), "run", "-k", key.c_str(),
            "--stale-after", "5s", "--heartbeat", "explicit", "--", "sh", "-c", script.c_str(),
            nullptr);
    return 127;
  });
  ASSERT_TRUE(testing::eventually([&] { return read_numbers(pid_file).size() == 1; }))
      << "the holder never ran";
  const auto command = static_cast<pid_t>(read_numbers(pid_file)[0]);
  const std::string started = dir.file("contender.start");
  auto contender = testing::run_command({bin, "-q", "-b", url, "run", "-k", key, "-w", "60s", "--",
                                         "sh", "-c", "date +%s%N > " + started},
                                        {}, 90s);
  ASSERT_EQ(contender.exit_code, 0) << contender.err;
  EXPECT_EQ(holder.exit_code(30s), 79) << "the deadlocked holder must report the lost lease";
  EXPECT_TRUE(testing::eventually([&] { return !testing::process_alive(command); }, 5s))
      << "the deadlocked COMMAND still runs";
  auto start = read_numbers(started);
  ASSERT_EQ(start.size(), 1u);
  // stale_after + one renew interval (5 s + 5 s / 3), and 2 s for a loaded machine.
  const auto bound = std::chrono::nanoseconds(5s + 1667ms + 2s).count();
  EXPECT_LT(start[0] - begun, bound)
      << "the contender started " << (start[0] - begun) / 1'000'000 << "ms after the holder";
  std::printf("[ measure  ] %s: contender started %lldms after the deadlocked holder\n",
              b.name.c_str(), (start[0] - begun) / 1'000'000);
}

INSTANTIATE_TEST_SUITE_P(Backends, Deadlock, ::testing::ValuesIn(testing::every_backend()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace heartlock
