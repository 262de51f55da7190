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

// The run ledger (layout.h). Both scripts build an entry's key as ARGV head .. job .. middle ..
// epoch (RedisLayout::run_key_head/middle), so they serve both layouts.
//
// Writes one entry. KEYS: the entry, the job's index, every job's index. ARGV: data, slot (epoch
// s), retention (s), job, head, middle, score (-slot). 1 when kept; 0 when the slot is already
// past the retention (then the entry is removed instead). Drops a few index members whose entry
// has expired, oldest first.
const RedisScript& put_run_record_script();

// Reads entries in index order. KEYS: an index. ARGV: start (rank), count, job (empty: every
// job's index, whose members name their job), head, middle. {next start, 1 if the index has no
// more, member, data, member, data, ...}: at most `count` entries. Members whose entry has expired
// are removed from the index on the way (ranks after them move down: the next start accounts).
const RedisScript& run_records_script();

// heartlock's own layout: the lock is a hash carrying the lease's ttl.
const RedisScripts& native_scripts();

// cronlock's layout (see cronlock_layout.h): the lock key holds a deadline in epoch seconds,
// which cronlock and golock read; heartlock's owner record and counter live beside it.
const RedisScripts& cronlock_scripts();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_SCRIPTS_H_
