// Parsing redis://, rediss:// and redis-sentinel:// URLs.
//
//   redis://[user[:password]@]host[:port][,host[:port]...][/db][?option=value&...]
//   rediss://...                          TLS
//   redis-sentinel://[user[:password]@]host[:port][,host[:port]...]/master-name[/db][?...]
//                                         the master that these Sentinels (default port 26379)
//                                         name; user and password are the master's
// Options: prefix (key namespace, default "heartlock:"), timeout (connect/command, a duration,
// default 2s), cacert, cert, key (TLS files), insecure=1 (skip certificate verification),
// reconnect_attempts (default 0) and reconnect_backoff (default 1s): when a server cannot be
// reached, try again that many times, waiting (n-1)*backoff before the n-th retry (cronlock's
// rule); sentinel_password (the Sentinels' own requirepass); compat=cronlock (cronlock's key
// layout, see cronlock_scripts()).
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
  std::string sentinel_master;    // non-empty: `nodes` are Sentinels that name the master
  std::string sentinel_password;  // never printed
  int reconnect_attempts = 0;
  std::chrono::milliseconds reconnect_backoff{1000};
  bool cronlock = false;  // compat=cronlock

  bool redlock() const { return sentinel_master.empty() && nodes.size() > 1; }

  // The URL without credentials, for messages, status and logs.
  std::string redacted() const;
};

// Errc::invalid_argument with the reason for anything malformed (never echoing the password).
Result<RedisUrl> parse_redis_url(std::string_view url);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_URL_H_
