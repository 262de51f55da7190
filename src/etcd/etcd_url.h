// etcd:// and etcds:// URLs.
//
//   etcd://[user[:password]@]host:port[,host:port...][?option=value&...]
//   etcds://...                 TLS (https to every endpoint)
// Options: prefix (key namespace, default "heartlock/"), timeout (per request, default 2s),
// cacert, cert, key (TLS files). The password may also come from HEARTLOCK_ETCD_PASSWORD.
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

  std::string redacted() const;
};

Result<EtcdUrl> parse_etcd_url(std::string_view url);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_URL_H_
