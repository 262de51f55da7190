#include "fenced_resource.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace heartlock::tools {
namespace {

sockaddr_un address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  return addr;
}

struct State {
  int log = -1;
  std::map<int, long> worker_of;  // client fd -> the worker its first message named
  bool check_tokens = true;
  std::uint64_t highest = 0;  // the highest token accepted so far
};

// Judges one message from a client and answers it; false when the client is gone.
bool serve(State& state, int fd) {
  char buf[256];
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n <= 0) {
    return n < 0 && (errno == EAGAIN || errno == EINTR);
  }
  buf[n] = '\0';
  char kind[16] = {};
  unsigned long long token = 0;
  long worker = 0;
  char belief[8] = {};
  if (std::sscanf(buf, "%15s %llu %ld %7s", kind, &token, &worker, belief) != 4) {
    return false;
  }
  state.worker_of[fd] = worker;
  // The one rule of a fenced resource: nothing below the highest token it has accepted.
  const bool accepted = !state.check_tokens || token >= state.highest;
  if (accepted && token > state.highest) {
    state.highest = token;
  }
  char line[300];
  const int len = std::snprintf(line, sizeof line, "%s %llu %ld %s %s\n", kind, token, worker,
                                belief, accepted ? "accepted" : "rejected");
  (void)!::write(state.log, line, static_cast<std::size_t>(len));  // O_APPEND: one atomic line
  const char verdict = accepted ? 'A' : 'R';
  (void)!::send(fd, &verdict, 1, MSG_NOSIGNAL);
  return true;
}

// A client hung up with nothing left to read: its process is gone. Logged, so the checker knows a
// worker that may never write an "exit" (a COMMAND killed by heartlock run's watchdog) is dead.
void gone(State& state, int fd) {
  if (auto it = state.worker_of.find(fd); it != state.worker_of.end()) {
    const std::string line = "gone " + std::to_string(it->second) + "\n";
    (void)!::write(state.log, line.data(), line.size());
    state.worker_of.erase(it);
  }
  ::close(fd);
}

[[noreturn]] void run(int listener, int control, State state) {
  std::vector<int> clients;
  for (;;) {
    std::vector<pollfd> fds = {{listener, POLLIN, 0}, {control, POLLIN, 0}};
    for (int c : clients) {
      fds.push_back({c, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      continue;  // EINTR
    }
    // Hang-ups first, then messages: a worker that died is logged gone before a message that
    // arrived in the same round (another worker's entry after it), and a dying worker's last
    // messages are still judged, since a hang-up counts only once nothing is left to read.
    std::vector<int> alive;
    for (std::size_t i = 2; i < fds.size(); ++i) {
      char probe;
      if (fds[i].revents != 0 && ::recv(fds[i].fd, &probe, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {
        gone(state, fds[i].fd);
        fds[i].revents = 0;
        fds[i].fd = -1;
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].fd < 0) {
        continue;
      }
      const short ev = fds[i].revents;
      const bool keep =
          (ev & POLLIN) != 0 ? serve(state, fds[i].fd) : (ev & (POLLHUP | POLLERR)) == 0;
      if (keep) {
        alive.push_back(fds[i].fd);
      } else {
        gone(state, fds[i].fd);
      }
    }
    clients = std::move(alive);
    if ((fds[0].revents & POLLIN) != 0) {
      int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        clients.push_back(c);
      }
    }
    if (fds[1].revents != 0) {  // the driver is done: judge what is still queued, then end
      for (int c : clients) {
        while (serve(state, c)) {
          char probe;
          if (::recv(c, &probe, 1, MSG_DONTWAIT | MSG_PEEK) <= 0) {
            break;
          }
        }
      }
      ::_exit(0);
    }
  }
}

}  // namespace

FencedResource::~FencedResource() { stop(); }

bool FencedResource::start(const std::string& socket_path, int log_fd, bool check_tokens) {
  int listener = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr = address(socket_path);
  ::unlink(socket_path.c_str());
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 256) != 0) {
    return false;
  }
  int control[2];
  if (::pipe2(control, O_CLOEXEC) != 0) {
    return false;
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    return false;
  }
  if (pid_ == 0) {
    ::close(control[1]);
    run(listener, control[0], State{.log = log_fd, .check_tokens = check_tokens});
  }
  ::close(listener);
  ::close(control[0]);
  control_ = control[1];
  return true;
}

void FencedResource::stop() {
  if (pid_ > 0) {
    ::close(control_);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

ResourceClient::~ResourceClient() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool ResourceClient::connect(const std::string& socket_path) {
  fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr = address(socket_path);
  return fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

bool ResourceClient::write(const char* kind, std::uint64_t token, long worker, bool believed_held) {
  char msg[128];
  const int len =
      std::snprintf(msg, sizeof msg, "%s %llu %ld %s", kind, static_cast<unsigned long long>(token),
                    worker, believed_held ? "held" : "lost");
  if (::send(fd_, msg, static_cast<std::size_t>(len), MSG_NOSIGNAL) != len) {
    return false;
  }
  char verdict = 0;
  while (::recv(fd_, &verdict, 1, 0) < 0 && errno == EINTR) {
  }
  return verdict == 'A';
}

}  // namespace heartlock::tools
