// heartlock-torture: N worker processes loop acquire -> "enter" -> hold -> "exit" -> release on
// one lock while this driver SIGKILLs, SIGSTOPs and SIGCONTs them at random; then the log is
// verified (see torture_check.h). One line out:
//   sections=… violations=0 kills=… stops=… fenced=…
// Exit 0 only with no violation and at least one section.
//
// --no-lock runs the same workers without taking the lock, to show the checker catches overlap.
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
#include <random>
#include <thread>

#include <CLI/CLI.hpp>

#include "heartlock/duration.h"
#include "heartlock/heartlock.h"

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
  unsigned seed = 0;
};

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
    std::this_thread::sleep_for(std::chrono::microseconds(hold_us(rng)));
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

  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(config.seconds));
  std::mt19937 rng(config.seed);
  std::map<pid_t, bool> workers;  // pid -> stopped
  std::multimap<Clock::time_point, pid_t> resume;
  for (int i = 0; i < config.workers; ++i) {
    workers[spawn(config, end, static_cast<unsigned>(rng()))] = false;
  }
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
    auto it = workers.begin();
    std::advance(it, std::uniform_int_distribution<std::size_t>(0, workers.size() - 1)(rng));
    pid_t victim = it->first;
    int roll = action(rng);
    if (roll < 8) {
      append(log, "kill " + std::to_string(victim));
      ::kill(victim, SIGKILL);
      ::waitpid(victim, nullptr, 0);
      workers.erase(victim);
      workers[spawn(config, end, static_cast<unsigned>(rng()))] = false;
    } else if (roll < 30 && !it->second) {
      append(log, "stop " + std::to_string(victim));
      ::kill(victim, SIGSTOP);
      it->second = true;
      resume.emplace(now + std::chrono::milliseconds(stop_ms(rng)), victim);
    }
  }
  for (auto& [pid, stopped] : workers) {
    if (stopped) {
      ::kill(pid, SIGCONT);
      append(log, "cont " + std::to_string(pid));
    }
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
            << " stops=" << v.stops << " fenced=" << v.fenced << std::endl;
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
