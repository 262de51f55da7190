// RESP replies: whatever answers on a Redis port, read by the real client code -- a
// RedisConnection (src/redis/connection.cc) with the reply reader configured as it configures it
// (hiredis's parser building RedisReply values within kMaxRedis* limits) -- and then heartlock's
// code that interprets replies: redis_reply_error() (client.h) and describe_redis()
// (redis_store.h), fed the shapes the inspect and acquire scripts answer with.
//
// The target plays the server on loopback (loopback_server.h): for each input a fresh connection
// sends a pipeline of PINGs and the server answers with the input's bytes, then closes.
// Input: byte 0 = (piece size - 1) * 4 + (commands - 1): 1 to 3 commands, the answer written in
// pieces of 1 to 64 bytes; the rest is the server's answer.
// Invariants: a pipeline gives one reply per command or an Errc::unavailable error, never a
// crash, a hang or a huge allocation; interpreting any reply is safe.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "../src/redis/client.h"
#include "../src/redis/connection.h"
#include "../src/redis/redis_store.h"
#include "fuzz_check.h"
#include "loopback_server.h"

namespace {

using heartlock::detail::RedisReply;

// Answers each connection with the exchange set last: reads the request, writes the answer in
// pieces, closes its side, and waits for the client to close.
class FakeRedis {
 public:
  FakeRedis() : server_([this](int fd) { serve(fd); }) {}

  int port() const { return server_.port(); }

  void set_exchange(std::size_t request_bytes, std::string answer, std::size_t piece) {
    std::lock_guard lock(mu_);
    request_bytes_ = request_bytes;
    answer_ = std::move(answer);
    piece_ = piece;
  }

 private:
  void serve(int fd) {
    std::size_t request_bytes;
    std::string answer;
    std::size_t piece;
    {
      std::lock_guard lock(mu_);
      request_bytes = request_bytes_;
      answer = answer_;
      piece = piece_;
    }
    // The whole request first: closing with unread data would reset the connection.
    char buf[4096];
    for (std::size_t got = 0; got < request_bytes;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        return;
      }
      got += static_cast<std::size_t>(n);
    }
    for (std::string_view rest = answer; !rest.empty();) {
      const std::size_t n = std::min(piece, rest.size());
      if (!heartlock::fuzz::LoopbackServer::write_all(fd, rest.substr(0, n))) {
        return;
      }
      rest.remove_prefix(n);
    }
    ::shutdown(fd, SHUT_WR);
    while (::read(fd, buf, sizeof buf) > 0) {
    }
  }

  std::mutex mu_;
  std::size_t request_bytes_ = 0;           // guarded by mu_
  std::string answer_;                      // guarded by mu_
  std::size_t piece_ = 1;                   // guarded by mu_
  heartlock::fuzz::LoopbackServer server_;  // last: its thread uses the members above
};

// redis_store.cc's integer_of(): an integer reply, or a string holding one.
long long integer_of(const RedisReply& r) {
  if (r.type == RedisReply::Type::integer) {
    return r.integer;
  }
  long long v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return r.type == RedisReply::Type::string ? v : 0;
}

void interpret(const RedisReply& reply) {
  using heartlock::detail::describe_redis;
  if (reply.is_error()) {
    auto error = heartlock::detail::redis_reply_error("127.0.0.1:6379", reply);
    FUZZ_CHECK(error.code == heartlock::Errc::permission_denied ||
                   error.code == heartlock::Errc::unavailable,
               "an error reply means retry or fix the credentials");
    return;
  }
  const auto& e = reply.elements;
  if (reply.type != RedisReply::Type::array || e.size() < 3) {
    return;
  }
  // The inspect script's answer: fields, free_in_ms, now_ms, last token.
  auto info = describe_redis("jobs/nightly", e[0], integer_of(e[1]), integer_of(e[2]), "fuzz");
  FUZZ_CHECK(info.name == "jobs/nightly", "the name asked for");
  FUZZ_CHECK(info.state == heartlock::LockState::free || info.holder.has_value(),
             "a held lock has a holder");
  // The acquire script's busy answer: 0, fields, free_in_ms, now_ms.
  if (e.size() >= 4 && integer_of(e[0]) != 1) {
    (void)describe_redis("jobs/nightly", e[1], integer_of(e[2]), integer_of(e[3]), "fuzz");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FakeRedis* const server = new FakeRedis;  // never destroyed: its thread runs on
  static const heartlock::detail::RedisUrl url = [] {
    auto parsed = heartlock::detail::parse_redis_url(
        "redis://127.0.0.1:" + std::to_string(server->port()) + "?timeout=10s");
    FUZZ_CHECK(parsed.has_value(), "the fake server's URL");
    return *parsed;
  }();
  if (size == 0) {
    return 0;
  }
  const std::size_t commands = 1 + data[0] % 4 % 3;
  const std::size_t piece = 1 + data[0] / 4;
  const std::vector<heartlock::detail::RedisCommand> pipeline(commands, {"PING"});
  constexpr std::size_t kPingBytes = 14;  // "*1\r\n$4\r\nPING\r\n"
  server->set_exchange(commands * kPingBytes,
                       std::string(reinterpret_cast<const char*>(data + 1), size - 1), piece);

  auto connection = heartlock::detail::RedisConnection::connect(url.nodes[0], url);
  FUZZ_CHECK(connection.has_value(), "the fake server accepts");
  auto replies = (*connection)->pipeline(pipeline);
  if (!replies) {
    FUZZ_CHECK(replies.error().code == heartlock::Errc::unavailable, "a bad answer: retry");
    FUZZ_CHECK((*connection)->broken(), "a connection that failed is not used again");
    return 0;
  }
  FUZZ_CHECK(replies->size() == commands, "one reply per command");
  for (const auto& reply : *replies) {
    interpret(reply);
  }
  (void)(*connection)->usable_when_idle();
  return 0;
}
