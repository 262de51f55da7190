// etcd:// and etcds:// URLs.
//
//   etcd://[user[:password]@]host:port[,host:port...][?option=value&...]
//   etcds://...                 TLS (https to every endpoint)
// Options: prefix (key namespace, default "heartlock/"), timeout (per request, default 2s),
// cacert, cert, key (TLS files), password_file (the password: the file's content, one trailing
// newline stripped; the file must not be accessible by group or others). The password may also
// come from HEARTLOCK_ETCD_PASSWORD (when neither the URL nor a password_file gives one). Every
// parameter may be given once, names and values percent-decoded.
#ifndef HEARTLOCK_ETCD_ETCD_URL_H_
#define HEARTLOCK_ETCD_ETCD_URL_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"

namespace heartlock::detail {

struct EtcdUrl {
  bool tls = false;
  std::vector<std::string> endpoints;  // host:port
  std::string user;
  std::string password;  // never printed
  std::string prefix = "heartlock/";
  std::chrono::milliseconds timeout{2000};
  std::string cacert;
  std::string cert;
  std::string key;
  std::string password_file;  // where the password came from, if from a file (not a secret)

  std::string redacted() const;
};

// Errc::invalid_argument for anything malformed (messages show the URL only through
// redact_url()); a password_file that cannot be used: Errc::invalid_argument, or
// Errc::permission_denied (read_password_file()).
Result<EtcdUrl> parse_etcd_url(std::string_view url);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_URL_H_
