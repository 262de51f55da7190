#include "tz_api.h"

#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include <dlfcn.h>

namespace heartlock::detail {
namespace {

// The symbols by their mangled names (`nm -D libdate-tz.so.3`); they are part of the soname's
// ABI, which HEARTLOCK_DATE_TZ_SONAME (the library CMake found) pins.
constexpr const char* kGetTzdb = "_ZN4date8get_tzdbEv";
// Where Debian's libdate-tz (USE_OS_TZDB) reads the zones; its first use throws without it.
constexpr const char* kZoneDir = "/usr/share/zoneinfo";
constexpr const char* kGetInfoImpl =
    "_ZNK4date9time_zone13get_info_implENSt6chrono10time_pointINS1_3_V212system_clockENS1_"
    "8durationIlSt5ratioILl1ELl1EEEEEE";

// A pointer to a non-virtual member function from its address: in the Itanium C++ ABI (Linux on
// x86-64 and AArch64) it is the pair {address, this-adjustment 0}.
template <class MemberFn>
MemberFn member_function(void* address) {
  struct Raw {
    void* address;
    std::ptrdiff_t adjustment;
  };
  static_assert(sizeof(MemberFn) == sizeof(Raw));
  const Raw raw{address, 0};
  MemberFn fn;
  std::memcpy(&fn, &raw, sizeof fn);
  return fn;
}

}  // namespace

Result<const TzApi*> tz_api() {
  static TzApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen(HEARTLOCK_DATE_TZ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      failure = std::string("cannot load " HEARTLOCK_DATE_TZ_SONAME " (install libdate-tz3): ") +
                ::dlerror();
      return;
    }
    void* tzdb = ::dlsym(lib, kGetTzdb);
    void* get_info = ::dlsym(lib, kGetInfoImpl);
    if (tzdb == nullptr || get_info == nullptr) {
      failure = HEARTLOCK_DATE_TZ_SONAME " lacks the functions heartlock calls";
      return;
    }
    if (::access(kZoneDir, R_OK | X_OK) != 0) {
      failure = std::string("no tz database in ") + kZoneDir + " (install tzdata)";
      return;
    }
    api.get_tzdb = reinterpret_cast<decltype(api.get_tzdb)>(tzdb);
    api.get_info_impl = member_function<decltype(api.get_info_impl)>(get_info);
    // The library stays loaded for the life of the process.
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "time zones: " + failure);
  }
  return &api;
}

const date::time_zone* TzApi::find(std::string_view name) const {
  // About 600 names, scanned once per parse: no assumption about the list's order.
  for (const date::time_zone& zone : get_tzdb().zones) {
    if (zone.name() == name) {
      return &zone;
    }
  }
  return nullptr;
}

std::string system_zone_name() {
  std::array<char, 4096> target{};
  const ssize_t n = ::readlink("/etc/localtime", target.data(), target.size() - 1);
  if (n > 0) {
    const std::string_view path(target.data(), static_cast<std::size_t>(n));
    constexpr std::string_view kMarker = "zoneinfo/";
    if (auto at = path.rfind(kMarker); at != std::string_view::npos) {
      return std::string(path.substr(at + kMarker.size()));
    }
  }
  std::ifstream file("/etc/timezone");
  std::string line;
  if (file && std::getline(file, line) && !line.empty()) {
    return line;
  }
  return "Etc/UTC";
}

}  // namespace heartlock::detail
