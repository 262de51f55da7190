#include "tls_api.h"

#include <mutex>
#include <string>

#include "../core/shared_library.h"

namespace heartlock::detail {

Result<const TlsApi*> tls_api() {
  static TlsApi api;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    // The soname of the OpenSSL 3 ABI these headers describe (Debian 12: libssl3).
    // The soname of the OpenSSL 3 ABI these headers describe (Debian 12: libssl3). dlsym on
    // libssl's handle also searches what it depends on: libcrypto's ERR_* and X509_*.
    SharedLibrary lib("libssl.so.3", "libssl", "libssl3");
#define HEARTLOCK_TLS_LOAD(name) lib.load(api.name, #name)
    HEARTLOCK_TLS_LOAD(TLS_client_method);
    HEARTLOCK_TLS_LOAD(SSL_CTX_new);
    HEARTLOCK_TLS_LOAD(SSL_CTX_free);
    HEARTLOCK_TLS_LOAD(SSL_CTX_set_verify);
    HEARTLOCK_TLS_LOAD(SSL_CTX_set_default_verify_paths);
    HEARTLOCK_TLS_LOAD(SSL_CTX_load_verify_locations);
    HEARTLOCK_TLS_LOAD(SSL_CTX_use_certificate_chain_file);
    HEARTLOCK_TLS_LOAD(SSL_CTX_use_PrivateKey_file);
    HEARTLOCK_TLS_LOAD(SSL_new);
    HEARTLOCK_TLS_LOAD(SSL_free);
    HEARTLOCK_TLS_LOAD(SSL_set_fd);
    HEARTLOCK_TLS_LOAD(SSL_ctrl);
    HEARTLOCK_TLS_LOAD(SSL_set1_host);
    HEARTLOCK_TLS_LOAD(SSL_get0_param);
    HEARTLOCK_TLS_LOAD(X509_VERIFY_PARAM_set1_ip_asc);
    HEARTLOCK_TLS_LOAD(SSL_connect);
    HEARTLOCK_TLS_LOAD(SSL_read);
    HEARTLOCK_TLS_LOAD(SSL_write);
    HEARTLOCK_TLS_LOAD(SSL_pending);
    HEARTLOCK_TLS_LOAD(SSL_get_error);
    HEARTLOCK_TLS_LOAD(SSL_get_verify_result);
    HEARTLOCK_TLS_LOAD(X509_verify_cert_error_string);
    HEARTLOCK_TLS_LOAD(ERR_get_error);
    HEARTLOCK_TLS_LOAD(ERR_error_string_n);
    HEARTLOCK_TLS_LOAD(ERR_clear_error);
#undef HEARTLOCK_TLS_LOAD
    failure = lib.failure();  // OpenSSL 3 initialises itself
  });
  if (!failure.empty()) {
    return fail(Errc::unavailable, "redis TLS: " + failure);
  }
  return &api;
}

}  // namespace heartlock::detail
