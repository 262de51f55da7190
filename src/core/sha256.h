// Hex digests through OpenSSL. SHA-256 names long lock files and advisory keys; SHA-1 is what
// Redis calls a script by (EVALSHA); MD5 is how cronlock names its keys. SHA-256 and MD5 are
// public (heartlock/digest.h); the library calls them by their detail:: names too.
#ifndef HEARTLOCK_CORE_SHA256_H_
#define HEARTLOCK_CORE_SHA256_H_

#include <string>
#include <string_view>

#include "heartlock/digest.h"

namespace heartlock::detail {

using ::heartlock::md5_hex;
using ::heartlock::sha256_hex;

// The lower-case hex SHA-1 of `data` (40 characters).
std::string sha1_hex(std::string_view data);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_SHA256_H_
