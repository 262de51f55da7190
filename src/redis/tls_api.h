// OpenSSL's TLS (libssl.so.3), loaded with dlopen when the first rediss:// connection is made.
//
// Linked into the binary, libssl and the parts of libcrypto it needs (the provider tables,
// object ids, cipher lists, error strings) carry ~18 000 relocations that the dynamic loader
// applies at every start of every program using heartlock, TLS or not: in `heartlock --version`
// that was ~110 page faults and ~0.4 ms, more than the rest of its start-up. Only Redis over TLS
// needs it (PostgreSQL and etcd connect through libpq and libcurl, which bring their own), so it
// is loaded on first use, as libpq and libcurl are (postgres/libpq_api.h, etcd/curl_api.h).
// Hashing stays linked (core/sha256.cc): its low-level functions need none of the above.
#ifndef HEARTLOCK_REDIS_TLS_API_H_
#define HEARTLOCK_REDIS_TLS_API_H_

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "heartlock/error.h"

namespace heartlock::detail {

// The libssl and libcrypto functions the Redis transport calls, by their OpenSSL names.
struct TlsApi {
  const SSL_METHOD* (*TLS_client_method)();
  SSL_CTX* (*SSL_CTX_new)(const SSL_METHOD*);
  void (*SSL_CTX_free)(SSL_CTX*);
  void (*SSL_CTX_set_verify)(SSL_CTX*, int, SSL_verify_cb);
  int (*SSL_CTX_set_default_verify_paths)(SSL_CTX*);
  int (*SSL_CTX_load_verify_locations)(SSL_CTX*, const char*, const char*);
  int (*SSL_CTX_use_certificate_chain_file)(SSL_CTX*, const char*);
  int (*SSL_CTX_use_PrivateKey_file)(SSL_CTX*, const char*, int);
  SSL* (*SSL_new)(SSL_CTX*);
  void (*SSL_free)(SSL*);
  int (*SSL_set_fd)(SSL*, int);
  long (*SSL_ctrl)(SSL*, int, long, void*);  // what SSL_set_tlsext_host_name expands to
  int (*SSL_set1_host)(SSL*, const char*);
  X509_VERIFY_PARAM* (*SSL_get0_param)(SSL*);
  int (*X509_VERIFY_PARAM_set1_ip_asc)(X509_VERIFY_PARAM*, const char*);
  int (*SSL_connect)(SSL*);
  int (*SSL_read)(SSL*, void*, int);
  int (*SSL_write)(SSL*, const void*, int);
  int (*SSL_pending)(const SSL*);
  int (*SSL_get_error)(const SSL*, int);
  long (*SSL_get_verify_result)(const SSL*);
  const char* (*X509_verify_cert_error_string)(long);
  unsigned long (*ERR_get_error)();
  void (*ERR_error_string_n)(unsigned long, char*, std::size_t);
  void (*ERR_clear_error)();
};

// Loads libssl.so.3 (and with it libcrypto.so.3), once. Errc::unavailable, with the reason, if it
// is not installed or lacks a function.
Result<const TlsApi*> tls_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_TLS_API_H_
