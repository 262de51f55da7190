#include "curl_api.h"

#include <mutex>
#include <string>

#include <dlfcn.h>

namespace heartlock::detail {

Result<const CurlApi*> curl_api() {
  static CurlApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      failure = std::string("cannot load libcurl (install libcurl4): ") + ::dlerror();
      return;
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (fn == nullptr && failure.empty()) {
        failure = std::string("libcurl lacks ") + name;
      }
    };
    CURLcode (*global_init)(long) = nullptr;
    load(global_init, "curl_global_init");
    load(api.easy_init, "curl_easy_init");
    load(api.easy_setopt, "curl_easy_setopt");
    load(api.easy_perform, "curl_easy_perform");
    load(api.easy_getinfo, "curl_easy_getinfo");
    load(api.easy_cleanup, "curl_easy_cleanup");
    load(api.easy_strerror, "curl_easy_strerror");
    load(api.slist_append, "curl_slist_append");
    load(api.slist_free_all, "curl_slist_free_all");
    load(api.multi_init, "curl_multi_init");
    load(api.multi_add_handle, "curl_multi_add_handle");
    load(api.multi_perform, "curl_multi_perform");
    load(api.multi_poll, "curl_multi_poll");
    load(api.multi_info_read, "curl_multi_info_read");
    load(api.multi_remove_handle, "curl_multi_remove_handle");
    load(api.multi_cleanup, "curl_multi_cleanup");
    if (failure.empty() && global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      failure = "curl_global_init failed";
    }
    // The library stays loaded for the life of the process.
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "etcd: " + failure);
  }
  return &api;
}

}  // namespace heartlock::detail
