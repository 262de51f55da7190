#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <utility>

#include <stdlib.h>

#include "../../src/core/process_identity.h"

extern char** environ;

namespace heartlock::testing {

namespace {

// The ports a test server may use: below the kernel's ephemeral range (ip_local_port_range,
// 32768-60999 by default), or above it if that range starts too low; [first, last].
std::pair<int, int> server_port_range() {
  int lo = 32768;
  int hi = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  if (lo > 11024) {
    return {10000, lo - 1};
  }
  if (hi < 64535) {
    return {hi + 1, 65535};
  }
  return {20000, 31999};  // the whole range is ephemeral: the claim below still holds
}

// Claims `port` for this process until it exits: binds an abstract Unix socket named for it
// (host-wide within the network namespace, no file, no permissions; freed when the process
// ends). False if another process, or an earlier call in this one, holds it.
bool claim_port(int port) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw std::runtime_error(std::string("socket(AF_UNIX): ") + std::strerror(errno));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "heartlock-test-port-" + std::to_string(port);
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] == 0: abstract
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    ::close(fd);
    return false;
  }
  return true;  // `fd` stays open: the claim lasts until the process exits
}

}  // namespace

// A loopback port for a test server, reserved for the life of this process.
//
// Two races made "the kernel's free port" unsafe under `ctest -j`: the kernel hands out its
// ephemeral range to every outgoing connection, so a parallel test's client could take the port
// between our check and the server's bind; and two test processes could pick the same port. So
// ports come from outside that range (server_port_range: no connect() gets one), and each is
// claimed for the life of the process (claim_port), so no other test process, nor another call
// in this one, picks it. A port something else on the machine listens on fails the bind check
// and is skipped.
int free_port() {
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static const std::pair<int, int> range = server_port_range();
  std::lock_guard guard(mu);
  const int count = range.second - range.first + 1;
  for (int attempt = 0; attempt < 4 * count; ++attempt) {
    const int port = range.first + static_cast<int>(rng() % static_cast<unsigned>(count));
    if (!claim_port(port)) {
      continue;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (bound) {
      return port;  // still claimed, though in use elsewhere when not: no one else tries it
    }
  }
  throw std::runtime_error("cannot find a free loopback port in " + std::to_string(range.first) +
                           "-" + std::to_string(range.second));
}

std::string file_tail(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > max ? "..." + all.substr(all.size() - max) : all;
}

// A socket connected to 127.0.0.1:port, or -1.
int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool accepts_connections(int port) {
  int fd = connect_loopback(port);
  ::close(fd);
  return fd >= 0;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/heartlock-test-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Child Child::fork(std::function<int()> body) {
  pid_t pid = ::fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    int code = 1;
    try {
      code = body();
    } catch (...) {
      code = 1;
    }
    ::_exit(code);
  }
  return Child(pid);
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), reaped_(o.reaped_) {}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

std::optional<int> Child::wait_for(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int Child::exit_code(std::chrono::milliseconds timeout) {
  auto status = wait_for(timeout);
  if (!status) {
    ADD_FAILURE() << "child " << pid_ << " did not finish in time";
    return -1;
  }
  if (WIFEXITED(*status)) {
    return WEXITSTATUS(*status);
  }
  return 128 + WTERMSIG(*status);
}

void Child::signal(int sig) const { ::kill(pid_, sig); }

Signal::Signal() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
}

Signal::~Signal() {
  ::close(fds_[0]);
  ::close(fds_[1]);
}

void Signal::notify(char c) { (void)!::write(fds_[1], &c, 1); }

char Signal::wait(std::chrono::milliseconds timeout) {
  pollfd p{fds_[0], POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return 0;
  }
  char c = 0;
  return ::read(fds_[0], &c, 1) == 1 ? c : 0;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

SupervisedSleep start_supervised_sleep(const std::string& url, const std::string& ttl,
                                       const TempDir& dir) {
  const std::string bin = heartlock_binary();
  const std::string script = "echo $$ > " + dir.file("command.pid") + "; exec sleep 60";
  SupervisedSleep out{.wrapper = Child::fork([&]() -> int {
                        ::setpgid(0, 0);
                        ::execl(bin.c_str(), bin.c_str(), "-b", url.c_str(), "run", "--ttl",
                                ttl.c_str(), "--", "sh", "-c", script.c_str(), nullptr);
                        return 127;
                      })};
  pid_t command = 0;
  const bool started = eventually([&] {
    std::ifstream in(dir.file("command.pid"));
    return static_cast<bool>(in >> command) && command > 0;
  });
  EXPECT_TRUE(started) << "the command never started under heartlock run -b " << url;
  out.command = started ? command : 0;
  return out;
}

std::unique_ptr<Store> open_store(const std::string& url) {
  auto store = Store::open(url);
  if (!store) {
    ADD_FAILURE() << store.error().message;
    return nullptr;
  }
  return std::move(*store);
}

std::optional<Lease> acquire_eventually(Store& store, std::string_view name,
                                        const LeaseOptions& options,
                                        std::chrono::milliseconds within) {
  std::optional<Lease> out;
  eventually(
      [&] {
        auto got = store.try_acquire(name, options);
        if (got && got->acquired()) {
          out.emplace(std::move(*got).lease());
        }
        return out.has_value();
      },
      within);
  return out;
}

std::string heartlock_binary() { return HEARTLOCK_BIN; }

bool process_alive(pid_t pid) {
  std::string text = detail::read_small_file("/proc/" + std::to_string(pid) + "/stat").value_or("");
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) {
    return false;
  }
  char state = text[close + 2];
  return state != 'Z' && state != 'X';
}

namespace {

// Whether every thread of `pid` is stopped (state T or t), or the process is gone.
bool all_threads_stopped(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    std::string text = detail::read_small_file(entry.path().string() + "/stat").value_or("");
    auto close = text.rfind(')');
    if (close != std::string::npos && close + 2 < text.size()) {
      char state = text[close + 2];
      if (state != 'T' && state != 't' && state != 'Z' && state != 'X') {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

void stop_process(pid_t pid) {
  ::kill(pid, SIGSTOP);
  EXPECT_TRUE(eventually([&] { return all_threads_stopped(pid); }, std::chrono::seconds(5)))
      << "process " << pid << " did not stop";
}

ScopedStop::ScopedStop(std::vector<pid_t> pids) : pids_(std::move(pids)) {
  for (pid_t pid : pids_) {
    stop_process(pid);
  }
}

ScopedStop::~ScopedStop() { resume(); }

void ScopedStop::resume() {
  for (pid_t pid : pids_) {
    ::kill(pid, SIGCONT);
  }
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          std::chrono::milliseconds timeout) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (!env.contains(kv.substr(0, kv.find('=')))) {
      env_strings.push_back(kv);
    }
  }
  for (const auto& [k, v] : env) {
    env_strings.push_back(k + "=" + v);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (auto& a : args) {
    cargs.push_back(a.data());
  }
  cargs.push_back(nullptr);
  std::vector<char*> cenv;
  for (auto& e : env_strings) {
    cenv.push_back(e.data());
  }
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execvpe(cargs[0], cargs.data(), cenv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    int n = ::poll(fds, 2, killed ? 1000 : static_cast<int>(std::max<long>(left.count(), 1)));
    if (n <= 0) {
      if (killed) {
        break;  // grandchildren hold the pipes; give up on them
      }
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[4096];
        ssize_t len = ::read(fds[i].fd, buf, sizeof buf);
        if (len <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(len));
        }
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) {
      ::close(f.fd);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (killed) {
    result.exit_code = -1;
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace heartlock::testing
