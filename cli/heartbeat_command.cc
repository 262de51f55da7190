#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "admin_commands.h"
#include "exec/heartbeat_socket.h"
#include "exit_codes.h"

namespace heartlock::cli {

using exec::kHeartbeatSecretEnv;
using exec::kHeartbeatSocketEnv;

int send_heartbeat(const CommonArgs& common) {
  Events events = make_events(common);
  const char* where = std::getenv(kHeartbeatSocketEnv);
  // The wrapper counts a datagram only if it holds this secret (and comes from its uid or root):
  // its socket is open to every local user, and the fencing token is easy to guess.
  const char* secret = std::getenv(kHeartbeatSecretEnv);
  if (where == nullptr || secret == nullptr || where[0] != '@' || secret[0] == '\0') {
    events.error("heartlock heartbeat must run inside `heartlock run` (no " +
                 std::string(kHeartbeatSocketEnv) + " and " + kHeartbeatSecretEnv +
                 " in the environment)");
    return kExitUsage;
  }
  std::string name(where + 1);
  sockaddr_un addr{};
  if (name.empty() || name.size() + 1 > sizeof addr.sun_path) {
    events.error(std::string(kHeartbeatSocketEnv) + " is malformed");
    return kExitUsage;
  }
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    events.error("socket: " + std::system_category().message(errno));
    return kExitUnavailable;
  }
  // A datagram to a full queue blocks: the wrapper is stopped, or someone floods its socket. A
  // heartbeat is worth nothing late, so give up after a second rather than hang COMMAND.
  timeval limit{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ssize_t sent =
      ::sendto(fd, secret, std::strlen(secret), 0, reinterpret_cast<sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (sent < 0) {
    events.error("cannot reach the heartlock wrapper: " + std::system_category().message(err) +
                 (err == ECONNREFUSED                   ? " (it has exited)"
                  : err == EAGAIN || err == EWOULDBLOCK ? " (its socket stayed full for 1s: the "
                                                          "wrapper is stopped, or flooded)"
                                                        : ""));
    return kExitUnavailable;
  }
  return kExitOk;
}

}  // namespace heartlock::cli
