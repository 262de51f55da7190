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

#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "heartlock/error.h"

namespace heartlock::detail {

// The soname below is OpenSSL 3's: headers of another major version must not compile against it.
static_assert(OPENSSL_VERSION_MAJOR == 3,
              "tls_api.cc loads libssl.so.3: update it with the headers");

// The libssl and libcrypto functions the Redis transport calls, by their OpenSSL names, typed
// from the headers' own declarations.
struct TlsApi {
  decltype(&::TLS_client_method) TLS_client_method;
  decltype(&::SSL_CTX_new) SSL_CTX_new;
  decltype(&::SSL_CTX_free) SSL_CTX_free;
  decltype(&::SSL_CTX_set_verify) SSL_CTX_set_verify;
  decltype(&::SSL_CTX_set_default_verify_paths) SSL_CTX_set_default_verify_paths;
  decltype(&::SSL_CTX_load_verify_locations) SSL_CTX_load_verify_locations;
  decltype(&::SSL_CTX_use_certificate_chain_file) SSL_CTX_use_certificate_chain_file;
  decltype(&::SSL_CTX_use_PrivateKey_file) SSL_CTX_use_PrivateKey_file;
  decltype(&::SSL_new) SSL_new;
  decltype(&::SSL_free) SSL_free;
  decltype(&::SSL_set_fd) SSL_set_fd;
  decltype(&::SSL_ctrl) SSL_ctrl;  // what SSL_set_tlsext_host_name expands to
  decltype(&::SSL_set1_host) SSL_set1_host;
  decltype(&::SSL_get0_param) SSL_get0_param;
  decltype(&::X509_VERIFY_PARAM_set1_ip_asc) X509_VERIFY_PARAM_set1_ip_asc;
  decltype(&::SSL_connect) SSL_connect;
  decltype(&::SSL_read) SSL_read;
  decltype(&::SSL_write) SSL_write;
  decltype(&::SSL_pending) SSL_pending;
  decltype(&::SSL_get_error) SSL_get_error;
  decltype(&::SSL_get_verify_result) SSL_get_verify_result;
  decltype(&::X509_verify_cert_error_string) X509_verify_cert_error_string;
  decltype(&::ERR_get_error) ERR_get_error;
  decltype(&::ERR_error_string_n) ERR_error_string_n;
  decltype(&::ERR_clear_error) ERR_clear_error;
};

// Loads libssl.so.3 (and with it libcrypto.so.3), once. Errc::unavailable, with the reason, if it
// is not installed or lacks a function.
Result<const TlsApi*> tls_api();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_TLS_API_H_
