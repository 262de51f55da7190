// libcurl, loaded with dlopen on first use of an etcd:// store.
//
// Every `heartlock run` pays at start-up for each shared library the binary needs, and libcurl
// brings a dozen more (HTTP/2, IDN, SSH, LDAP, ...). Only etcd needs it, so it is loaded when an
// etcd store is opened, not by the dynamic loader at every start.
#ifndef HEARTLOCK_ETCD_CURL_API_H_
#define HEARTLOCK_ETCD_CURL_API_H_

#include <curl/curl.h>

#include "heartlock/error.h"

namespace heartlock::detail {

struct CurlApi {
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  // The multi interface, for a watch that a stop request must end (curl_multi_poll waits on an
  // extra descriptor too; since curl 7.66).
  CURLM* (*multi_init)();
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, curl_waitfd*, unsigned int, int, int*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_cleanup)(CURLM*);
};

// Loads libcurl.so.4 and initialises it, once. Errc::unavailable (with the reason) if it is not
// installed.
Result<const CurlApi*> curl_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_CURL_API_H_
