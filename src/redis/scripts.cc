#include "scripts.h"

#include <openssl/evp.h>

namespace heartlock::detail {
namespace {

// The server's clock in milliseconds. TIME is allowed in scripts since Redis 5 (scripts replicate
// their effects, not their code), and Debian 12 ships Redis 7.
#define HEARTLOCK_LUA_NOW          \
  "local t = redis.call('TIME')\n" \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

// Takes the lock only if no key exists, and counts the fencing token in the same step, so a
// token is never handed out twice and never skipped by a half-done acquire. The key carries the
// ttl (PEXPIRE): a holder that dies simply stops renewing and the server frees it.
constexpr std::string_view kAcquire = HEARTLOCK_LUA_NOW R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1]), now}
end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'held', 'owner', ARGV[1], 'token', token,
  'host', ARGV[3], 'pid', ARGV[4], 'command', ARGV[5], 'ttl_ms', ARGV[2],
  'stale_after_ms', ARGV[6], 'slot', ARGV[7],
  'acquired_ms', now, 'renewed_ms', now, 'heartbeat_ms', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token, now}
)lua";

// Extends only this owner's lease. The heartbeat is sent as an age (the client's monotonic
// clock) and stored as a server time, so no two clocks are ever compared.
constexpr std::string_view kRenew = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
if owner ~= ARGV[1] then return -1 end
)lua" HEARTLOCK_LUA_NOW R"lua(
redis.call('HSET', KEYS[1], 'renewed_ms', now, 'heartbeat_ms', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

// Ends only this owner's lease. With a min_hold left, the key stays (marked released) for that
// long instead of being deleted; otherwise it goes and waiters are told on the channel.
constexpr std::string_view kRelease = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
if owner ~= ARGV[1] then return -1 end
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], 'state', 'released')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], 'released')
end
return 1
)lua";

// Administrative: ends the lease with exactly this token, whoever holds it.
constexpr std::string_view kBreak = R"lua(
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], 'released')
return 1
)lua";

constexpr std::string_view kInspect = HEARTLOCK_LUA_NOW R"lua(
return {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1]), now,
        redis.call('GET', KEYS[2])}
)lua";

#undef HEARTLOCK_LUA_NOW

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

const RedisScript& make(std::string_view source) {
  // Leaked on purpose: scripts live for the whole process.
  return *new RedisScript{source, sha1_hex(source)};
}

}  // namespace

const RedisScript& acquire_script() {
  static const RedisScript& s = make(kAcquire);
  return s;
}
const RedisScript& renew_script() {
  static const RedisScript& s = make(kRenew);
  return s;
}
const RedisScript& release_script() {
  static const RedisScript& s = make(kRelease);
  return s;
}
const RedisScript& break_script() {
  static const RedisScript& s = make(kBreak);
  return s;
}
const RedisScript& inspect_script() {
  static const RedisScript& s = make(kInspect);
  return s;
}

}  // namespace heartlock::detail
