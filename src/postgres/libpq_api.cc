#include "libpq_api.h"

#include <mutex>
#include <string>

#include "../core/shared_library.h"

namespace heartlock::detail {

Result<const LibpqApi*> libpq_api() {
  static LibpqApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    SharedLibrary lib("libpq.so.5", "libpq", "libpq5");
#define HEARTLOCK_LIBPQ_LOAD(name) lib.load(api.name, #name);
    HEARTLOCK_LIBPQ_FUNCTIONS(HEARTLOCK_LIBPQ_LOAD)
#undef HEARTLOCK_LIBPQ_LOAD
    failure = lib.failure();
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "postgres: " + failure);
  }
  return &api;
}

}  // namespace heartlock::detail
