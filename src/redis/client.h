// RedisClient: the connection to one Redis server that a store and its leases share, made again
// when it breaks. With a redis-sentinel:// URL the server is the master the Sentinels name. A
// failed-over master stays writable until the Sentinels demote it (seconds later), so before
// every operation the client asks a Sentinel (on a kept connection: one more round trip) whether
// its server is still the master, and moves to the new one if not: no lease is taken or renewed
// on a master the Sentinels have abandoned.
#ifndef HEARTLOCK_REDIS_CLIENT_H_
#define HEARTLOCK_REDIS_CLIENT_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection.h"
#include "redis_url.h"
#include "scripts.h"

namespace heartlock::detail {

// Thread-safety: every method may be called concurrently; calls are serialised.
class RedisClient {
 public:
  // `node`: the server (ignored with a Sentinel URL).
  RedisClient(RedisUrl url, RedisEndpoint node) : url_(std::move(url)), node_(std::move(node)) {}

  // How hard to try to reach the server: `patient` applies the URL's reconnect_attempts and
  // backoff (acquire, status); leases are never patient, since their ttl runs meanwhile.
  enum class Patience { once, patient };

  // Runs a script (EVALSHA, or EVAL when the server does not know it yet). Reconnects first if the
  // last call broke the connection. Error replies become Errc::unavailable / permission_denied.
  Result<RedisReply> run(const RedisScript& script, const std::vector<std::string>& keys,
                         const std::vector<std::string>& args, Patience patience = Patience::once);
  // Runs plain commands in one round trip; error replies stay values.
  Result<std::vector<RedisReply>> commands(const std::vector<RedisCommand>& commands,
                                           Patience patience = Patience::once);
  // A connection of its own (for SUBSCRIBE), to the same server.
  Result<std::unique_ptr<RedisConnection>> connect_new(Patience patience = Patience::once);

  const RedisUrl& url() const { return url_; }
  // The server for messages: host:port, or the Sentinel master's name.
  std::string where() const;

 private:
  Result<std::unique_ptr<RedisConnection>> connect_once();
  // Connects to the master the Sentinels name; remembers the Sentinel that answered.
  Result<std::unique_ptr<RedisConnection>> ask_sentinels();
  // The master's address from the remembered Sentinel, or nullopt if it cannot say.
  std::optional<RedisEndpoint> current_master_locked();
  Result<RedisConnection*> connection_locked(Patience patience);
  // After a reply that shows the server is no longer a writable master, forget the connection.
  void check_role_locked(const RedisReply& reply);

  const RedisUrl url_;
  const RedisEndpoint node_;
  std::mutex mu_;
  std::unique_ptr<RedisConnection> conn_;
  std::unique_ptr<RedisConnection> sentinel_;  // Sentinel mode: the one that last answered
  RedisEndpoint master_;                       // Sentinel mode: where conn_ goes
};

// The error for an error reply: permission_denied for authentication and ACL refusals,
// unavailable otherwise.
Error redis_reply_error(const std::string& where, const RedisReply& reply);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_CLIENT_H_
