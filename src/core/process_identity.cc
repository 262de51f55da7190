#include "process_identity.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <mutex>
#include <new>
#include <random>
#include <sstream>

#include <pthread.h>

namespace heartlock::detail {
namespace {

std::string read_first_line(const char* path) {
  std::string text = read_small_file(path, 4096).value_or("");
  return text.substr(0, text.find('\n'));
}

// Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and ')', so fields are
// counted from the last ')'. Returns the state letter and the start time (field 22).
bool read_stat(std::int64_t pid, char& state, std::uint64_t& start) {
  std::string text = read_small_file("/proc/" + std::to_string(pid) + "/stat", 4096).value_or("");
  auto close = text.rfind(')');
  if (close == std::string::npos) {
    return false;
  }
  std::istringstream fields(text.substr(close + 1));
  std::string field;
  // After ')': field 3 (state) is the first; starttime is field 22, the 20th.
  for (int i = 3; i <= 22 && (fields >> field); ++i) {
    if (i == 3) {
      state = field.empty() ? '?' : field[0];
    } else if (i == 22) {
      auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), start);
      return ec == std::errc();
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> read_small_file(const std::string& path, std::size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || out.size() >= limit) {
      ::close(fd);
      if (n < 0) {
        return std::nullopt;
      }
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

const std::string& boot_id() {
  static const std::string id = read_first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

std::uint64_t start_ticks_of(std::int64_t pid) {
  char state = '?';
  std::uint64_t start = 0;
  return read_stat(pid, state, start) ? start : 0;
}

namespace {

// Per-process state, reset in the child after fork(2): the pid changes and a copied random
// generator would hand the child the parent's next owner ids.
struct ProcessState {
  std::mutex mu;
  ProcessIdentity identity;  // pid 0: not known yet
  std::mt19937_64 rng;
  bool seeded = false;
};

ProcessState& process_state() {
  static ProcessState* state = [] {
    auto* s = new ProcessState();  // never destroyed: usable from atexit handlers and threads
    ::pthread_atfork(nullptr, nullptr, [] {
      // In the child only one thread exists; the mutex may have been copied locked.
      new (&process_state().mu) std::mutex();
      process_state().identity.pid = 0;
      process_state().seeded = false;
    });
    return s;
  }();
  return *state;
}

}  // namespace

ProcessIdentity self_identity() {
  ProcessState& state = process_state();
  std::lock_guard lock(state.mu);
  ProcessIdentity& cached = state.identity;
  if (cached.pid == 0) {
    std::int64_t pid = ::getpid();
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) {
      host[0] = '\0';
    }
    cached.host = host.data();
    cached.boot_id = boot_id();
    cached.pid = pid;
    cached.start_ticks = start_ticks_of(pid);
  }
  return cached;
}

Liveness liveness(std::int64_t pid, std::uint64_t start_ticks, std::string_view boot) {
  if (pid <= 0) {
    return Liveness::dead;
  }
  if (!boot.empty() && !boot_id().empty() && boot != boot_id()) {
    return Liveness::dead;  // another boot: every process of it is gone
  }
  char state = '?';
  std::uint64_t start = 0;
  if (!read_stat(pid, state, start)) {
    // No /proc entry: the process is gone, unless /proc hides other users' processes.
    return ::access("/proc/self/stat", R_OK) == 0 ? Liveness::dead : Liveness::unknown;
  }
  if (start_ticks != 0 && start != start_ticks) {
    return Liveness::dead;  // the PID was reused
  }
  if (state == 'Z' || state == 'X') {
    return Liveness::dead;  // a zombie holds no locks any more
  }
  return Liveness::alive;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n <= 0) {
      continue;  // EINTR; getrandom does not fail otherwise once the pool is initialised
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string make_owner() {
  std::string owner;
  std::uint64_t r = 0;
  {
    // A generator seeded once per process from getrandom(2): owner ids need uniqueness, not
    // secrecy, and a syscall per acquisition would cost more than the rest of it.
    ProcessState& state = process_state();
    std::lock_guard lock(state.mu);
    if (!state.seeded) {
      std::string seed = random_hex(8);
      state.rng.seed(std::stoull(seed, nullptr, 16));
      state.seeded = true;
    }
    r = state.rng() & 0xffffffffffffULL;  // 48 bits
  }
  // host:pid:48 random bits in 12 hex digits, built in one allocation (an acquisition's hot path).
  const ProcessIdentity self = self_identity();
  char pid[24];
  const auto pid_end = std::to_chars(pid, pid + sizeof pid, self.pid).ptr;
  static constexpr char kHex[] = "0123456789abcdef";
  char hex[12];
  for (int i = 11; i >= 0; --i, r >>= 4) {
    hex[i] = kHex[r & 15];
  }
  owner.reserve(self.host.size() + 2 + static_cast<std::size_t>(pid_end - pid) + sizeof hex);
  owner.append(self.host).append(":").append(pid, pid_end).append(":").append(hex, sizeof hex);
  return owner;
}

}  // namespace heartlock::detail
