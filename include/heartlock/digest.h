// Hex digests, as the library derives names with them: public so that an application derives
// names the same way (job_key() hashes with SHA-256; cronlock and golock name their keys with
// MD5, which the cronlock drop-in reproduces).
//
// Pure functions; thread-safe.
#ifndef HEARTLOCK_DIGEST_H_
#define HEARTLOCK_DIGEST_H_

#include <string>
#include <string_view>

#include "heartlock/export.h"

namespace heartlock {

// The lower-case hex SHA-256 of `data` (64 characters).
HEARTLOCK_API std::string sha256_hex(std::string_view data);

// The lower-case hex MD5 of `data` (32 characters). For compatible names only, never for
// security.
HEARTLOCK_API std::string md5_hex(std::string_view data);

}  // namespace heartlock

#endif  // HEARTLOCK_DIGEST_H_
