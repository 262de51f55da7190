// SHA-256 through OpenSSL, hex-encoded.
#ifndef HEARTLOCK_CORE_SHA256_H_
#define HEARTLOCK_CORE_SHA256_H_

#include <string>
#include <string_view>

namespace heartlock::detail {

// Lower-case hex SHA-256 of `data` (64 characters).
// Hex digests (lower case). SHA-256 names long lock files and advisory keys; SHA-1 is what Redis
// calls a script by (EVALSHA); MD5 is how cronlock names its keys.
std::string sha256_hex(std::string_view data);
std::string sha1_hex(std::string_view data);
std::string md5_hex(std::string_view data);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_SHA256_H_
