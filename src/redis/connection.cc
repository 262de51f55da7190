#include "connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <new>
#include <span>
#include <system_error>

#include <hiredis/hiredis.h>

#include "../core/io_deadline.h"
#include "reply_builder.h"
#include "socket_io.h"
#include "tls_api.h"

namespace heartlock::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Appends one command, formatted by hiredis's redisFormatCommandArgv (RESP: an array of
// length-prefixed bulk strings, binary-safe), to `out`. The pointer and length arrays live on the
// stack for the commands heartlock sends (at most a dozen arguments). The formatter is hiredis's
// on purpose, although it is the largest client-side cost of an acquisition (it sprintf()s each
// length: ~21 000 of ~46 000 instructions per acquire+release, where writing RESP here took
// ~1 000; its sds variant is slower still): RESP encoding is what the project takes hiredis for.
void append_formatted(std::string& out, std::span<const std::string_view> args) {
  constexpr std::size_t kOnStack = 32;
  std::array<const char*, kOnStack> argv_stack{};
  std::array<std::size_t, kOnStack> lens_stack{};
  std::vector<const char*> argv_heap;
  std::vector<std::size_t> lens_heap;
  const char** argv = argv_stack.data();
  std::size_t* lens = lens_stack.data();
  if (args.size() > kOnStack) {
    argv_heap.resize(args.size());
    lens_heap.resize(args.size());
    argv = argv_heap.data();
    lens = lens_heap.data();
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  char* formatted = nullptr;
  const int len = redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv, lens);
  if (len < 0 || formatted == nullptr) {
    throw std::bad_alloc();  // its only failure
  }
  out.append(formatted, static_cast<std::size_t>(len));
  redisFreeCommand(formatted);
}

// The arguments of one command as views: on the stack up to `kOnStack`, else on the heap.
class ArgViews {
 public:
  explicit ArgViews(std::size_t count) {
    if (count > stack_.size()) {
      heap_.reserve(count);
    }
  }
  void add(std::string_view arg) {
    if (heap_.capacity() > 0) {
      heap_.push_back(arg);
    } else {
      stack_[size_++] = arg;
    }
  }
  std::span<const std::string_view> views() const {
    return heap_.capacity() > 0 ? std::span<const std::string_view>(heap_)
                                : std::span<const std::string_view>(stack_.data(), size_);
  }

 private:
  std::array<std::string_view, 32> stack_{};
  std::size_t size_ = 0;
  std::vector<std::string_view> heap_;
};

}  // namespace

void append_redis_command(std::string& out, const RedisCommand& command) {
  ArgViews views(command.size());
  for (const auto& arg : command) {
    views.add(arg);
  }
  append_formatted(out, views.views());
}

void append_script_call(std::string& out, std::string_view how, std::string_view script,
                        const RedisArgs& keys, const RedisArgs& args) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, keys.size()).ptr;
  ArgViews views(3 + keys.size() + args.size());
  views.add(how);
  views.add(script);
  views.add(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  auto add = [&views](std::string_view arg) { views.add(arg); };
  keys.for_each(add);
  args.for_each(add);
  append_formatted(out, views.views());
}

std::string errno_message(int err) { return std::system_category().message(err); }

std::string ssl_error_text(const TlsApi& tls) {
  unsigned long code = tls.ERR_get_error();
  if (code == 0) {
    return "TLS error";
  }
  char buf[256];
  tls.ERR_error_string_n(code, buf, sizeof buf);
  tls.ERR_clear_error();
  return buf;
}

namespace {
sigset_t sigpipe_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}
bool sigpipe_pending() {
  sigset_t pending;
  return ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}
}  // namespace

NoSigpipe::NoSigpipe() {
  const sigset_t pipe = sigpipe_set();
  ::pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  was_pending_ = sigpipe_pending();
}

NoSigpipe::~NoSigpipe() {
  const int saved = errno;
  if (!was_pending_ && sigpipe_pending()) {
    const sigset_t pipe = sigpipe_set();
    const timespec now{};
    while (::sigtimedwait(&pipe, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  errno = saved;
}

int poll_timeout(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits until fd is readable/writable or the deadline passes; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int n = ::poll(&p, 1, poll_timeout(deadline));
    if (n > 0) {
      return true;
    }
    if (n == 0) {
      return false;
    }
    if (errno != EINTR) {
      return true;  // let the following I/O report the error
    }
  }
}

RedisConnection::~RedisConnection() {
  if (ssl_ != nullptr) {
    tls_->SSL_free(ssl_);
  }
  if (ssl_ctx_ != nullptr) {
    tls_->SSL_CTX_free(ssl_ctx_);
  }
  if (reader_ != nullptr) {
    redisReaderFree(static_cast<redisReader*>(reader_));
  }
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

Error RedisConnection::transport_error(const std::string& what) {
  broken_ = true;
  return Error{Errc::unavailable, "redis " + where_ + ": " + what};
}

Error RedisConnection::too_large(const std::string& what) {
  broken_ = true;
  return Error{Errc::unavailable, "redis reply from " + where_ + " too large: " + what};
}

Result<void> RedisConnection::write_all(std::string_view bytes, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (ssl_ != nullptr) {
      NoSigpipe no_sigpipe;
      int n = tls_->SSL_write(ssl_, bytes.data() + done, static_cast<int>(bytes.size() - done));
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      int err = tls_->SSL_get_error(ssl_, n);
      if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
          wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        continue;
      }
      return std::unexpected(transport_error("write failed: " + ssl_error_text(*tls_)));
    }
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd_, POLLOUT, deadline)) {
        return std::unexpected(transport_error("write timed out"));
      }
      continue;
    }
    return std::unexpected(transport_error("write failed: " + errno_message(errno)));
  }
  return {};
}

Result<std::size_t> RedisConnection::read_some(char* buf, std::size_t size,
                                               Clock::time_point deadline) {
  for (;;) {
    if (ssl_ != nullptr) {
      NoSigpipe no_sigpipe;
      int n = tls_->SSL_read(ssl_, buf, static_cast<int>(size));
      if (n > 0) {
        return static_cast<std::size_t>(n);
      }
      int err = tls_->SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (!wait_fd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return std::size_t{0};  // timeout
        }
        continue;
      }
      return std::unexpected(transport_error(err == SSL_ERROR_ZERO_RETURN
                                                 ? "connection closed"
                                                 : "read failed: " + ssl_error_text(*tls_)));
    }
    ssize_t n = ::recv(fd_, buf, size, 0);
    if (n > 0) {
      return static_cast<std::size_t>(n);
    }
    if (n == 0) {
      return std::unexpected(transport_error("connection closed by the server"));
    }
    if (errno == EAGAIN || errno == EINTR) {
      if (!wait_fd(fd_, POLLIN, deadline)) {
        return std::size_t{0};  // timeout
      }
      continue;
    }
    return std::unexpected(transport_error("read failed: " + errno_message(errno)));
  }
}

Result<std::optional<RedisReply>> RedisConnection::read_reply(Clock::time_point deadline) {
  auto* reader = static_cast<redisReader*>(reader_);
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
      if (!builder_->refused.empty()) {
        return std::unexpected(too_large(builder_->refused));
      }
      return std::unexpected(transport_error("protocol error: " + std::string(reader->errstr)));
    }
    if (raw != nullptr) {
      std::unique_ptr<RedisReply> reply(static_cast<RedisReply*>(raw));
      builder_->bytes = 0;  // the next reply starts from nothing
      return std::optional<RedisReply>(std::move(*reply));
    }
    if (auto what = oversized_item(reader, 0); !what.empty()) {
      return std::unexpected(too_large(what));
    }
    if (Clock::now() >= deadline) {
      return std::optional<RedisReply>();
    }
    // Without TLS, wait first: the reply is hardly ever there yet, and a recv that finds nothing
    // is a system call for nothing.
    if (ssl_ == nullptr && !wait_fd(fd_, POLLIN, deadline)) {
      return std::optional<RedisReply>();
    }
    char buf[16384];
    auto n = read_some(buf, sizeof buf, deadline);
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      return std::optional<RedisReply>();
    }
    if (auto what = oversized_item(reader, *n); !what.empty()) {
      return std::unexpected(too_large(what));
    }
    if (redisReaderFeed(reader, buf, *n) != REDIS_OK) {
      return std::unexpected(transport_error("out of memory"));
    }
  }
}

bool RedisConnection::usable_when_idle() {
  if (broken_) {
    return false;
  }
  // Bytes the reader received past the last reply it handed out: an extra reply.
  const auto* reader = static_cast<const redisReader*>(reader_);
  if (reader != nullptr && reader->len > reader->pos) {
    broken_ = true;
    return false;
  }
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0 && (ssl_ == nullptr || tls_->SSL_pending(ssl_) == 0)) {
    return true;  // nothing arrived (or EINTR: the next command finds out)
  }
  if (ssl_ != nullptr) {
    // Reading is the only way to tell a session ticket (consumed, no data) from data or a close.
    char c = 0;
    NoSigpipe no_sigpipe;
    int n = tls_->SSL_read(ssl_, &c, 1);
    int err = n > 0 ? SSL_ERROR_NONE : tls_->SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      return true;
    }
    tls_->ERR_clear_error();
    broken_ = true;
    return false;
  }
  char c = 0;
  ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return true;
  }
  broken_ = true;  // EOF, a reset, or data nobody asked for
  return false;
}

template <class Take>
Result<void> RedisConnection::round_trip(std::string_view request, std::size_t count, Take&& take) {
  if (broken_) {
    return fail(Errc::unavailable, "redis " + where_ + ": connection is broken");
  }
  // One bound for the whole round trip: the URL's timeout, cut short by the I/O deadline. With
  // no time left nothing is sent, and the connection stays usable.
  const auto budget = capped(timeout_);
  if (budget <= std::chrono::milliseconds(0)) {
    return fail(Errc::unavailable, "redis " + where_ + ": deadline passed (nothing sent)");
  }
  const auto deadline = Clock::now() + budget;
  if (auto ok = write_all(request, deadline); !ok) {
    return std::unexpected(ok.error());
  }
  for (std::size_t i = 0; i < count; ++i) {
    auto reply = read_reply(deadline);
    if (!reply) {
      return std::unexpected(reply.error());
    }
    if (!*reply) {
      // broken from here on: the reply may still come, and must not answer a later command.
      return std::unexpected(transport_error(
          "no reply within " + std::to_string(budget.count()) + "ms" +
          (budget < timeout_ ? " (what was left of the call's " + std::to_string(timeout_.count()) +
                                   "ms timeout or of its lease's I/O deadline)"
                             : "")));
    }
    take(std::move(**reply));
  }
  return {};
}

Result<std::vector<RedisReply>> RedisConnection::pipeline(
    const std::vector<RedisCommand>& commands) {
  request_.clear();
  for (const auto& c : commands) {
    append_redis_command(request_, c);
  }
  std::vector<RedisReply> replies;
  replies.reserve(commands.size());
  auto done = round_trip(request_, commands.size(),
                         [&replies](RedisReply&& r) { replies.push_back(std::move(r)); });
  if (!done) {
    return std::unexpected(done.error());
  }
  return replies;
}

Result<RedisReply> RedisConnection::exchange(std::string_view request) {
  RedisReply out;
  auto done = round_trip(request, 1, [&out](RedisReply&& r) { out = std::move(r); });
  if (!done) {
    return std::unexpected(done.error());
  }
  return out;
}

Result<RedisReply> RedisConnection::command(const RedisCommand& command) {
  request_.clear();
  append_redis_command(request_, command);
  return exchange(request_);
}

Result<void> RedisConnection::send(const RedisCommand& command) {
  request_.clear();
  append_redis_command(request_, command);
  return write_all(request_, capped_deadline(timeout_));
}

Result<std::optional<RedisReply>> RedisConnection::read_push(std::chrono::milliseconds timeout) {
  return read_reply(capped_deadline(timeout));
}

}  // namespace heartlock::detail
