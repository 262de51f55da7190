// Small owners of file descriptors for the supervisor: Fd (one descriptor), Pipe, and write_all.
#ifndef HEARTLOCK_EXEC_FD_H_
#define HEARTLOCK_EXEC_FD_H_

#include <unistd.h>

#include <cstddef>
#include <utility>

namespace heartlock::exec {

// Owns one file descriptor (-1: none) and closes it. Move-only; not thread-safe.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    close();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const noexcept { return fd_; }
  void close() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// A close-on-exec pipe; both ends -1 if it could not be made.
Pipe make_pipe() noexcept;

// Writes all of `data` to `fd`, retrying on EINTR; gives up silently if `fd` fails (our own
// stdout gone: COMMAND keeps running regardless).
void write_all(int fd, const char* data, std::size_t size) noexcept;

}  // namespace heartlock::exec

#endif  // HEARTLOCK_EXEC_FD_H_
