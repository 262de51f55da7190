#include "torture_workers.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "heartlock/heartlock.h"

#include "fenced_resource.h"

namespace heartlock::tools {
namespace {

using namespace std::chrono_literals;

// Half the sections short (0-3 ms: many handovers), half up to twice the ttl.
std::chrono::microseconds hold_time(std::mt19937& rng, std::chrono::milliseconds ttl) {
  if (std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
    return std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng));
  }
  return std::chrono::microseconds(
      std::uniform_int_distribution<long>(0, 2 * ttl.count() * 1000)(rng));
}

// A worker stops writing this long before its lease's deadline: a write must reach the resource
// before a contender can (the deadline itself already keeps 1 % of the ttl + 1 ms to the
// server's expiry).
std::chrono::milliseconds write_margin(std::chrono::milliseconds ttl) {
  return std::max(std::chrono::milliseconds(2), ttl / 100);
}

}  // namespace

int run_worker(const WorkerOptions& o) {
  ResourceClient resource;
  auto store = Store::open(o.backend);
  if (!resource.connect(o.resource) || !store) {
    std::fprintf(stderr, "worker %ld: cannot open the backend or the resource\n", o.id);
    return 3;
  }
  std::mt19937 rng(o.seed);
  std::uint64_t fake_token = 0;
  while (std::chrono::steady_clock::now() < o.end) {
    if (o.no_lock) {
      const std::uint64_t token = ++fake_token;
      resource.write("enter", token, o.id, true);
      std::this_thread::sleep_for(std::min(hold_time(rng, o.ttl), std::chrono::microseconds(3ms)));
      resource.write("exit", token, o.id, true);
      continue;
    }
    auto got = (*store)->acquire("torture", {.ttl = o.ttl}, 200ms);
    if (!got) {
      // Expected while a server restarts or is stopped; the run's summary shows those faults.
      std::this_thread::sleep_for(10ms);
      continue;
    }
    if (got->busy()) {
      continue;
    }
    Lease& lease = got->lease();
    const std::uint64_t token = lease.token();
    const auto margin = write_margin(o.ttl);
    auto holds = [&] { return !lease.lost() && BootClock::now() + margin < lease.valid_until(); };
    resource.write("enter", token, o.id, holds());
    // Write while holding, whatever happens meanwhile, but end by the lease's deadline.
    const auto hold_end = BootClock::now() + hold_time(rng, o.ttl);
    while (BootClock::now() < hold_end && holds()) {
      resource.write("write", token, o.id, true);
      std::this_thread::sleep_for(kWriteInterval);
    }
    resource.write("exit", token, o.id, holds());
    (void)lease.release();
  }
  return 0;
}

int run_writer() {
  const char* token = std::getenv("HEARTLOCK_TOKEN");
  const char* path = std::getenv("TORTURE_RESOURCE");
  const char* worker = std::getenv("TORTURE_WORKER");
  const char* ttl = std::getenv("TORTURE_TTL_MS");
  ResourceClient resource;
  if (token == nullptr || path == nullptr || worker == nullptr || ttl == nullptr ||
      !resource.connect(path)) {
    std::fprintf(stderr, "torture writer: no HEARTLOCK_TOKEN or resource\n");
    return 3;
  }
  const std::uint64_t t = std::strtoull(token, nullptr, 10);
  const long id = std::atol(worker);
  std::mt19937 rng(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const auto hold_end =
      std::chrono::steady_clock::now() + hold_time(rng, std::chrono::milliseconds(std::atol(ttl)));
  // "held": a COMMAND believes it holds the lock for as long as it runs.
  resource.write("enter", t, id, true);
  while (std::chrono::steady_clock::now() < hold_end) {
    resource.write("write", t, id, true);
    std::this_thread::sleep_for(kWriteInterval);
  }
  resource.write("exit", t, id, true);
  return 0;
}

}  // namespace heartlock::tools
