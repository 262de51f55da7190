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
};

// Loads libcurl.so.4 and initialises it, once. Errc::unavailable (with the reason) if it is not
// installed.
Result<const CurlApi*> curl_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_CURL_API_H_
