// Building a backend URL for Store::open from separate values (a password, a key prefix, a
// Sentinel master name) without letting any of them change what the URL means.
//
// Pure functions; thread-safe.
#ifndef HEARTLOCK_URL_H_
#define HEARTLOCK_URL_H_

#include <string>
#include <string_view>

#include "heartlock/export.h"

namespace heartlock {

// `text` with every byte but RFC 3986's unreserved characters (A-Z a-z 0-9 - . _ ~) and those in
// `keep` written as %XX (upper-case hex). Every backend decodes user names, passwords, paths and
// query values with the one matching rule, so percent_encode(value) reads back as `value`.
// Example: "redis://:" + percent_encode(password) + "@host:6379/0".
HEARTLOCK_API std::string percent_encode(std::string_view text, std::string_view keep = {});

}  // namespace heartlock

#endif  // HEARTLOCK_URL_H_
