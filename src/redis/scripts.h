// The Lua scripts of the Redis backend. Each mutation is one script, so that checking the owner
// and changing the key are one atomic step on the server (no GET-then-SET race), and every time
// is the server's (TIME), never a client's clock.
#ifndef HEARTLOCK_REDIS_SCRIPTS_H_
#define HEARTLOCK_REDIS_SCRIPTS_H_

#include <string>
#include <string_view>

namespace heartlock::detail {

struct RedisScript {
  std::string_view source;
  std::string sha1;  // for EVALSHA
};

// KEYS: lock hash, fencing counter. ARGV: owner, ttl_ms, host, pid, command, stale_after_ms, slot.
// {1, token, now_ms} when taken; {0, HGETALL, PTTL, now_ms} when held.
const RedisScript& acquire_script();
// KEYS: lock. ARGV: owner, ttl_ms, heartbeat_age_ms. 1 renewed, 0 gone, -1 another owner's.
const RedisScript& renew_script();
// KEYS: lock, channel. ARGV: owner, hold_ms. 1 released, 0 gone, -1 another owner's.
const RedisScript& release_script();
// KEYS: lock, channel. ARGV: token. 1 ended, 0 not that lease (any more).
const RedisScript& break_script();
// KEYS: lock, fencing counter. {HGETALL, PTTL, now_ms, last token or nil}.
const RedisScript& inspect_script();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_SCRIPTS_H_
