// RedisClient: the connection to one Redis server that a store and its leases share, made again
// when it breaks. With a redis-sentinel:// URL the server is the master the Sentinels name. A
// failed-over master stays writable until the Sentinels demote it (seconds later), so before
// every operation the client asks a Sentinel (on a kept connection: one more round trip) whether
// its server is still the master, and moves to the new one if not: no lease is taken or renewed
// on a master the Sentinels have abandoned.
//
// Every wait -- connect, TLS handshake, command, Sentinel query, reconnect backoff -- ends by the
// thread's I/O deadline (io_deadline.h), so nothing done for a lease outlasts it. One attempt at
// a call (connecting if needed, then its commands) ends within the URL's timeout in all.
#ifndef HEARTLOCK_REDIS_CLIENT_H_
#define HEARTLOCK_REDIS_CLIENT_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../core/clock.h"
#include "connection.h"
#include "redis_url.h"
#include "scripts.h"

namespace heartlock::detail {

// IdleWatch: an epoll set holding the idle connections of a store's clients. Its descriptor is
// what the store's leases give the keepalive to poll (BackendLease::watch_fd): it turns readable
// when a connection nobody is using has something to read -- the server closed it (a restart
// without persistence forgets every lease), reset it, or sent what nobody asked for -- and the
// leases are then renewed at once, on a new connection, instead of at their next renewal. A
// connection leaves the set while a command is in flight (its reply would wake the keepalive for
// nothing) and before it is closed. Unlike a socket, the descriptor stays the same, and open, for
// as long as a lease holds the watch, whatever the connections do meanwhile.
//
// Thread-safety: all methods may be called concurrently. Owned by shared_ptr: a store, its
// clients and its leases.
class IdleWatch {
 public:
  IdleWatch();  // if epoll_create1 fails, fd() is -1 and nothing is watched
  ~IdleWatch();
  IdleWatch(const IdleWatch&) = delete;
  IdleWatch& operator=(const IdleWatch&) = delete;

  int fd() const { return epfd_; }
  void watch(int fd) const;
  void unwatch(int fd) const;

 private:
  const int epfd_;
};

// Thread-safety: every method may be called concurrently; calls are serialised.
class RedisClient {
 public:
  // `node`: the server (ignored with a Sentinel URL). `watch`: where the connection goes while
  // idle (nullptr: nowhere).
  RedisClient(RedisUrl url, RedisEndpoint node, std::shared_ptr<const IdleWatch> watch = nullptr)
      : url_(std::move(url)), node_(std::move(node)), watch_(std::move(watch)) {}
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // How hard to try to reach the server: `patient` applies the URL's reconnect_attempts and
  // backoff (acquire, status); leases are never patient, since their ttl runs meanwhile.
  enum class Patience { once, patient };

  // Runs a script (EVALSHA, or EVAL when the server does not know it yet). Reconnects first if the
  // last call broke the connection, or the server closed it meanwhile. Error replies become
  // Errc::unavailable / permission_denied.
  Result<RedisReply> run(const RedisScript& script, const RedisArgs& keys, const RedisArgs& args,
                         Patience patience = Patience::once);
  // Runs plain commands in one round trip; error replies stay values.
  Result<std::vector<RedisReply>> commands(const std::vector<RedisCommand>& commands,
                                           Patience patience = Patience::once);
  // A connection of its own (for SUBSCRIBE), to the same server.
  Result<std::unique_ptr<RedisConnection>> connect_new(Patience patience = Patience::once);

  const RedisUrl& url() const { return url_; }
  // The server for messages: host:port, or the Sentinel master's name.
  std::string where() const;

 private:
  // `started`: when the attempt that made the connection began (in Sentinel mode, the question to
  // the Sentinel that answered).
  Result<std::unique_ptr<RedisConnection>> connect_once(BootTime& started);
  // connect_new(), telling when the attempt that succeeded (or the last one) began.
  Result<std::unique_ptr<RedisConnection>> connect_new(Patience patience, BootTime& started);
  // Connects to the master the Sentinels name; remembers the Sentinel that answered.
  Result<std::unique_ptr<RedisConnection>> ask_sentinels(BootTime& started);
  // The master's address from the remembered Sentinel, or nullopt if it cannot say.
  std::optional<RedisEndpoint> current_master_locked();
  // The connection for one call, made again if needed; out of the IdleWatch until done_locked(),
  // so that it is closed (conn_.reset()) only while out of it. `started`: when the attempt the
  // call belongs to began (now, or the start of the connect attempt that succeeded).
  Result<RedisConnection*> connection_locked(Patience patience, BootTime& started);
  // After a call: drops a broken connection at once (a late reply must never be read), or puts an
  // intact one back under the IdleWatch.
  void done_locked();
  // connection_locked(), `call` on the connection, done_locked().
  template <class Call>
  auto with_connection(Patience patience, Call&& call)
      -> decltype(call(std::declval<RedisConnection&>()));
  // After a reply that shows the server is no longer a writable master, forget the connection.
  void check_role_locked(const RedisReply& reply);

  const RedisUrl url_;
  const RedisEndpoint node_;
  const std::shared_ptr<const IdleWatch> watch_;
  std::mutex mu_;
  std::unique_ptr<RedisConnection> conn_;
  std::unique_ptr<RedisConnection> sentinel_;  // Sentinel mode: the one that last answered
  RedisEndpoint master_;                       // Sentinel mode: where conn_ goes
  std::string request_;                        // run()'s command in RESP, reused
};

// The servers of one store: one, or the masters of a Redlock (in the URL's order).
using RedisNodes = std::vector<std::shared_ptr<RedisClient>>;

// The error for an error reply: permission_denied for authentication and ACL refusals,
// unavailable otherwise.
Error redis_reply_error(const std::string& where, const RedisReply& reply);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_REDIS_CLIENT_H_
