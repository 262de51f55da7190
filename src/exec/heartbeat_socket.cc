#include "exec/heartbeat_socket.h"

#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <optional>

#include "core/process_identity.h"

namespace heartlock::exec {
namespace {

// 128 bits: not guessable, not even by a sender trying for the whole life of a job.
constexpr std::size_t kHeartbeatSecretBytes = 16;

// At most this many datagrams are read per wakeup, so that a flood of forged ones cannot keep the
// loop from signals, a lost lease or the stop rule's deadlines (64 reads take some tens of
// microseconds). What is left stays queued and wakes poll() again at once.
constexpr int kMaxDatagramsPerWakeup = 64;

// Whether a heartbeat from a sender with these credentials counts. Yes for our own effective uid:
// COMMAND (unless it changed user), and any other process of ours, which could read COMMAND's
// environment, secret included, anyway. Yes for root, which can ptrace us, read any environment
// and attach whatever credentials it likes (SCM_CREDENTIALS), so refusing it would protect
// nothing. No for everyone else. Not "any descendant of the supervisor": `heartlock heartbeat`
// exits right after sending, often before we read its datagram, so its pid could no longer be
// traced to us (and might be reused by then). A COMMAND that switches to another user must
// heartbeat from a process that kept our uid.
bool sender_allowed(const ucred& sender) { return sender.uid == ::geteuid() || sender.uid == 0; }

// Whether `got` is `want`, in a time that depends on the lengths only (the secret's length is no
// secret): a comparison that stops at the first wrong byte would tell a patient sender how much of
// its guess was right.
bool same_secret(std::string_view got, std::string_view want) {
  if (got.size() != want.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    diff = static_cast<unsigned char>(diff | (got[i] ^ want[i]));
  }
  return diff == 0;
}

// The sender's credentials from a received message's control data, closing any descriptors a
// sender pushed on us (the buffer leaves them no room, but be sure), or a flood of them would fill
// our descriptor table.
std::optional<ucred> sender_of(msghdr& msg) {
  std::optional<ucred> sender;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
        c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      sender.emplace();
      std::memcpy(&*sender, CMSG_DATA(c), sizeof(ucred));
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t k = 0; k < count; ++k) {
        int passed = -1;
        std::memcpy(&passed, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        ::close(passed);
      }
    }
  }
  return sender;
}

}  // namespace

HeartbeatSocket HeartbeatSocket::open() {
  HeartbeatSocket out;
  Fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int on = 1;
  if (fd.get() < 0 || ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return out;  // without credentials no sender could be checked: no socket at all
  }
  // Random per job: several jobs of one process each have their own.
  std::string name = "heartlock-" + std::to_string(::getpid()) + "-" + detail::random_hex(6);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return out;
  }
  out.fd = std::move(fd);
  out.name = std::move(name);
  out.secret = detail::random_hex(kHeartbeatSecretBytes);
  return out;
}

int HeartbeatSocket::read_heartbeats(const Reject& reject) const {
  int beats = 0;
  for (int i = 0; i < kMaxDatagramsPerWakeup; ++i) {
    char buf[128];  // a secret is 32 bytes; anything longer is not one
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t len = ::recvmsg(fd.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (len < 0) {
      break;  // EAGAIN: drained
    }
    const std::optional<ucred> sender = sender_of(msg);
    const ucred unknown{0, static_cast<uid_t>(-1), static_cast<gid_t>(-1)};
    if (!sender || (msg.msg_flags & MSG_CTRUNC) != 0) {
      reject("no sender credentials", sender.value_or(unknown));
    } else if (!sender_allowed(*sender)) {
      reject("sender runs as another user", *sender);
    } else if ((msg.msg_flags & MSG_TRUNC) != 0 ||
               !same_secret(std::string_view(buf, static_cast<std::size_t>(len)), secret)) {
      reject("wrong secret", *sender);
    } else {
      ++beats;
    }
  }
  return beats;
}

}  // namespace heartlock::exec
