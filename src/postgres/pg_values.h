// Reading the text values of a PostgreSQL row, shared by both modes' files.
#ifndef HEARTLOCK_POSTGRES_PG_VALUES_H_
#define HEARTLOCK_POSTGRES_PG_VALUES_H_

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

// Whether a boolean value is true ("t"); NULL is not.
inline bool is_true(const PgValue& v) { return v && *v == "t"; }

}  // namespace heartlock::detail

#endif  // HEARTLOCK_POSTGRES_PG_VALUES_H_
