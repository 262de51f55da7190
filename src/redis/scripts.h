// The Lua scripts of the Redis backend. Each mutation is one script, so that checking the owner
// and changing the key are one atomic step on the server (no GET-then-SET race), and every time
// is the server's (TIME), never a client's clock.
//
// Every script takes the same four KEYS, so leases and batches need not know the layout:
//   KEYS[1] lock     what holds the lock (heartlock: a hash; cronlock: a deadline string)
//   KEYS[2] meta     the hash with owner, token, host, pid, ... (heartlock: the lock itself)
//   KEYS[3] fence    the fencing counter (INCR)
//   KEYS[4] channel  pub/sub channel that wakes waiters on release
#ifndef HEARTLOCK_REDIS_SCRIPTS_H_
#define HEARTLOCK_REDIS_SCRIPTS_H_

#include <string>
#include <string_view>

namespace heartlock::detail {

struct RedisScript {
  std::string_view source;
  std::string sha1;  // for EVALSHA
};

struct RedisScripts {
  // ARGV: owner, ttl_ms, host, pid, command, stale_after_ms, slot.
  // {1, token, now_ms} when taken; {0, holder fields (flat hash), ms until free, now_ms} when held.
  const RedisScript& acquire;
  // ARGV: owner, ttl_ms, heartbeat_age_ms. 1 renewed, 0 gone, -1 another owner's.
  const RedisScript& renew;
  // ARGV: owner, hold_ms. 1 released, 0 gone, -1 another owner's.
  const RedisScript& release;
  // ARGV: token, seen value (cronlock layout, token 0: a lock cronlock wrote). 1 ended, 0 not
  // that lease (any more).
  const RedisScript& break_lease;
  // {holder fields, ms until free (or -2), now_ms, last token or nil}.
  const RedisScript& inspect;
  // Redlock: ARGV: owner, token. Raises the fencing counter to at least `token` and records it as
  // the lease's token, if this owner holds the lock. 1 done, 0 not held.
  const RedisScript& raise_fence;
};

// Once per slot. KEYS: the slot's key, the job's last-slot key. ARGV: claimant, slot (epoch s),
// retention (s). {1, claimant} when this call claimed it; {0, first claimant} otherwise. The key
// expires at slot + retention on the server's clock; a slot already past that is never claimed.
// A claimed slot (by this call or before) raises the last-slot key to at least the slot, and its
// expiry to at least the slot's.
const RedisScript& slot_script();

// heartlock's own layout: the lock is a hash carrying the lease's ttl.
const RedisScripts& native_scripts();

// cronlock's layout (see cronlock_layout.h): the lock key holds a deadline in epoch seconds,
// which cronlock and golock read; heartlock's owner record and counter live beside it.
const RedisScripts& cronlock_scripts();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_SCRIPTS_H_
