#include "libpq_api.h"

#include <mutex>
#include <string>

#include <dlfcn.h>

namespace heartlock::detail {

Result<const LibpqApi*> libpq_api() {
  static LibpqApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      failure = std::string("cannot load libpq (install libpq5): ") + ::dlerror();
      return;
    }
#define HEARTLOCK_LIBPQ_LOAD(name)                                      \
  api.name = reinterpret_cast<decltype(api.name)>(::dlsym(lib, #name)); \
  if (api.name == nullptr && failure.empty()) {                         \
    failure = "libpq lacks " #name;                                     \
  }
    HEARTLOCK_LIBPQ_FUNCTIONS(HEARTLOCK_LIBPQ_LOAD)
#undef HEARTLOCK_LIBPQ_LOAD
    // The library stays loaded for the life of the process.
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "postgres: " + failure);
  }
  return &api;
}

}  // namespace heartlock::detail
