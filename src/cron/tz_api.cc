#include "tz_api.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <dlfcn.h>

namespace heartlock::detail {
namespace {

constexpr const char* kModuleFile = "heartlock-tz.so";

// The directory of the running executable's real path, or "" if /proc is not mounted.
std::string executable_dir() {
  std::array<char, 4096> target{};
  const ssize_t n = ::readlink("/proc/self/exe", target.data(), target.size() - 1);
  if (n <= 0) {
    return "";
  }
  const std::string path(target.data(), static_cast<std::size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Where the module is looked for, in order (tz_api.h).
std::vector<std::string> module_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("HEARTLOCK_TZ_MODULE"); env != nullptr && *env != '\0') {
    paths.emplace_back(env);
  }
  if (const std::string dir = executable_dir(); !dir.empty()) {
    paths.push_back(dir + "/" + kModuleFile);
    paths.push_back(dir + "/../lib/heartlock/" + kModuleFile);
  }
  paths.emplace_back(HEARTLOCK_TZ_MODULE_INSTALL_PATH);
  return paths;
}

// Opens the module at `path` and returns its table, or nullptr with the reason in `why`.
const HeartlockTzApiV1* open_module(const std::string& path, std::string& why) {
  void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    why = ::dlerror();
    return nullptr;
  }
  auto* entry = reinterpret_cast<HeartlockTzApiV1Fn>(::dlsym(lib, HEARTLOCK_TZ_API_SYMBOL));
  const HeartlockTzApiV1* api = entry == nullptr ? nullptr : entry();
  if (api == nullptr) {
    why = path + ": no " HEARTLOCK_TZ_API_SYMBOL;
  } else if (api->version != HEARTLOCK_TZ_API_VERSION || api->size < sizeof(HeartlockTzApiV1)) {
    why = path + ": interface version " + std::to_string(api->version) + ", heartlock needs " +
          std::to_string(HEARTLOCK_TZ_API_VERSION);
    api = nullptr;
  }
  if (api == nullptr) {
    ::dlclose(lib);
  }
  return api;  // The module stays loaded for the life of the process.
}

// Loads the first module that opens and its tz database, or says why not.
Result<const HeartlockTzApiV1*> load_module() {
  std::string tried;
  for (const std::string& path : module_candidates()) {
    std::string why;
    const HeartlockTzApiV1* api = open_module(path, why);
    if (api == nullptr) {
      tried += (tried.empty() ? "" : "; ") + why;
      continue;
    }
    std::array<char, 512> error{};
    if (api->init(error.data(), error.size()) != HEARTLOCK_TZ_OK) {
      return fail(Errc::unavailable, std::string("time zones: ") + error.data());
    }
    return api;
  }
  return fail(Errc::unavailable,
              "time zones: cannot load the " + std::string(kModuleFile) +
                  " module (set HEARTLOCK_TZ_MODULE to its path); tried: " + tried);
}

}  // namespace

Result<const TzApi*> tz_api() {
  static std::once_flag once;
  static Result<const HeartlockTzApiV1*> loaded = nullptr;
  static std::optional<TzApi> api;  // lives as long as the module: until the process exits
  std::call_once(once, [] {
    loaded = load_module();
    if (loaded) {
      api.emplace(*loaded);
    }
  });
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  return &*api;
}

Result<const HeartlockTzZone*> TzApi::find(std::string_view name) const {
  const HeartlockTzZone* zone = nullptr;
  switch (module_->find_zone(name.data(), name.size(), &zone)) {
    case HEARTLOCK_TZ_OK:
      return zone;
    case HEARTLOCK_TZ_NOT_FOUND:
      return nullptr;
    default:
      return fail(Errc::unavailable,
                  "time zone \"" + std::string(name) + "\": cannot read its rules");
  }
}

TzSegment TzApi::segment(const HeartlockTzZone* zone, std::chrono::sys_seconds t) const {
  HeartlockTzSegment raw{};
  if (module_->segment_at(zone, t.time_since_epoch().count(), &raw) != HEARTLOCK_TZ_OK) {
    std::fputs("heartlock: time zones: a loaded zone's rules failed\n", stderr);
    std::abort();
  }
  TzSegment out{.begin = std::chrono::sys_seconds{std::chrono::seconds{raw.begin}},
                .end = std::chrono::sys_seconds{std::chrono::seconds{raw.end}},
                .offset = std::chrono::seconds{raw.offset}};
  static_assert(sizeof out.abbreviation == sizeof raw.abbreviation);
  std::copy(std::begin(raw.abbreviation), std::end(raw.abbreviation), out.abbreviation.begin());
  out.abbreviation.back() = '\0';
  return out;
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
