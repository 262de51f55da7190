// heartlock-torture: N worker processes loop acquire -> "enter" -> hold -> "exit" -> release on
// one lock while this driver SIGKILLs, SIGSTOPs and SIGCONTs them at random; then the log is
// verified (see torture_check.h). One line out:
//   sections=… violations=0 kills=… stops=… fenced=…
// Exit 0 only with no violation and at least one section.
//
// --no-lock runs the same workers without taking the lock, to show the checker catches overlap.
//
// --partition (a network backend on 127.0.0.1): each worker reaches the server through a proxy
// of its own, and the driver also freezes a random worker's proxy for longer than the ttl (a
// partition: the server stays up for the others). Workers then hold their sections up to twice
// the ttl, ending each by Lease::valid_until(): a cut-off holder must be out before anyone else
// can get in. The proxies run in a process of their own, forked before anything else, so that
// the driver stays single-threaded and can fork workers at any time.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "heartlock/duration.h"
#include "heartlock/heartlock.h"

#include "tcp_proxy.h"
#include "torture_check.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Config {
  int workers = 8;
  double seconds = 10;
  std::chrono::milliseconds ttl = 300ms;
  std::string backend;
  std::string log_path;
  bool no_lock = false;
  bool partition = false;
  unsigned seed = 0;
};

// The proxies of --partition, in a process of their own. Commands on a pipe: 'F'/'T' and a
// worker slot byte (freeze/thaw); each answered with one byte once done.
class ProxyHost {
 public:
  // Forks the host with `count` proxies to `upstream`; false if it cannot.
  bool start(int count, int upstream) {
    int cmd[2];
    int ack[2];
    if (::pipe2(cmd, O_CLOEXEC) != 0 || ::pipe2(ack, O_CLOEXEC) != 0) {
      return false;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(cmd[1]);
      ::close(ack[0]);
      std::vector<std::unique_ptr<heartlock::tools::TcpProxy>> proxies;
      for (int i = 0; i < count; ++i) {
        proxies.push_back(std::make_unique<heartlock::tools::TcpProxy>(upstream));
        int port = proxies.back()->port();
        (void)!::write(ack[1], &port, sizeof port);
      }
      unsigned char c[2];
      while (::read(cmd[0], c, 2) == 2) {
        auto& proxy = *proxies.at(c[1]);
        c[0] == 'F' ? proxy.freeze() : proxy.thaw();
        (void)!::write(ack[1], c, 1);
      }
      ::_exit(0);
    }
    ::close(cmd[0]);
    ::close(ack[1]);
    cmd_ = cmd[1];
    ack_ = ack[0];
    for (int i = 0; i < count; ++i) {
      int port = 0;
      if (::read(ack_, &port, sizeof port) != sizeof port) {
        return false;
      }
      ports_.push_back(port);
    }
    return true;
  }
  ~ProxyHost() {
    if (pid_ > 0) {
      ::close(cmd_);
      ::close(ack_);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void set(int slot, bool frozen) {
    unsigned char c[2] = {static_cast<unsigned char>(frozen ? 'F' : 'T'),
                          static_cast<unsigned char>(slot)};
    (void)!::write(cmd_, c, 2);
    (void)!::read(ack_, c, 1);
  }
  int port(int slot) const { return ports_.at(static_cast<std::size_t>(slot)); }

 private:
  pid_t pid_ = -1;
  int cmd_ = -1;
  int ack_ = -1;
  std::vector<int> ports_;
};

// The port of the single 127.0.0.1:PORT in `url`, or 0.
int loopback_port(const std::string& url) {
  auto at = url.find("127.0.0.1:");
  if (at == std::string::npos) {
    return 0;
  }
  return std::atoi(url.c_str() + at + 10);
}

std::string with_port(const std::string& url, int port) {
  auto at = url.find("127.0.0.1:") + 10;
  auto end = url.find_first_not_of("0123456789", at);
  return url.substr(0, at) + std::to_string(port) +
         (end == std::string::npos ? "" : url.substr(end));
}

void append(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());  // O_APPEND: one write is one atomic line
}

int worker(const Config& config, Clock::time_point end, unsigned seed) {
  int log = ::open(config.log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  auto store = heartlock::Store::open(config.backend);
  if (log < 0 || !store) {
    return 3;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> hold_us(0, 3000);
  std::uniform_int_distribution<int> hold_long(0, 200);  // percent of the ttl
  const std::string pid = std::to_string(::getpid());
  std::uint64_t fake_token = 0;
  while (Clock::now() < end) {
    if (config.no_lock) {
      std::uint64_t token = ++fake_token;
      append(log, "enter " + std::to_string(token) + " " + pid);
      std::this_thread::sleep_for(std::chrono::microseconds(hold_us(rng)));
      append(log, "exit " + std::to_string(token) + " " + pid);
      continue;
    }
    auto got = (*store)->acquire("torture", {.ttl = config.ttl}, 200ms);
    if (!got) {
      std::fprintf(stderr, "worker %s: %s\n", pid.c_str(), got.error().message.c_str());
      std::this_thread::sleep_for(10ms);
      continue;
    }
    if (got->busy()) {
      continue;
    }
    heartlock::Lease& lease = got->lease();
    std::string token = std::to_string(lease.token());
    append(log, "enter " + token + " " + pid);
    if (config.partition) {
      // Hold up to twice the ttl, but end by the lease's deadline, whatever happens meanwhile.
      const auto hold_end = heartlock::BootClock::now() +
                            std::chrono::milliseconds(hold_long(rng) * config.ttl.count() / 100);
      while (heartlock::BootClock::now() < hold_end &&
             heartlock::BootClock::now() + 1ms < lease.valid_until()) {
        std::this_thread::sleep_for(500us);
      }
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(hold_us(rng)));
    }
    append(log, "exit " + token + " " + pid);
    (void)lease.release();
  }
  return 0;
}

pid_t spawn(const Config& config, Clock::time_point end, unsigned seed) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(worker(config, end, seed));
  }
  return pid;
}

// A worker in slot `slot`: with --partition it reaches the server through that slot's proxy.
pid_t spawn_in(const Config& config, const ProxyHost* proxies, int slot, Clock::time_point end,
               unsigned seed) {
  if (proxies == nullptr) {
    return spawn(config, end, seed);
  }
  Config own = config;
  own.backend = with_port(config.backend, proxies->port(slot));
  return spawn(own, end, seed);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  std::string ttl = "300ms";
  CLI::App app{"heartlock-torture: kill and pause lock holders at random; verify the log"};
  app.add_option("--workers", config.workers, "Worker processes")->check(CLI::Range(2, 256));
  app.add_option("--seconds", config.seconds, "How long to run")->check(CLI::Range(0.5, 86400.0));
  app.add_option("--ttl", ttl, "Lease ttl of the workers");
  app.add_option("--backend", config.backend, "Backend URL (default: a new temporary directory)");
  app.add_option("--log", config.log_path, "Where to keep the log (default: a temporary file)");
  app.add_option("--seed", config.seed, "Random seed (default: from the clock)");
  app.add_flag("--no-lock", config.no_lock, "Do not lock at all (the checker must object)");
  app.add_flag("--partition", config.partition,
               "Also cut workers off from the server (a network backend on 127.0.0.1)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 64;
  }
  auto parsed_ttl = heartlock::parse_duration(ttl);
  if (!parsed_ttl) {
    std::cerr << "heartlock-torture: " << parsed_ttl.error().message << "\n";
    return 64;
  }
  config.ttl = *parsed_ttl;
  if (config.seed == 0) {
    config.seed = static_cast<unsigned>(Clock::now().time_since_epoch().count());
  }
  std::string scratch;
  if (config.backend.empty() || config.log_path.empty()) {
    char tmpl[] = "/tmp/heartlock-torture-XXXXXX";
    scratch = ::mkdtemp(tmpl);
    if (config.backend.empty()) {
      config.backend = "file://" + scratch + "/locks";
    }
    if (config.log_path.empty()) {
      config.log_path = scratch + "/log";
    }
  }
  int log =
      ::open(config.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0) {
    std::cerr << "heartlock-torture: cannot open " << config.log_path << "\n";
    return 69;
  }

  std::optional<ProxyHost> proxies;
  if (config.partition) {
    const int upstream = loopback_port(config.backend);
    if (upstream == 0 || config.backend.find(',') != std::string::npos) {
      std::cerr << "heartlock-torture: --partition needs a backend on one 127.0.0.1:PORT\n";
      return 64;
    }
    proxies.emplace();
    if (!proxies->start(config.workers, upstream)) {
      std::cerr << "heartlock-torture: cannot start the proxies\n";
      return 69;
    }
  }
  const ProxyHost* host = proxies ? &*proxies : nullptr;

  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.seconds));
  std::mt19937 rng(config.seed);
  std::map<pid_t, bool> workers;  // pid -> stopped
  std::map<pid_t, int> slot_of;   // pid -> its proxy (--partition)
  std::multimap<Clock::time_point, pid_t> resume;
  std::multimap<Clock::time_point, int> heal;  // slot
  std::set<int> cut;                           // slots cut off now
  for (int i = 0; i < config.workers; ++i) {
    pid_t pid = spawn_in(config, host, i, end, static_cast<unsigned>(rng()));
    workers[pid] = false;
    slot_of[pid] = i;
  }
  std::uniform_int_distribution<long> cut_ms(config.ttl.count(), config.ttl.count() * 3);
  std::uniform_int_distribution<int> pause_ms(2, 40);
  std::uniform_int_distribution<int> action(0, 99);
  std::uniform_int_distribution<long> stop_ms(0, config.ttl.count() * 3);
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    auto now = Clock::now();
    while (!resume.empty() && resume.begin()->first <= now) {
      pid_t pid = resume.begin()->second;
      resume.erase(resume.begin());
      if (workers.contains(pid)) {
        ::kill(pid, SIGCONT);
        append(log, "cont " + std::to_string(pid));
        workers[pid] = false;
      }
    }
    while (!heal.empty() && heal.begin()->first <= now) {
      int slot = heal.begin()->second;
      heal.erase(heal.begin());
      proxies->set(slot, false);
      cut.erase(slot);
      append(log, "heal " + std::to_string(slot));
    }
    auto it = workers.begin();
    std::advance(it, std::uniform_int_distribution<std::size_t>(0, workers.size() - 1)(rng));
    pid_t victim = it->first;
    int roll = action(rng);
    if (roll < 8) {
      append(log, "kill " + std::to_string(victim));
      ::kill(victim, SIGKILL);
      ::waitpid(victim, nullptr, 0);
      workers.erase(victim);
      const int slot = slot_of[victim];
      slot_of.erase(victim);
      pid_t pid = spawn_in(config, host, slot, end, static_cast<unsigned>(rng()));
      workers[pid] = false;
      slot_of[pid] = slot;
    } else if (roll < 30 && !it->second) {
      append(log, "stop " + std::to_string(victim));
      ::kill(victim, SIGSTOP);
      it->second = true;
      resume.emplace(now + std::chrono::milliseconds(stop_ms(rng)), victim);
    } else if (roll < 38 && proxies && !cut.contains(slot_of[victim])) {
      // A partition: the victim's requests hang while the server serves everyone else.
      const int slot = slot_of[victim];
      append(log, "cut " + std::to_string(victim));
      proxies->set(slot, true);
      cut.insert(slot);
      heal.emplace(now + std::chrono::milliseconds(cut_ms(rng)), slot);
    }
  }
  for (auto& [pid, stopped] : workers) {
    if (stopped) {
      ::kill(pid, SIGCONT);
      append(log, "cont " + std::to_string(pid));
    }
  }
  for (int slot : cut) {
    proxies->set(slot, false);
    append(log, "heal " + std::to_string(slot));
  }
  int failed_workers = 0;
  for (auto& [pid, stopped] : workers) {
    int status = 0;
    // Workers stop by themselves at the deadline; give them a little longer, then insist.
    for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(10ms);
      if (i == 499) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
      }
    }
    // A worker that exited with an error, or died of a signal other than our own SIGKILL (an
    // abort, a crash), failed.
    failed_workers += (WIFEXITED(status) && WEXITSTATUS(status) != 0) ||
                      (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL);
  }
  ::close(log);

  std::ifstream in(config.log_path);
  auto v = heartlock::tools::check_log(in);
  std::cout << "sections=" << v.sections << " violations=" << v.violations << " kills=" << v.kills
            << " stops=" << v.stops << " partitions=" << v.partitions << " fenced=" << v.fenced
            << std::endl;
  for (const auto& p : v.problems) {
    std::cerr << "heartlock-torture: " << p << "\n";
  }
  if (failed_workers > 0) {
    std::cerr << "heartlock-torture: " << failed_workers << " workers failed\n";
  }
  if (!scratch.empty() && v.violations == 0) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
  } else if (v.violations > 0) {
    std::cerr << "heartlock-torture: log kept at " << config.log_path << " (seed " << config.seed
              << ")\n";
  }
  return v.violations == 0 && v.sections > 0 && failed_workers == 0 ? 0 : 1;
}
