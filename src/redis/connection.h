// RedisConnection: one connection to one Redis server.
//
// The transport is written here: sockets with connect and I/O timeouts, and TLS through OpenSSL,
// because Debian 12's hiredis (0.14) has no TLS. hiredis does the protocol: its command formatter
// (redisFormatCommandArgv, binary-safe, never string concatenation), fed views of the arguments
// and appended to a reused buffer, and its reply reader, which builds RedisReply values directly
// and refuses replies larger than any heartlock reads (below): a broken or hostile server cannot
// make a client allocate without bound.
#ifndef HEARTLOCK_REDIS_CONNECTION_H_
#define HEARTLOCK_REDIS_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>  // SSL, SSL_CTX (types only: libssl is loaded on first use)

#include "heartlock/error.h"

#include "redis_url.h"

namespace heartlock::detail {

struct TlsApi;

// A reply, copied out of hiredis so its types stay inside this file's .cc.
struct RedisReply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string str;  // string, status, error
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
};

using RedisCommand = std::vector<std::string>;

// Arguments of a command or script (KEYS, ARGV), viewed, not copied: a braced list of strings, a
// span of views, or a vector of strings. They must outlive the call (a braced list's temporaries
// do: they live to the end of the full expression).
class RedisArgs {
 public:
  RedisArgs() = default;
  RedisArgs(std::initializer_list<std::string_view> list) : views_(list.begin(), list.size()) {}
  RedisArgs(std::span<const std::string_view> views) : views_(views) {}
  RedisArgs(const std::vector<std::string>& strings) : strings_(strings) {}

  std::size_t size() const { return views_.size() + strings_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (std::string_view v : views_) {
      f(v);
    }
    for (const std::string& s : strings_) {
      f(std::string_view(s));
    }
  }

 private:
  std::span<const std::string_view> views_;
  std::span<const std::string> strings_;
};

// Appends one command to `out` in RESP, formatted by hiredis.
void append_redis_command(std::string& out, const RedisCommand& command);
// EVALSHA or EVAL (`how`) of a script (`script`: its sha1 or source) with its KEYS and ARGV.
void append_script_call(std::string& out, std::string_view how, std::string_view script,
                        const RedisArgs& keys, const RedisArgs& args);

// Builds a RedisReply as hiredis's reader parses it, within the limits below (reply_builder.h).
struct RedisReplyBuilder;

// What one reply may hold. heartlock's largest replies are SCAN batches (about 500 keys) and lock
// records whose longest field is a command line (Linux limits those to a few MiB). A reply beyond
// these is refused as soon as its header (or its running size) shows it, with Errc::unavailable
// ("redis reply from HOST:PORT too large: ..."), and its connection is dropped.
inline constexpr std::size_t kMaxRedisArrayElements = std::size_t{1} << 20;
inline constexpr std::size_t kMaxRedisStringBytes = std::size_t{8} << 20;
// A status or error line (heartlock's are a few words; Redis's own limit for a request line is
// 64 KiB).
inline constexpr std::size_t kMaxRedisLineBytes = std::size_t{1} << 20;
// Every value of the reply counted at its size in memory (sizeof(RedisReply)) plus its string.
inline constexpr std::size_t kMaxRedisReplyBytes = std::size_t{16} << 20;

// Thread-safety: none; callers serialise. Move-only.
class RedisConnection {
 public:
  // Connects, negotiates TLS when asked, authenticates and selects the database, all within the
  // URL's timeout (cut short by the thread's I/O deadline). Errc::unavailable if the server cannot
  // be reached, Errc::permission_denied for a refused password or a TLS certificate that does not
  // verify.
  static Result<std::unique_ptr<RedisConnection>> connect(const RedisEndpoint& endpoint,
                                                          const RedisUrl& url);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends the commands in one write and reads one reply each (pipelining), all within the URL's
  // timeout cut short by the thread's I/O deadline (io_deadline.h). Error replies are values; only
  // transport failures are errors (Errc::unavailable), after which the connection is unusable
  // (broken() is true): a reply may still be on its way, and must never be read as the answer to
  // a later command -- or a reply over the limits above. Errc::unavailable ("deadline passed")
  // without sending anything, the connection intact, once the I/O deadline has passed.
  Result<std::vector<RedisReply>> pipeline(const std::vector<RedisCommand>& commands);
  Result<RedisReply> command(const RedisCommand& command);
  // One command already in RESP (append_redis_command, append_script_call), as command() does.
  Result<RedisReply> exchange(std::string_view request);

  // For subscribers: waits up to `timeout` (capped by the I/O deadline) for one pushed reply;
  // nullopt on timeout.
  Result<std::optional<RedisReply>> read_push(std::chrono::milliseconds timeout);
  Result<void> send(const RedisCommand& command);

  // For a connection with no command in flight: whether the next command may use it. Anything to
  // read while idle breaks it -- the server closed it (a restart, CLIENT KILL, its idle timeout)
  // or sent what nobody asked for, which would otherwise be taken for the next command's reply.
  // TLS records without data (session tickets) are consumed. Never blocks.
  bool usable_when_idle();

  bool broken() const { return broken_; }
  // The socket, for polling only (IdleWatch); never read or written outside this class.
  int fd() const { return fd_; }
  const std::string& where() const { return where_; }

 private:
  RedisConnection() = default;
  // The steps of connect(), in order; each reports as connect() does.
  // Resolves the endpoint and connects to the first address that answers before `deadline`.
  Result<void> open_socket(const RedisEndpoint& endpoint,
                           std::chrono::steady_clock::time_point deadline);
  // Sets up the TLS context from the URL, then the handshake on the socket, verifying the peer's
  // name or address unless the URL says insecure.
  Result<void> start_tls(const RedisEndpoint& endpoint, const RedisUrl& url,
                         std::chrono::steady_clock::time_point deadline);
  Result<void> make_tls_context(const RedisUrl& url);
  // AUTH and SELECT, when the URL asks for them.
  Result<void> log_in(const RedisUrl& url);
  Result<void> write_all(std::string_view bytes, std::chrono::steady_clock::time_point deadline);
  // Sends `request` (`count` commands in RESP) and hands each reply to `take`, in order, all
  // within one bound (see pipeline()).
  template <class Take>
  Result<void> round_trip(std::string_view request, std::size_t count, Take&& take);
  // Reads until the reader has one reply or the deadline passes.
  Result<std::optional<RedisReply>> read_reply(std::chrono::steady_clock::time_point deadline);
  Result<std::size_t> read_some(char* buf, std::size_t size,
                                std::chrono::steady_clock::time_point deadline);
  Error transport_error(const std::string& what);
  // Breaks the connection: the rest of the oversized reply is never read.
  Error too_large(const std::string& what);

  int fd_ = -1;
  const TlsApi* tls_ = nullptr;  // set with ssl_ctx_: libssl, loaded on first use
  SSL* ssl_ = nullptr;
  SSL_CTX* ssl_ctx_ = nullptr;
  void* reader_ = nullptr;                      // redisReader*
  std::unique_ptr<RedisReplyBuilder> builder_;  // the reader's privdata
  std::chrono::milliseconds timeout_{2000};
  std::string where_;
  std::string request_;  // pipeline()'s wire form, reused
  bool broken_ = false;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_CONNECTION_H_
