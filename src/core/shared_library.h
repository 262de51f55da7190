// SharedLibrary: an optional dependency loaded with dlopen on first use instead of linked
// (libpq, libcurl, libssl, libmicrohttpd), so that a start of heartlock pays only for what that
// run uses (docs/benchmarks.md). Each user keeps a table of function pointers typed from the
// library's own headers and fills it with load().
//
// A value used once, inside the user's std::call_once; the library stays loaded for the life of
// the process (never dlclosed). Header-only: the CLI uses it too, and a shared libheartlock
// exports only its API.
#ifndef HEARTLOCK_CORE_SHARED_LIBRARY_H_
#define HEARTLOCK_CORE_SHARED_LIBRARY_H_

#include <string>
#include <string_view>

#include <dlfcn.h>

namespace heartlock::detail {

class SharedLibrary {
 public:
  // dlopen(soname); `name` is how messages call it ("libpq"), `package` what to install.
  SharedLibrary(const char* soname, std::string_view name, std::string_view package)
      : name_(name), handle_(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) {
      failure_ = "cannot load " + name_ + " (install " + std::string(package) + "): " + ::dlerror();
    }
  }

  // Points `fn` at the library's `symbol` (dlsym also searches what the library depends on);
  // the first one missing is the failure.
  template <class Fn>
  void load(Fn*& fn, const char* symbol) {
    if (handle_ == nullptr) {
      return;
    }
    fn = reinterpret_cast<Fn*>(::dlsym(handle_, symbol));
    if (fn == nullptr && failure_.empty()) {
      failure_ = name_ + " lacks " + symbol;
    }
  }

  // Empty if the library loaded with every function asked for so far.
  const std::string& failure() const { return failure_; }

 private:
  std::string name_;
  void* handle_;
  std::string failure_;
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_SHARED_LIBRARY_H_
