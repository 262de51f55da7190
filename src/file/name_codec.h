// Maps a lock name to the one file that holds it inside the store directory.
//
// Bytes [A-Za-z0-9_-] and '.' (except first) stand for themselves; every other byte becomes %XX.
// So "../x" is "%2E.%2Fx.lock" and "a/b" is "a%2Fb.lock": no name can contain '/', start with '.',
// or equal another name's file. Encodings longer than kMaxEncoded keep a readable prefix and end
// in '~' + SHA-256 of the whole name; '~' never appears in a short encoding, so the two forms
// cannot collide either.
#ifndef HEARTLOCK_FILE_NAME_CODEC_H_
#define HEARTLOCK_FILE_NAME_CODEC_H_

#include <optional>
#include <string>
#include <string_view>

namespace heartlock::detail {

inline constexpr std::size_t kMaxEncoded = 200;  // file names may be 255 bytes; keep room
inline constexpr std::string_view kLockSuffix = ".lock";

// REQUIRES: validate_name(name). The lock file's name (not a path).
std::string lock_file_name(std::string_view name);

// The name a lock file stands for, or nullopt for hashed or foreign file names.
std::optional<std::string> name_from_file(std::string_view file_name);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_NAME_CODEC_H_
