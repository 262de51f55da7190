// Reading the text values of a PostgreSQL row, and writing numbers as parameters, shared by both
// modes' files.
#ifndef HEARTLOCK_POSTGRES_PG_VALUES_H_
#define HEARTLOCK_POSTGRES_PG_VALUES_H_

#include <array>
#include <charconv>

#include "pg_connection.h"

namespace heartlock::detail {

// The leading integer of a value, or 0 (also for NULL).
inline long long to_ll(const PgValue& v) {
  long long out = 0;
  if (v) {
    std::from_chars(v->data(), v->data() + v->size(), out);
  }
  return out;
}

// `v` in decimal, NUL-terminated, written into `buf`: a statement parameter without a string.
inline const char* pg_decimal(std::array<char, 24>& buf, long long v) {
  *std::to_chars(buf.data(), buf.data() + buf.size() - 1, v).ptr = '\0';
  return buf.data();
}

// Whether a boolean value is true ("t"); NULL is not.
inline bool is_true(const PgValue& v) { return v && *v == "t"; }

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_VALUES_H_
