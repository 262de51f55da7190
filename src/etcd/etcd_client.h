// EtcdClient: etcd's v3 API through its JSON gateway (POST /v3/...), which Debian's etcd-server
// 3.4 serves on the client port, spoken with libcurl.
//
// Why the gateway and not gRPC: Debian 12 packages no gRPC for C++ that matches etcd's protos,
// and every call heartlock needs (txn, lease grant/keepalive/revoke/timetolive, range, watch,
// auth) is a plain request/response over HTTP/1.1 with JSON bodies -- byte fields in base64,
// 64-bit integers as strings, fields at their default value omitted.
#ifndef HEARTLOCK_ETCD_ETCD_CLIENT_H_
#define HEARTLOCK_ETCD_ETCD_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "heartlock/error.h"

#include "curl_api.h"
#include "etcd_url.h"

namespace heartlock::detail {

// The largest reply body read: heartlock's largest is `status` listing every held lock (records of
// well under 1 KiB each). Past it the transfer is aborted and the call fails with
// Errc::unavailable ("etcd reply from HOST:PORT too large"): a broken or hostile server cannot
// make a client buffer without bound.
inline constexpr std::size_t kMaxEtcdReplyBytes = std::size_t{16} << 20;

std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text);

// A 64-bit integer field of a gateway reply (a string, or absent: 0). Lenient: anything else,
// of any type, reads as 0 too.
long long json_int(const nlohmann::json& object, const char* field);

// Checked readers of a reply from `server` (the endpoint, for the message) and of the records
// heartlock keeps in values. The gateway omits fields at their default value, so an absent field
// (or a null one) reads as its default; a field of the wrong type, or an integer out of range, is
// Errc::unavailable: "etcd reply from SERVER: 'kvs' is not an array". None throws.
[[nodiscard]] Error bad_etcd_reply(std::string_view server, std::string_view what);
// The string field, or "" when absent.
[[nodiscard]] Result<std::string> reply_string(const nlohmann::json& object, const char* field,
                                               std::string_view server);
// The boolean field, or false when absent.
[[nodiscard]] Result<bool> reply_bool(const nlohmann::json& object, const char* field,
                                      std::string_view server);
// The integer field (a JSON integer, or a string of one as the gateway writes 64-bit ones), or 0
// when absent; it must lie within [min, max]. A float is refused, not converted.
[[nodiscard]] Result<long long> reply_int(const nlohmann::json& object, const char* field,
                                          std::string_view server, long long min, long long max);
// The array field, or an empty array when absent. The pointer is into `object` (or static).
[[nodiscard]] Result<const nlohmann::json*> reply_array(const nlohmann::json& object,
                                                        const char* field, std::string_view server);
// The object field, or an empty object when absent. The pointer is into `object` (or static).
[[nodiscard]] Result<const nlohmann::json*> reply_object(const nlohmann::json& object,
                                                         const char* field,
                                                         std::string_view server);

// Thread-safety: every method may be called concurrently; calls are serialised per client.
class EtcdClient {
 public:
  explicit EtcdClient(EtcdUrl url) : url_(std::move(url)) {}
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // POSTs `body` to /v3/<path> (the first endpoint that answers, remembered) and returns the
  // reply. Each endpoint's attempt (authentication and request together) gets the URL's timeout,
  // cut short by the thread's I/O deadline (io_deadline.h). Errc::unavailable when no endpoint
  // answers (or the I/O deadline has passed: then nothing is sent) or a reply is over
  // kMaxEtcdReplyBytes, permission_denied for refused credentials or a TLS certificate that does
  // not verify, invalid_argument for a request etcd rejects. A 200 reply is always a JSON object
  // (anything else is Errc::unavailable).
  Result<nlohmann::json> call(std::string_view path, const nlohmann::json& body);

  // Watches `key` from `revision` on a connection of its own; true as soon as an event arrives,
  // false when `timeout` passes without one or `wake_fd` (-1: none) becomes readable.
  Result<bool> watch(const std::string& key, long long revision, std::chrono::milliseconds timeout,
                     int wake_fd = -1);

  const EtcdUrl& url() const { return url_; }

  // The endpoint that answered last (or is asked first), host:port, for messages.
  std::string endpoint();

 private:
  struct Reply {
    long status = 0;
    std::string body;
  };
  // One POST on `handle` (created if null); transport errors only.
  Result<Reply> post(void*& handle, const std::string& endpoint, const std::string& token,
                     std::string_view path, const std::string& body,
                     std::chrono::milliseconds timeout, void* write_context,
                     std::size_t (*write)(char*, std::size_t, std::size_t, void*),
                     int wake_fd = -1);
  Result<nlohmann::json> call_locked(std::string_view path, const nlohmann::json& body);
  Result<void> authenticate_locked();

  const EtcdUrl url_;
  std::mutex mu_;
  void* handle_ = nullptr;   // CURL*
  std::size_t current_ = 0;  // the endpoint that answered last
  std::string token_;        // auth token, when the URL has a user
};

}  // namespace heartlock::detail

#endif  // HEARTLOCK_ETCD_ETCD_CLIENT_H_
