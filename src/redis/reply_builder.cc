#include "reply_builder.h"

#include <algorithm>
#include <charconv>
#include <new>
#include <system_error>

namespace heartlock::detail {
namespace {

std::string mib(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

void* RedisReplyBuilder::create_string(const redisReadTask* task, char* str,
                                       std::size_t len) noexcept try {
  auto* self = static_cast<RedisReplyBuilder*>(task->privdata);
  if (len > kMaxRedisStringBytes) {
    self->refused = "string of " + std::to_string(len) + " bytes";
    return nullptr;
  }
  RedisReply value;
  value.type = task->type == REDIS_REPLY_STATUS  ? RedisReply::Type::status
               : task->type == REDIS_REPLY_ERROR ? RedisReply::Type::error
                                                 : RedisReply::Type::string;
  value.str.assign(str, len);
  return self->attach(task, std::move(value));
} catch (const std::bad_alloc&) {
  return nullptr;
}

void* RedisReplyBuilder::create_array(const redisReadTask* task, int elements) noexcept try {
  auto* self = static_cast<RedisReplyBuilder*>(task->privdata);
  if (static_cast<std::size_t>(elements) > kMaxRedisArrayElements) {
    self->refused = "array of " + std::to_string(elements) + " elements";
    return nullptr;
  }
  // The elements are counted as they arrive; the table grows with them, not with the header
  // (beyond a few: heartlock's script replies have at most 4, reserved in one allocation).
  RedisReply array{.type = RedisReply::Type::array};
  array.elements.reserve(static_cast<std::size_t>(std::clamp(elements, 0, 4)));
  return self->attach(task, std::move(array));
} catch (const std::bad_alloc&) {
  return nullptr;
}

void* RedisReplyBuilder::create_integer(const redisReadTask* task, long long value) noexcept try {
  return static_cast<RedisReplyBuilder*>(task->privdata)
      ->attach(task, RedisReply{.type = RedisReply::Type::integer, .integer = value});
} catch (const std::bad_alloc&) {
  return nullptr;
}

void* RedisReplyBuilder::create_nil(const redisReadTask* task) noexcept try {
  return static_cast<RedisReplyBuilder*>(task->privdata)
      ->attach(task, RedisReply{.type = RedisReply::Type::nil});
} catch (const std::bad_alloc&) {
  return nullptr;
}

void RedisReplyBuilder::free_object(void* reply) noexcept {
  delete static_cast<RedisReply*>(reply);
}

void* RedisReplyBuilder::attach(const redisReadTask* task, RedisReply value) {
  const std::size_t cost = sizeof(RedisReply) + value.str.size();
  if (bytes + cost > kMaxRedisReplyBytes) {
    refused = "more than " + mib(kMaxRedisReplyBytes) + " in all";
    return nullptr;
  }
  bytes += cost;
  if (task->parent == nullptr) {
    return new RedisReply(std::move(value));
  }
  auto* parent = static_cast<RedisReply*>(task->parent->obj);
  parent->elements.push_back(std::move(value));
  return &parent->elements.back();
}

namespace {

redisReplyObjectFunctions g_reply_functions = {
    .createString = &RedisReplyBuilder::create_string,
    .createArray = &RedisReplyBuilder::create_array,
    .createInteger = &RedisReplyBuilder::create_integer,
    .createNil = &RedisReplyBuilder::create_nil,
    .freeObject = &RedisReplyBuilder::free_object,
};

}  // namespace

redisReplyObjectFunctions* redis_reply_functions() { return &g_reply_functions; }

// hiredis keeps a bulk string (and a line) in its buffer until all of it has arrived and creates
// the object only then, so what is still arriving is checked here, before it is buffered: a
// string whose header announces more than kMaxRedisStringBytes, a line (status, error, integer,
// a header) past kMaxRedisLineBytes, or an unfinished item past the string limit with `incoming`
// more bytes. Empty if none. (The line limit also keeps hiredis's search for the line's end,
// which starts over with every read, from going quadratic on a line without end.)
std::string oversized_item(const redisReader* r, std::size_t incoming) {
  if (r->ridx < 0 || r->len <= r->pos) {
    return {};
  }
  // After redisReaderGetReply, the buffer from `pos` holds one unfinished item, its type byte
  // consumed: a line, or a bulk string's length line and then its bytes.
  const char* item = r->buf + r->pos;
  const std::size_t pending = r->len - r->pos;
  const char* line_end = std::find(item, item + pending, '\r');
  if (line_end == item + pending) {
    if (pending + incoming > kMaxRedisLineBytes) {
      return "a line of more than " + mib(kMaxRedisLineBytes);
    }
    return {};
  }
  long long len = 0;
  if (r->rstack[r->ridx].type == REDIS_REPLY_STRING &&
      std::from_chars(item, line_end, len).ec == std::errc() &&
      len > static_cast<long long>(kMaxRedisStringBytes)) {
    return "string of " + std::to_string(len) + " bytes";
  }
  // The largest item allowed, with its length line and CRLF (a few dozen bytes).
  constexpr std::size_t kMaxItemBytes = kMaxRedisStringBytes + 64;
  if (pending + incoming > kMaxItemBytes) {
    return "an item of more than " + mib(kMaxRedisStringBytes);
  }
  return {};
}

}  // namespace heartlock::detail
