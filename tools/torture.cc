// heartlock-torture: N worker processes take one lock and write through a fenced resource (a
// process that rejects writes with a token below the highest it has seen, fenced_resource.h)
// while this driver SIGKILLs, SIGSTOPs and SIGCONTs them at random; then the log of every write
// and every fault is verified (torture_check.h). One line out:
//   sections=… violations=0 lost_updates=0 fenced=… writes=… kills=… stops=… partitions=… …
// Exit 0 only with no violation, no lost update and at least one section.
//
// --no-kill: no SIGKILL of workers (or wrappers). --no-lock runs the same workers without taking
// the lock, and --no-fence makes the resource accept every write: the checker must object to
// both (violations, lost updates).
//
// --partition (a network backend on one 127.0.0.1:PORT): each worker reaches the server through
// a proxy of its own, and the driver also freezes a random worker's proxy for longer than the ttl
// (the server stays up for the others). The proxies run in a process of their own, forked before
// anything else, so that the driver stays single-threaded and can fork workers at any time.
//
// --clock-jumps: a third of the workers run under libfaketime (wall clock only; the monotonic and
// boot clocks stay true, as on a real machine whose clock is stepped), and the driver jumps their
// wall clocks by hours now and then.
//
// --cli PATH: each worker is `PATH run -k torture -- heartlock-torture --writer` (torture_
// workers.h), and the driver SIGSTOPs and SIGKILLs the wrapper, not COMMAND: heartlock run's
// watchdog must stop COMMAND before anyone else can get the lock.
//
// Faults of the server (restarts, SIGSTOP, ended sessions) are injected by whoever started the
// server, appending lines to the same log (--log): tests/integration/torture_test.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "heartlock/duration.h"
#include "heartlock/heartlock.h"

#include "fenced_resource.h"
#include "proxy_host.h"
#include "torture_check.h"
#include "torture_workers.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using heartlock::tools::loopback_port;
using heartlock::tools::ProxyHost;
using heartlock::tools::with_port;
using heartlock::tools::WorkerOptions;

struct Config {
  int workers = 8;
  double seconds = 10;
  std::chrono::milliseconds ttl = 300ms;
  std::string backend;
  std::string log_path;
  std::string resource;  // the fenced resource's socket
  std::string cli;       // heartlock executable: CLI mode
  std::string faketime_lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  std::string scratch_dir;  // the clock files of jumped workers, the wrappers' stderr
  bool no_lock = false;
  bool no_fence = false;
  bool partition = false;
  bool clock_jumps = false;
  bool no_kill = false;
  int max_pause_ms = 40;  // the driver pauses 2..this between two rolls of the fault dice
  unsigned seed = 0;
};

void append(int fd, const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(fd, text.data(), text.size());  // O_APPEND: one write is one atomic line
}

std::string self_path() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// Whether worker slot `slot` runs under libfaketime (--clock-jumps: a third of them).
bool jumped(const Config& config, int slot) { return config.clock_jumps && slot % 3 == 0; }

std::string clock_file(const Config& config, int slot) {
  return config.scratch_dir + "/clock." + std::to_string(slot);
}

// In a forked worker, before exec: libfaketime on the wall clock only, read from the slot's file
// (at most a second old, so jumps arrive while the worker runs).
void preload_faketime(const Config& config, int slot) {
  ::setenv("LD_PRELOAD", config.faketime_lib.c_str(), 1);
  ::setenv("FAKETIME_TIMESTAMP_FILE", clock_file(config, slot).c_str(), 1);
  ::setenv("FAKETIME_CACHE_DURATION", "1", 1);
  ::setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
  // A sanitizer runtime must then not insist on coming first.
  const char* asan = std::getenv("ASAN_OPTIONS");
  ::setenv("ASAN_OPTIONS",
           (std::string(asan != nullptr ? asan : "") + ":verify_asan_link_order=0").c_str(), 1);
}

[[noreturn]] void exec(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  std::perror(argv[0]);
  ::_exit(127);
}

// Starts the worker of `slot`; with --partition it reaches the server through that slot's proxy.
pid_t spawn(const Config& config, const ProxyHost* proxies, int slot, Clock::time_point end,
            unsigned seed) {
  const std::string backend =
      proxies != nullptr ? with_port(config.backend, proxies->port(slot)) : config.backend;
  pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  const std::string id = std::to_string(::getpid());
  if (jumped(config, slot)) {
    preload_faketime(config, slot);
  }
  if (!config.cli.empty()) {
    // COMMAND learns who it writes for from the environment heartlock run passes on.
    ::setenv("TORTURE_WORKER", id.c_str(), 1);
    ::setenv("TORTURE_RESOURCE", config.resource.c_str(), 1);
    ::setenv("TORTURE_TTL_MS", std::to_string(config.ttl.count()).c_str(), 1);
    ::setpgid(0, 0);  // as a shell would start it: a job of its own
    // Its warnings ("lease lost while the command ran") are expected here: kept aside.
    const int err = ::open((config.scratch_dir + "/wrappers.log").c_str(),
                           O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (err >= 0) {
      ::dup2(err, 2);
    }
    exec({config.cli, "-q", "-b", backend, "run", "-k", "torture", "--ttl",
          std::to_string(config.ttl.count()) + "ms", "-w", "200ms", "--", self_path(), "--writer"});
  }
  const double left = std::max(0.0, std::chrono::duration<double>(end - Clock::now()).count());
  if (jumped(config, slot)) {
    // libfaketime has to be loaded at exec: the worker runs as a process of its own.
    std::vector<std::string> args = {self_path(),  "--worker",
                                     "--backend",  backend,
                                     "--resource", config.resource,
                                     "--ttl",      std::to_string(config.ttl.count()) + "ms",
                                     "--seconds",  std::to_string(left),
                                     "--seed",     std::to_string(seed),
                                     "--id",       id};
    if (config.no_lock) {
      args.push_back("--no-lock");
    }
    exec(std::move(args));
  }
  ::_exit(heartlock::tools::run_worker(WorkerOptions{.backend = backend,
                                                     .resource = config.resource,
                                                     .ttl = config.ttl,
                                                     .no_lock = config.no_lock,
                                                     .end = end,
                                                     .seed = seed,
                                                     .id = ::getpid()}));
}

// Whether a worker's wait status is one it may end with. A CLI wrapper may also report the lock
// held (75), the backend unavailable (69) or the lease lost (79): all expected under faults.
bool acceptable(const Config& config, int status) {
  if (WIFSIGNALED(status)) {
    return WTERMSIG(status) == SIGKILL;  // ours
  }
  const int code = WEXITSTATUS(status);
  return code == 0 || (!config.cli.empty() && (code == 75 || code == 69 || code == 79));
}

// The driver: workers, faults, and the end of the run. Returns the number of workers that failed.
int drive(const Config& config, int log, ProxyHost* proxies) {
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.seconds));
  const bool cli = !config.cli.empty();
  const std::string stop_word = cli ? "wstop " : "stop ";
  const std::string cont_word = cli ? "wcont " : "cont ";
  std::mt19937 rng(config.seed);
  std::map<pid_t, bool> workers;  // pid -> stopped
  std::map<pid_t, int> slot_of;
  std::multimap<Clock::time_point, pid_t> resume;
  std::multimap<Clock::time_point, int> heal;  // slot
  std::set<int> cut;                           // slots cut off now
  int failed = 0;
  auto start = [&](int slot) {
    pid_t pid = spawn(config, proxies, slot, end, static_cast<unsigned>(rng()));
    workers[pid] = false;
    slot_of[pid] = slot;
  };
  for (int i = 0; i < config.workers; ++i) {
    start(i);
  }
  std::uniform_int_distribution<long> cut_ms(config.ttl.count(), config.ttl.count() * 3);
  std::uniform_int_distribution<int> pause_ms(2, std::max(2, config.max_pause_ms));
  std::uniform_int_distribution<int> action(0, 99);
  std::uniform_int_distribution<long> stop_ms(0, config.ttl.count() * 3);
  const char* offsets[] = {"+0", "+2h", "-2h", "+1d", "-1d", "+90s", "-90s"};
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    auto now = Clock::now();
    while (!resume.empty() && resume.begin()->first <= now) {
      pid_t pid = resume.begin()->second;
      resume.erase(resume.begin());
      if (workers.contains(pid)) {
        ::kill(pid, SIGCONT);
        append(log, cont_word + std::to_string(pid));
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
    if (cli) {
      // A wrapper ends after each COMMAND: start the next one in its slot.
      for (auto it = workers.begin(); it != workers.end();) {
        int status = 0;
        if (::waitpid(it->first, &status, WNOHANG) != it->first) {
          ++it;
          continue;
        }
        if (!acceptable(config, status)) {
          ++failed;
          std::cerr << "heartlock-torture: wrapper " << it->first << " ended with status " << status
                    << "\n";
        }
        const int slot = slot_of[it->first];
        slot_of.erase(it->first);
        it = workers.erase(it);
        start(slot);
      }
    }
    auto it = workers.begin();
    std::advance(it, std::uniform_int_distribution<std::size_t>(0, workers.size() - 1)(rng));
    pid_t victim = it->first;
    int roll = action(rng);
    if (roll < 8 && !config.no_kill) {
      append(log, "kill " + std::to_string(victim));
      ::kill(victim, SIGKILL);
      ::waitpid(victim, nullptr, 0);
      workers.erase(victim);
      const int slot = slot_of[victim];
      slot_of.erase(victim);
      start(slot);
    } else if (roll < 30 && !it->second) {
      append(log, stop_word + std::to_string(victim));
      ::kill(victim, SIGSTOP);
      it->second = true;
      resume.emplace(now + std::chrono::milliseconds(stop_ms(rng)), victim);
    } else if (roll < 38 && proxies != nullptr && !cut.contains(slot_of[victim])) {
      // A partition: the victim's requests hang while the server serves everyone else.
      const int slot = slot_of[victim];
      append(log, "cut " + std::to_string(victim));
      proxies->set(slot, true);
      cut.insert(slot);
      heal.emplace(now + std::chrono::milliseconds(cut_ms(rng)), slot);
    } else if (roll < 40 && config.clock_jumps) {
      // A step of the wall clock of one jumped slot, while its worker may hold the lease.
      const int slot = 3 * std::uniform_int_distribution<int>(0, (config.workers - 1) / 3)(rng);
      const char* offset = offsets[std::uniform_int_distribution<std::size_t>(0, 6)(rng)];
      std::ofstream(clock_file(config, slot)) << offset << "\n";
      append(log, "jump " + std::to_string(slot) + " " + offset);
    }
  }
  for (auto& [pid, stopped] : workers) {
    if (stopped) {
      ::kill(pid, SIGCONT);
      append(log, cont_word + std::to_string(pid));
    }
  }
  for (int slot : cut) {
    proxies->set(slot, false);
    append(log, "heal " + std::to_string(slot));
  }
  // Workers stop by themselves at the deadline (a CLI wrapper once its COMMAND is done: up to
  // two ttls); give them a little longer, then insist.
  const auto give_up = Clock::now() + 5s + 3 * config.ttl;
  for (auto& [pid, stopped] : workers) {
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (Clock::now() > give_up) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    // A worker that exited with an error, or died of a signal other than our own SIGKILL (an
    // abort, a crash), failed.
    if (!acceptable(config, status)) {
      ++failed;
      std::cerr << "heartlock-torture: worker " << pid << " ended with status " << status << "\n";
    }
  }
  return failed;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  std::string ttl = "300ms";
  bool worker_mode = false;
  bool writer_mode = false;
  long worker_id = 0;
  CLI::App app{"heartlock-torture: kill and pause lock holders at random; verify the log"};
  app.add_option("--workers", config.workers, "Worker processes")->check(CLI::Range(2, 256));
  app.add_option("--seconds", config.seconds, "How long to run")->check(CLI::Range(0.0, 86400.0));
  app.add_option("--ttl", ttl, "Lease ttl of the workers");
  app.add_option("--backend", config.backend, "Backend URL (default: a new temporary directory)");
  app.add_option("--log", config.log_path, "Where to keep the log (default: a temporary file)");
  app.add_option("--seed", config.seed, "Random seed (default: from the clock)");
  app.add_flag("--no-lock", config.no_lock, "Do not lock at all (the checker must object)");
  app.add_flag("--no-fence", config.no_fence,
               "The resource accepts stale tokens (the checker must report lost updates)");
  app.add_flag("--partition", config.partition,
               "Also cut workers off from the server (a network backend on 127.0.0.1)");
  app.add_flag("--clock-jumps", config.clock_jumps,
               "Run a third of the workers under libfaketime and jump their wall clocks");
  app.add_flag("--no-kill", config.no_kill, "Never SIGKILL a worker (or a CLI wrapper)");
  app.add_option("--max-pause", config.max_pause_ms,
                 "Milliseconds between the driver's faults: 2 to this (default 40)");
  app.add_option("--faketime-lib", config.faketime_lib, "libfaketime for --clock-jumps");
  app.add_option("--cli", config.cli,
                 "CLI mode: each worker is `CLI run -- <writer>`; faults hit the wrapper");
  // Internal: a worker under libfaketime, and the COMMAND of CLI mode.
  app.add_flag("--worker", worker_mode)->group("");
  app.add_flag("--writer", writer_mode)->group("");
  app.add_option("--resource", config.resource)->group("");
  app.add_option("--id", worker_id)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 64;
  }
  if (writer_mode) {
    return heartlock::tools::run_writer();
  }
  auto parsed_ttl = heartlock::parse_duration(ttl);
  if (!parsed_ttl) {
    std::cerr << "heartlock-torture: " << parsed_ttl.error().message << "\n";
    return 64;
  }
  config.ttl = *parsed_ttl;
  if (worker_mode) {
    return heartlock::tools::run_worker(
        WorkerOptions{.backend = config.backend,
                      .resource = config.resource,
                      .ttl = config.ttl,
                      .no_lock = config.no_lock,
                      .end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(config.seconds)),
                      .seed = config.seed,
                      .id = worker_id});
  }
  if (config.seed == 0) {
    config.seed = static_cast<unsigned>(Clock::now().time_since_epoch().count());
  }
  // Under $TMPDIR (else /tmp): a test that expects a failing run (whose directory is kept for
  // whoever investigates) gives it a directory it removes.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                     "/heartlock-torture-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::cerr << "heartlock-torture: cannot make a directory " << tmpl << "\n";
    return 69;
  }
  const std::string scratch = tmpl;
  if (config.backend.empty()) {
    config.backend = "file://" + scratch + "/locks";
  }
  const bool own_log = config.log_path.empty();
  if (own_log) {
    config.log_path = scratch + "/log";
  }
  config.resource = scratch + "/resource";
  config.scratch_dir = scratch;
  if (config.clock_jumps) {
    if (::access(config.faketime_lib.c_str(), R_OK) != 0) {
      std::cerr << "heartlock-torture: --clock-jumps needs libfaketime at " << config.faketime_lib
                << "\n";
      return 69;
    }
    for (int slot = 0; slot < config.workers; slot += 3) {
      std::ofstream(clock_file(config, slot)) << "+0\n";
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
  heartlock::tools::FencedResource resource;
  if (!resource.start(config.resource, log, !config.no_fence)) {
    std::cerr << "heartlock-torture: cannot start the fenced resource at " << config.resource
              << "\n";
    return 69;
  }
  const int failed_workers = drive(config, log, proxies ? &*proxies : nullptr);
  resource.stop();  // every write it acknowledged is in the log now
  ::close(log);

  std::ifstream in(config.log_path);
  auto v = heartlock::tools::check_log(in);
  std::cout << heartlock::tools::summary(v) << std::endl;
  for (const auto& p : v.problems) {
    std::cerr << "heartlock-torture: " << p << "\n";
  }
  if (failed_workers > 0) {
    std::cerr << "heartlock-torture: " << failed_workers << " workers failed\n";
  }
  const bool ok = v.violations == 0 && v.lost_updates == 0 && v.sections > 0 && failed_workers == 0;
  std::error_code ec;
  if (ok) {
    std::filesystem::remove_all(scratch, ec);
  } else {
    std::cerr << "heartlock-torture: log at " << config.log_path << ", wrappers' messages in "
              << scratch << " (seed " << config.seed << ")\n";
  }
  return ok ? 0 : 1;
}
