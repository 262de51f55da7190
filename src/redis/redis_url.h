// Parsing redis:// and rediss:// URLs.
//
//   redis://[user[:password]@]host[:port][,host[:port]...][/db][?option=value&...]
//   rediss://...                          TLS
// Options: prefix (key namespace, default "heartlock:"), timeout (connect/command, a duration,
// default 2s), cacert, cert, key (TLS files), insecure=1 (skip certificate verification).
// The password may also come from HEARTLOCK_REDIS_PASSWORD. Several hosts mean Redlock.
#ifndef HEARTLOCK_REDIS_REDIS_URL_H_
#define HEARTLOCK_REDIS_REDIS_URL_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "heartlock/error.h"

namespace heartlock::detail {

struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct RedisUrl {
  bool tls = false;
  std::vector<RedisEndpoint> nodes;
  std::string user;
  std::string password;  // never printed
  int db = 0;
  std::string prefix = "heartlock:";
  std::chrono::milliseconds timeout{2000};
  std::string cacert;
  std::string cert;
  std::string key;
  bool insecure = false;

  // The URL without credentials, for messages, status and logs.
  std::string redacted() const;
};

// Errc::invalid_argument with the reason for anything malformed (never echoing the password).
Result<RedisUrl> parse_redis_url(std::string_view url);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_URL_H_
