// SHA-256 through OpenSSL, hex-encoded.
#ifndef HEARTLOCK_CORE_SHA256_H_
#define HEARTLOCK_CORE_SHA256_H_

#include <string>
#include <string_view>

namespace heartlock::detail {

// Lower-case hex SHA-256 of `data` (64 characters).
std::string sha256_hex(std::string_view data);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_SHA256_H_
