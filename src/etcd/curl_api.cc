#include "curl_api.h"

#include <mutex>
#include <string>

#include "../core/shared_library.h"

namespace heartlock::detail {

Result<const CurlApi*> curl_api() {
  static CurlApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    SharedLibrary lib("libcurl.so.4", "libcurl", "libcurl4");
    CURLcode (*global_init)(long) = nullptr;
    lib.load(global_init, "curl_global_init");
    lib.load(api.easy_init, "curl_easy_init");
    lib.load(api.easy_setopt, "curl_easy_setopt");
    lib.load(api.easy_perform, "curl_easy_perform");
    lib.load(api.easy_getinfo, "curl_easy_getinfo");
    lib.load(api.easy_cleanup, "curl_easy_cleanup");
    lib.load(api.easy_strerror, "curl_easy_strerror");
    lib.load(api.slist_append, "curl_slist_append");
    lib.load(api.slist_free_all, "curl_slist_free_all");
    lib.load(api.multi_init, "curl_multi_init");
    lib.load(api.multi_add_handle, "curl_multi_add_handle");
    lib.load(api.multi_perform, "curl_multi_perform");
    lib.load(api.multi_poll, "curl_multi_poll");
    lib.load(api.multi_info_read, "curl_multi_info_read");
    lib.load(api.multi_remove_handle, "curl_multi_remove_handle");
    lib.load(api.multi_cleanup, "curl_multi_cleanup");
    failure = lib.failure();
    if (failure.empty() && global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      failure = "curl_global_init failed";
    }
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "etcd: " + failure);
  }
  return &api;
}

}  // namespace heartlock::detail
