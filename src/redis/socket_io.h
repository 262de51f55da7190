// Small pieces of the Redis transport that connecting (connection_setup.cc) and talking
// (connection.cc) share: error texts and waiting for a socket until a deadline.
#ifndef HEARTLOCK_REDIS_SOCKET_IO_H_
#define HEARTLOCK_REDIS_SOCKET_IO_H_

#include <signal.h>

#include <chrono>
#include <string>

namespace heartlock::detail {

// strerror-like text of an errno value.
std::string errno_message(int err);

struct TlsApi;

// Blocks SIGPIPE in the calling thread for its lifetime, and takes off the pending set a SIGPIPE
// raised meanwhile. OpenSSL writes with write(2), not send(MSG_NOSIGNAL): on a connection the
// server closed, the kernel would raise SIGPIPE, which ends a process that neither blocks nor
// ignores it -- `heartlock run` does neither (COMMAND must get SIGPIPE's default), so a Redis
// restart during a TLS renewal would kill the wrapper. Around TLS reads too: a read may write
// (a TLS 1.3 key update's answer). errno is kept.
class NoSigpipe {
 public:
  NoSigpipe();
  ~NoSigpipe();
  NoSigpipe(const NoSigpipe&) = delete;
  NoSigpipe& operator=(const NoSigpipe&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

// The text of OpenSSL's oldest queued error (and clears the queue); "TLS error" if none.
std::string ssl_error_text(const TlsApi& tls);

// Milliseconds left until `deadline` for poll(2), never negative.
int poll_timeout(std::chrono::steady_clock::time_point deadline);

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_SOCKET_IO_H_
