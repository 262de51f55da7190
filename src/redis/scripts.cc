#include "scripts.h"

#include "../core/sha256.h"

namespace heartlock::detail {
namespace {

// The server's clock in milliseconds. TIME is allowed in scripts since Redis 5 (scripts replicate
// their effects, not their code), and Debian 12 ships Redis 7.
#define HEARTLOCK_LUA_NOW          \
  "local t = redis.call('TIME')\n" \
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

// Scripts that write times or tokens into a hash pass them as strings made with
// string.format('%.0f'), the digits Redis would print itself (snprintf("%.17g") in Redis 7.0)
// for any integer below 10^17, at a little less cost (docs/benchmarks.md, issue 14). Never '%d':
// Lua 5.1 converts it through a C long, 32 bits on a 32-bit server, where a time in ms wraps.
#define HEARTLOCK_LUA_NOW_S "local now_s = string.format('%.0f', now)\n"

// ---- heartlock's layout: KEYS[1] is the lock hash (KEYS[2] names the same key) ----

// Takes the lock only if no key exists, and counts the fencing token in the same step, so a
// token is never handed out twice and never skipped by a half-done acquire. The key carries the
// ttl (PEXPIRE): a holder that dies simply stops renewing and the server frees it.
constexpr std::string_view kAcquire = HEARTLOCK_LUA_NOW R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1]), now}
end
local token = redis.call('INCR', KEYS[3])
)lua" HEARTLOCK_LUA_NOW_S R"lua(
redis.call('HSET', KEYS[1], 'state', 'held', 'owner', ARGV[1], 'token', string.format('%.0f', token),
  'host', ARGV[3], 'pid', ARGV[4], 'command', ARGV[5], 'ttl_ms', ARGV[2],
  'stale_after_ms', ARGV[6], 'slot', ARGV[7],
  'acquired_ms', now_s, 'renewed_ms', now_s, 'heartbeat_ms', now_s)
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
redis.call('HSET', KEYS[1], 'renewed_ms', string.format('%.0f', now),
  'heartbeat_ms', string.format('%.0f', now - tonumber(ARGV[3])))
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
  redis.call('PUBLISH', KEYS[4], 'released')
end
return 1
)lua";

// Administrative: ends the lease with exactly this token, whoever holds it.
constexpr std::string_view kBreak = R"lua(
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[4], 'released')
return 1
)lua";

constexpr std::string_view kInspect = HEARTLOCK_LUA_NOW R"lua(
return {redis.call('HGETALL', KEYS[1]), redis.call('PTTL', KEYS[1]), now,
        redis.call('GET', KEYS[3])}
)lua";

// Shared by both layouts (KEYS[2] is the owner record in each).
constexpr std::string_view kRaiseFence = R"lua(
if redis.call('HGET', KEYS[2], 'owner') ~= ARGV[1] then return 0 end
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current < tonumber(ARGV[2]) then redis.call('SET', KEYS[3], ARGV[2]) end
redis.call('HSET', KEYS[2], 'token', ARGV[2])
return 1
)lua";

// ---- cronlock's layout ----
// KEYS[1] holds "<deadline in epoch seconds>", exactly what cronlock's SETNX/GETSET write, and
// cronlock counts it held while deadline >= now in whole seconds, i.e. until (deadline+1)*1000 ms.
// heartlock writes a deadline covering its ttl and moves it on at every renewal, records its owner
// in KEYS[2] together with the deadline it wrote (a different value means cronlock took the key
// over), and always gives both keys a server expiry at that same instant. A lock cronlock wrote is
// reported as a foreign holder with kind=cronlock, never taken over before its deadline.

// Defines holder(v) (what holds the lock whose value is v) and free_in(v) (ms until cronlock's
// rule frees it; the key's PTTL for a value that is not a deadline).
#define HEARTLOCK_LUA_CRONLOCK_HOLDER                                 \
  "local function holder(v)\n"                                        \
  "  if redis.call('HGET', KEYS[2], 'deadline_s') == v then\n"        \
  "    return redis.call('HGETALL', KEYS[2])\n"                       \
  "  end\n"                                                           \
  "  return {'state', 'held', 'kind', 'cronlock', 'deadline_s', v}\n" \
  "end\n"                                                             \
  "local function free_in(v)\n"                                       \
  "  local d = tonumber(v)\n"                                         \
  "  if d == nil then return redis.call('PTTL', KEYS[1]) end\n"       \
  "  return (d + 1) * 1000 - now\n"                                   \
  "end\n"                                                             \
  "local function put(d)\n"                                           \
  "  local ds = string.format('%.0f', d)\n"                           \
  "  local at = string.format('%.0f', (d + 1) * 1000)\n"              \
  "  redis.call('SET', KEYS[1], ds, 'PXAT', at)\n"                    \
  "  redis.call('HSET', KEYS[2], 'deadline_s', ds)\n"                 \
  "  redis.call('PEXPIREAT', KEYS[2], at)\n"                          \
  "end\n"

constexpr std::string_view kCronlockAcquire = HEARTLOCK_LUA_NOW HEARTLOCK_LUA_CRONLOCK_HOLDER R"lua(
local v = redis.call('GET', KEYS[1])
if v and (tonumber(v) == nil or free_in(v) > 0) then
  return {0, holder(v), free_in(v), now}
end
local token = redis.call('INCR', KEYS[3])
redis.call('DEL', KEYS[2])
)lua" HEARTLOCK_LUA_NOW_S R"lua(
redis.call('HSET', KEYS[2], 'state', 'held', 'owner', ARGV[1], 'token', string.format('%.0f', token),
  'host', ARGV[3], 'pid', ARGV[4], 'command', ARGV[5], 'ttl_ms', ARGV[2],
  'stale_after_ms', ARGV[6], 'slot', ARGV[7],
  'acquired_ms', now_s, 'renewed_ms', now_s, 'heartbeat_ms', now_s)
put(math.floor((now + tonumber(ARGV[2])) / 1000))
return {1, token, now}
)lua";

// Owner-fenced, and fenced by the value: if cronlock rewrote the key (GETSET after it saw the
// deadline pass), the lease is someone else's now.
#define HEARTLOCK_LUA_CRONLOCK_MINE                      \
  "local owner = redis.call('HGET', KEYS[2], 'owner')\n" \
  "if not owner then return 0 end\n"                     \
  "if owner ~= ARGV[1] then return -1 end\n"             \
  "local v = redis.call('GET', KEYS[1])\n"               \
  "if not v then return 0 end\n"                         \
  "if v ~= redis.call('HGET', KEYS[2], 'deadline_s') then return -1 end\n"

constexpr std::string_view kCronlockRenew =
    HEARTLOCK_LUA_NOW HEARTLOCK_LUA_CRONLOCK_HOLDER HEARTLOCK_LUA_CRONLOCK_MINE R"lua(
redis.call('HSET', KEYS[2], 'renewed_ms', string.format('%.0f', now),
  'heartbeat_ms', string.format('%.0f', now - tonumber(ARGV[3])))
put(math.max(tonumber(v), math.floor((now + tonumber(ARGV[2])) / 1000)))
return 1
)lua";

// With a hold left, leaves the deadline cronlock's own GRACE would have left.
constexpr std::string_view kCronlockRelease =
    HEARTLOCK_LUA_NOW HEARTLOCK_LUA_CRONLOCK_HOLDER HEARTLOCK_LUA_CRONLOCK_MINE R"lua(
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[2], 'state', 'released')
  put(math.floor((now + tonumber(ARGV[2])) / 1000))
else
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('PUBLISH', KEYS[4], 'released')
end
return 1
)lua";

constexpr std::string_view kCronlockBreak = R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if ARGV[1] == '0' then
  if v ~= ARGV[2] or redis.call('HGET', KEYS[2], 'deadline_s') == v then return 0 end
elseif redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] or
       redis.call('HGET', KEYS[2], 'deadline_s') ~= v then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', KEYS[4], 'released')
return 1
)lua";

constexpr std::string_view kCronlockInspect = HEARTLOCK_LUA_NOW HEARTLOCK_LUA_CRONLOCK_HOLDER R"lua(
local v = redis.call('GET', KEYS[1])
if not v then return {{}, -2, now, redis.call('GET', KEYS[3])} end
return {holder(v), free_in(v), now, redis.call('GET', KEYS[3])}
)lua";

// The last-slot key is raised in the same script as the claim, so no reader sees a claimed slot
// the key does not cover. It is raised also when the slot was already claimed: that heals a
// job whose records an older heartlock wrote (no key yet), and costs nothing otherwise. Its
// expiry is the latest of the records it has seen claimed, so with one retention per job it goes
// exactly when the latest slot's record does. TTL (not EXPIRETIME, Redis 7) keeps Redis 6.2,
// which EXAT needs anyway, enough. The values stay the strings the clients sent: Lua's
// tostring would print large numbers in exponent form.
constexpr std::string_view kSlot = R"lua(
local now = tonumber(redis.call('TIME')[1])
local slot = tonumber(ARGV[2])
local expire_at = slot + tonumber(ARGV[3])
if expire_at <= now then return {0, '(slot older than the retention)'} end
local won = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EXAT', expire_at)
local last = redis.call('GET', KEYS[2])
if not (last and tonumber(last) and tonumber(last) > slot) then last = ARGV[2] end
local ttl = redis.call('TTL', KEYS[2])
if ttl > 0 then expire_at = math.max(expire_at, now + ttl) end
redis.call('SET', KEYS[2], last, 'EXAT', expire_at)
if won then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1]) or ''}
)lua";

// entry_key(head, middle, job, member): the entry an index member names ('' job: a member of
// every job's index, <epoch>@<job>); nil for a member of another shape.
#define HEARTLOCK_LUA_RUN_KEY                                        \
  "local function entry_key(head, middle, job, member)\n"            \
  "  if job ~= '' then return head .. job .. middle .. member end\n" \
  "  local at = string.find(member, '@', 1, true)\n"                 \
  "  if not at then return nil end\n"                                \
  "  local epoch = string.sub(member, 1, at - 1)\n"                  \
  "  return head .. string.sub(member, at + 1) .. middle .. epoch\n" \
  "end\n"

// The entry carries its own expiry (EXAT on the server's clock), as slot records do; the indexes
// cannot expire member by member, so each write removes up to 16 of the oldest members whose
// entry is gone (stopping at the first live one: with one retention per job, everything newer
// lives too), and readers remove the ones they meet. Scores are -slot so that ZRANGE, cheap from
// either end, lists newest first, and members of one slot in byte order of the job. An index
// expires with the latest-expiring entry written into it, like the last-slot key.
constexpr std::string_view kPutRunRecord = HEARTLOCK_LUA_RUN_KEY R"lua(
local now = tonumber(redis.call('TIME')[1])
local expire_at = tonumber(ARGV[2]) + tonumber(ARGV[3])
local member = ARGV[2] .. '@' .. ARGV[4]
local function prune(index, job)
  local oldest = redis.call('ZRANGE', index, -16, -1)
  for i = #oldest, 1, -1 do
    local key = entry_key(ARGV[5], ARGV[6], job, oldest[i])
    if key and redis.call('EXISTS', key) == 1 then return end
    redis.call('ZREM', index, oldest[i])
  end
end
if expire_at <= now then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('ZREM', KEYS[3], member)
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', expire_at)
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[7], member)
prune(KEYS[2], ARGV[4])
prune(KEYS[3], '')
for i = 2, 3 do
  local ttl = redis.call('TTL', KEYS[i])
  if ttl > 0 then redis.call('EXPIREAT', KEYS[i], math.max(expire_at, now + ttl))
  else redis.call('EXPIREAT', KEYS[i], expire_at) end
end
return 1
)lua";

constexpr std::string_view kRunRecords = HEARTLOCK_LUA_RUN_KEY R"lua(
local pos = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local out = {0, 0}
local found = 0
while found < want do
  local batch = redis.call('ZRANGE', KEYS[1], pos, pos + want - found - 1)
  if #batch == 0 then out[2] = 1; break end
  for _, m in ipairs(batch) do
    local key = entry_key(ARGV[4], ARGV[5], ARGV[3], m)
    local data = key and redis.call('GET', key)
    if data then
      out[#out + 1] = m
      out[#out + 1] = data
      found = found + 1
      pos = pos + 1
    else
      redis.call('ZREM', KEYS[1], m)
    end
  end
end
out[1] = pos
return out
)lua";

#undef HEARTLOCK_LUA_RUN_KEY
#undef HEARTLOCK_LUA_CRONLOCK_MINE
#undef HEARTLOCK_LUA_CRONLOCK_HOLDER
#undef HEARTLOCK_LUA_NOW_S
#undef HEARTLOCK_LUA_NOW

const RedisScript& make(std::string_view source) {
  // Leaked on purpose: scripts live for the whole process.
  return *new RedisScript{source, sha1_hex(source)};
}

}  // namespace

const RedisScript& slot_script() {
  static const RedisScript& s = make(kSlot);
  return s;
}

const RedisScript& put_run_record_script() {
  static const RedisScript& s = make(kPutRunRecord);
  return s;
}

const RedisScript& run_records_script() {
  static const RedisScript& s = make(kRunRecords);
  return s;
}

const RedisScripts& native_scripts() {
  static const RedisScripts s{make(kAcquire), make(kRenew),   make(kRelease),
                              make(kBreak),   make(kInspect), make(kRaiseFence)};
  return s;
}

const RedisScripts& cronlock_scripts() {
  static const RedisScripts s{make(kCronlockAcquire), make(kCronlockRenew),
                              make(kCronlockRelease), make(kCronlockBreak),
                              make(kCronlockInspect), make(kRaiseFence)};
  return s;
}

}  // namespace heartlock::detail
