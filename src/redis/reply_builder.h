// RedisReplyBuilder: the objects hiredis's reply reader builds, as RedisReply values within the
// limits connection.h sets, and the check of what is still arriving (oversized_item).
#ifndef HEARTLOCK_REDIS_REPLY_BUILDER_H_
#define HEARTLOCK_REDIS_REPLY_BUILDER_H_

#include <cstddef>
#include <string>

#include <hiredis/hiredis.h>

#include "connection.h"

namespace heartlock::detail {

// The reader's objects. hiredis 0.14's own (static in hiredis.c: nothing to wrap) calloc an
// array's element table as soon as its header arrives -- 16 GiB for "*2147483647", before one
// element is there -- and hiredis 1.0's `maxelements` is not in Debian 12. These build the
// RedisReply tree directly (no copy out of redisReply afterwards), refuse an array header over
// kMaxRedisArrayElements and a string over kMaxRedisStringBytes, and count what the reply holds
// against kMaxRedisReplyBytes. Refusing is returning nullptr: the reader then stops with an
// out-of-memory error, which read_reply() reports as `refused` says.
//
// hiredis passes each object's parent as task->parent->obj and frees only the root (freeObject
// on r->reply); children live inside their parent's `elements`. A child is filled only while it is
// its parent's last element, before the parent grows again, so the pointers hiredis keeps to
// unfinished arrays stay valid.
//
// Thread-safety: none; one per connection, used by its reader only.
struct RedisReplyBuilder {
  std::size_t bytes = 0;  // what the reply being read holds so far
  std::string refused;    // why an object was refused; empty if none was

  // Each returns the new object, or nullptr to refuse it (or when out of memory: no exception
  // may cross into hiredis's C).
  static void* create_string(const redisReadTask* task, char* str, std::size_t len) noexcept;
  static void* create_array(const redisReadTask* task, int elements) noexcept;
  static void* create_integer(const redisReadTask* task, long long value) noexcept;
  static void* create_nil(const redisReadTask* task) noexcept;
  static void free_object(void* reply) noexcept;

 private:
  // Counts `value` against kMaxRedisReplyBytes and stores it: the root on the heap, anything
  // else as its parent's next element.
  void* attach(const redisReadTask* task, RedisReply value);
};

// The reader's object functions: RedisReplyBuilder's, its privdata a RedisReplyBuilder.
redisReplyObjectFunctions* redis_reply_functions();

// What is still arriving past the limits (see reply_builder.cc); empty if nothing.
std::string oversized_item(const redisReader* r, std::size_t incoming);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REPLY_BUILDER_H_
