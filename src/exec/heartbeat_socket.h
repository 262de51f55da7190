// HeartbeatSocket: the datagram socket through which `heartlock heartbeat`, run inside COMMAND,
// reaches the job's supervisor, in the abstract namespace (no file to clean up; it disappears
// with its owner), and the secret a heartbeat must carry.
//
// An abstract socket has no file permissions: any local user can find it in /proc/net/unix and
// send to it. So a heartbeat has to prove itself twice. It must hold the secret, random bits that
// reach COMMAND only through its environment (which /proc shows to its own uid and to root); the
// fencing token would not do, being a small number anyone can guess. And its sender must pass
// sender_allowed(), judged on the credentials the kernel attaches to each datagram: SO_PASSCRED,
// set before bind() so that no datagram is ever queued without them.
#ifndef HEARTLOCK_EXEC_HEARTBEAT_SOCKET_H_
#define HEARTLOCK_EXEC_HEARTBEAT_SOCKET_H_

#include <sys/socket.h>

#include <functional>
#include <string>
#include <string_view>

#include "exec/fd.h"

namespace heartlock::exec {

// The environment variable through which `heartlock heartbeat` reaches its job's supervisor.
inline constexpr const char* kHeartbeatSocketEnv = "HEARTLOCK_HEARTBEAT_SOCKET";
// The environment variable that carries the job's heartbeat secret (128 random bits, hex) to
// COMMAND. A heartbeat is a datagram holding exactly this secret, from a sender with this
// process's uid (or root); anything else is ignored.
inline constexpr const char* kHeartbeatSecretEnv = "HEARTLOCK_HEARTBEAT_SECRET";

// One job's socket. Owned by its supervisor; not thread-safe.
struct HeartbeatSocket {
  Fd fd;               // -1 if it could not be made; then no heartbeat reaches the job
  std::string name;    // abstract: without the leading NUL
  std::string secret;  // hex

  // A new socket with a fresh secret, or one with fd -1 if it cannot be made.
  static HeartbeatSocket open();

  using Reject = std::function<void(std::string_view why, const ucred& sender)>;
  // Reads a bounded number of queued datagrams. Returns how many were heartbeats; calls `reject`
  // with the reason and the sender of each other one.
  int read_heartbeats(const Reject& reject) const;
};

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_HEARTBEAT_SOCKET_H_
