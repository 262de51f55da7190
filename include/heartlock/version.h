// The library version.
#ifndef HEARTLOCK_VERSION_H_
#define HEARTLOCK_VERSION_H_

#include <string_view>

namespace heartlock {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace heartlock

#endif  // HEARTLOCK_VERSION_H_
