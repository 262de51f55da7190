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
// layout, see cronlock_scripts()); password_file (the master's password: the file's content,
// one trailing newline stripped; the file must not be accessible by group or others).
// The password may also come from HEARTLOCK_REDIS_PASSWORD (when neither the URL nor a
// password_file gives one). Several hosts mean Redlock. Scheme names are matched as written
// (lower case): Store::open lower-cases them first. Every parameter may be given once, names and
// values percent-decoded.
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
  bool cronlock = false;      // compat=cronlock
  std::string password_file;  // where the password came from, if from a file (not a secret)

  bool redlock() const { return sentinel_master.empty() && nodes.size() > 1; }

  // The URL without credentials, for messages, status and logs.
  std::string redacted() const;
};

// Errc::invalid_argument with the reason for anything malformed: messages show the URL only
// through redact_url() and never a piece of it that could hold the password. A password_file
// that cannot be used: Errc::invalid_argument, or Errc::permission_denied for one that is
// accessible by others or unreadable (read_password_file()).
Result<RedisUrl> parse_redis_url(std::string_view url);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_REDIS_URL_H_
