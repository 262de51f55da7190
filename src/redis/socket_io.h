// Small pieces of the Redis transport that connecting (connection_setup.cc) and talking
// (connection.cc) share: error texts and waiting for a socket until a deadline.
#ifndef HEARTLOCK_REDIS_SOCKET_IO_H_
#define HEARTLOCK_REDIS_SOCKET_IO_H_

#include <chrono>
#include <string>

namespace heartlock::detail {

// strerror-like text of an errno value.
std::string errno_message(int err);

struct TlsApi;

// The text of OpenSSL's oldest queued error (and clears the queue); "TLS error" if none.
std::string ssl_error_text(const TlsApi& tls);

// Milliseconds left until `deadline` for poll(2), never negative.
int poll_timeout(std::chrono::steady_clock::time_point deadline);

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout.
bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_SOCKET_IO_H_
