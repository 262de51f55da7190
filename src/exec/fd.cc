#include "exec/fd.h"

#include <fcntl.h>

#include <cerrno>

namespace heartlock::exec {

Pipe make_pipe() noexcept {
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return {};
  }
  return {Fd(fds[0]), Fd(fds[1])};
}

void write_all(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace heartlock::exec
