// Numbers out of script replies and into script arguments, shared by the Redis store's files. A
// reply of another shape reads as 0: the callers check shapes where it matters.
#ifndef HEARTLOCK_REDIS_REPLY_VALUES_H_
#define HEARTLOCK_REDIS_REPLY_VALUES_H_

#include <array>
#include <charconv>
#include <string_view>

#include "connection.h"

namespace heartlock::detail {

// The leading integer of `s`, or 0.
inline long long to_ll(std::string_view s) {
  long long v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// `v` in decimal, written into `buf` (which the view points into).
inline std::string_view decimal(std::array<char, 24>& buf, long long v) {
  auto end = std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr;
  return {buf.data(), static_cast<std::size_t>(end - buf.data())};
}

// An integer reply, or a string holding one; 0 for anything else.
inline long long integer_of(const RedisReply& r) {
  return r.type == RedisReply::Type::integer  ? r.integer
         : r.type == RedisReply::Type::string ? to_ll(r.str)
                                              : 0;
}

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REPLY_VALUES_H_
