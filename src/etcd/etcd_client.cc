#include "etcd_client.h"

#include <algorithm>

#include "../core/io_deadline.h"

namespace heartlock::detail {
namespace {

// A reply body, up to kMaxEtcdReplyBytes. Past that the data is refused: curl then aborts the
// transfer (CURLE_WRITE_ERROR) and closes the connection.
std::size_t append_body(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * n > kMaxEtcdReplyBytes) {
    return 0;
  }
  body->append(data, size * n);
  return size * n;
}

std::string too_large_message(const std::string& endpoint) {
  return "etcd reply from " + endpoint + " too large: more than " +
         std::to_string(kMaxEtcdReplyBytes >> 20) + " MiB";
}

// The watch stream: stops (by refusing the data) at the first message that carries events.
struct WatchState {
  std::string buffer;
  bool event = false;
  std::string error;
};

std::size_t watch_body(char* data, std::size_t size, std::size_t n, void* ctx) {
  auto* state = static_cast<WatchState*>(ctx);
  if (state->buffer.size() + size * n > kMaxEtcdReplyBytes) {
    // A message without end: a watch response is one line of JSON.
    state->error = "reply too large: a message of more than " +
                   std::to_string(kMaxEtcdReplyBytes >> 20) + " MiB";
    return 0;
  }
  state->buffer.append(data, size * n);
  std::size_t nl;
  while ((nl = state->buffer.find('\n')) != std::string::npos) {
    std::string line = state->buffer.substr(0, nl);
    state->buffer.erase(0, nl + 1);
    auto message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_discarded()) {
      continue;
    }
    // Types checked: an exception must not unwind through curl's C frames.
    if (!message.is_object()) {
      continue;
    }
    const auto& result = message.contains("result") ? message["result"] : message;
    const auto canceled = reply_bool(result, "canceled", "");
    if (!canceled) {
      state->error = "'canceled' is not a boolean";
      return 0;
    }
    if (result.contains("events") || *canceled) {
      state->event = true;
      return 0;  // enough: abort the transfer
    }
    if (message.contains("error")) {
      state->error = message["error"].dump();
      return 0;
    }
  }
  return size * n;
}

// Runs a transfer (a watch) through a multi handle so that it also ends as soon as `wake_fd`
// becomes readable (a stop request): curl_multi_poll waits on curl's sockets and that descriptor
// together. A transfer ended so reports CURLE_OPERATION_TIMEDOUT, like a watch that saw nothing
// within its time.
CURLcode perform_waking(const CurlApi& api, CURL* c, int wake_fd) {
  CURLM* m = api.multi_init();
  if (m == nullptr) {
    return CURLE_OUT_OF_MEMORY;
  }
  api.multi_add_handle(m, c);
  CURLcode rc = CURLE_OPERATION_TIMEDOUT;
  int running = 1;
  for (;;) {
    if (api.multi_perform(m, &running) != CURLM_OK) {
      rc = CURLE_RECV_ERROR;
      break;
    }
    if (running == 0) {
      int queued = 0;
      while (CURLMsg* msg = api.multi_info_read(m, &queued)) {
        if (msg->msg == CURLMSG_DONE) {
          rc = msg->data.result;
        }
      }
      break;
    }
    // The timeout only bounds one poll: curl's own timers (CURLOPT_TIMEOUT_MS) end the transfer.
    curl_waitfd extra{.fd = wake_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
    if (api.multi_poll(m, &extra, 1, 1000, nullptr) != CURLM_OK) {
      rc = CURLE_RECV_ERROR;
      break;
    }
    if (extra.revents != 0) {
      break;  // woken: abandoned like a timed-out watch, its connection closed with the handle
    }
  }
  api.multi_remove_handle(m, c);
  api.multi_cleanup(m);
  return rc;
}

}  // namespace

EtcdClient::~EtcdClient() {
  if (handle_ != nullptr) {
    if (auto api = curl_api()) {
      (*api)->easy_cleanup(static_cast<CURL*>(handle_));
    }
  }
}

Result<EtcdClient::Reply> EtcdClient::post(
    void*& handle, const std::string& endpoint, const std::string& token, std::string_view path,
    const std::string& body, std::chrono::milliseconds timeout, void* write_context,
    std::size_t (*write)(char*, std::size_t, std::size_t, void*), int wake_fd) {
  auto api_result = curl_api();
  if (!api_result) {
    return std::unexpected(api_result.error());
  }
  const CurlApi& api = **api_result;
  // The request's time, and the connect's within it, cut short by the thread's I/O deadline. To
  // curl 0 means "no limit": with no time left nothing is sent at all.
  const auto budget = capped(timeout);
  if (budget <= std::chrono::milliseconds(0)) {
    return fail(Errc::unavailable, "etcd " + endpoint + ": deadline passed (nothing sent)");
  }
  const auto connect_budget = std::min(budget, url_.timeout);
  if (handle == nullptr) {
    handle = api.easy_init();
    if (handle == nullptr) {
      return fail(Errc::internal, "etcd: curl_easy_init failed");
    }
  }
  CURL* c = static_cast<CURL*>(handle);
  const std::string url =
      std::string(url_.tls ? "https://" : "http://") + endpoint + "/v3/" + std::string(path);
  curl_slist* headers = api.slist_append(nullptr, "Content-Type: application/json");
  if (!token.empty()) {
    headers = api.slist_append(headers, ("Authorization: " + token).c_str());
  }
  Reply reply;
  api.easy_setopt(c, CURLOPT_URL, url.c_str());
  api.easy_setopt(c, CURLOPT_POST, 1L);
  api.easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  api.easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  api.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  // A request that times out is abandoned with its connection: curl closes an HTTP/1.1
  // connection that ends prematurely (multiplexed HTTP/2 resets just the stream), so a late
  // answer is never read as the next request's.
  api.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(budget.count()));
  api.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_budget.count()));
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, write != nullptr ? write : &append_body);
  api.easy_setopt(c, CURLOPT_WRITEDATA, write_context != nullptr ? write_context : &reply.body);
  api.easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  // A Content-Length over the cap is refused before any of the body is read (CURLE_FILESIZE_
  // EXCEEDED); a chunked body is stopped by the write callback.
  api.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxEtcdReplyBytes));
  if (url_.tls) {
    if (!url_.cacert.empty()) {
      api.easy_setopt(c, CURLOPT_CAINFO, url_.cacert.c_str());
    }
    if (!url_.cert.empty()) {
      api.easy_setopt(c, CURLOPT_SSLCERT, url_.cert.c_str());
    }
    if (!url_.key.empty()) {
      api.easy_setopt(c, CURLOPT_SSLKEY, url_.key.c_str());
    }
  }
  CURLcode rc = wake_fd < 0 ? api.easy_perform(c) : perform_waking(api, c, wake_fd);
  api.easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  api.slist_free_all(headers);
  if (rc == CURLE_FILESIZE_EXCEEDED || (write == nullptr && rc == CURLE_WRITE_ERROR)) {
    return fail(Errc::unavailable, too_large_message(endpoint));
  }
  if (rc != CURLE_OK && !(write != nullptr && rc == CURLE_WRITE_ERROR)) {
    const std::string why = "etcd " + endpoint + ": " + api.easy_strerror(rc);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
      return fail(Errc::permission_denied, why + " (TLS certificate did not verify)");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT && write != nullptr) {
      return reply;  // a watch that saw nothing within its time
    }
    return fail(Errc::unavailable, why);
  }
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

Result<void> EtcdClient::authenticate_locked() {
  token_.clear();
  nlohmann::json body = {{"name", url_.user}, {"password", url_.password}};
  auto r = post(handle_, url_.endpoints[current_], "", "auth/authenticate", body.dump(),
                url_.timeout, nullptr, nullptr);
  if (!r) {
    return std::unexpected(r.error());
  }
  auto reply = nlohmann::json::parse(r->body, nullptr, false);
  const std::string& endpoint = url_.endpoints[current_];
  auto token = reply_string(reply, "token", endpoint);
  if (r->status == 200 && !reply.is_discarded() && !token) {
    return std::unexpected(token.error());  // a server that is not etcd: try again later
  }
  if (r->status != 200 || reply.is_discarded() || !token || token->empty()) {
    auto message = reply_string(reply, "message", endpoint);
    return fail(Errc::permission_denied,
                "etcd " + endpoint + ": authentication failed: " +
                    (message && !message->empty() ? *message : r->body.substr(0, 200)));
  }
  token_ = std::move(*token);
  return {};
}

Result<nlohmann::json> EtcdClient::call_locked(std::string_view path, const nlohmann::json& body) {
  const std::string text = body.dump();
  std::optional<Error> last;
  for (std::size_t tried = 0; tried < url_.endpoints.size(); ++tried) {
    if (last && io_deadline_passed()) {
      break;  // the next endpoint would not even be asked: say why the last one failed
    }
    const std::size_t i = (current_ + tried) % url_.endpoints.size();
    const std::size_t previous = current_;
    current_ = i;
    // One endpoint's attempt -- authenticating, the request, once more after a stale token --
    // ends within the URL's timeout in all; an endpoint that did not answer does not count
    // against the next.
    ScopedIoDeadline attempt(boot_now() + url_.timeout);
    if (!url_.user.empty() && (token_.empty() || previous != i)) {
      if (auto ok = authenticate_locked(); !ok) {
        if (ok.error().code != Errc::unavailable) {
          return std::unexpected(ok.error());
        }
        last = ok.error();
        continue;
      }
    }
    for (int auth_retry = 0; auth_retry < 2; ++auth_retry) {
      auto r = post(handle_, url_.endpoints[i], token_, path, text, url_.timeout, nullptr, nullptr);
      if (!r) {
        last = r.error();
        break;  // the next endpoint
      }
      auto reply = nlohmann::json::parse(r->body, nullptr, false);
      if (reply.is_discarded()) {
        return fail(Errc::unavailable, "etcd " + url_.endpoints[i] + ": not a JSON reply (HTTP " +
                                           std::to_string(r->status) +
                                           "): " + r->body.substr(0, 200));
      }
      if (r->status == 200) {
        if (!reply.is_object()) {
          return std::unexpected(bad_etcd_reply(url_.endpoints[i], "not a JSON object"));
        }
        return reply;
      }
      // An error reply: {"error": ..., "message": ..., "code": <gRPC status>}.
      auto message_field = reply_string(reply, "message", url_.endpoints[i]);
      auto error_field = reply_string(reply, "error", url_.endpoints[i]);
      auto code_field = reply_int(reply, "code", url_.endpoints[i], 0, 1 << 16);
      for (const auto* bad : {message_field ? nullptr : &message_field.error(),
                              error_field ? nullptr : &error_field.error(),
                              code_field ? nullptr : &code_field.error()}) {
        if (bad != nullptr) {
          return fail(Errc::unavailable,
                      bad->message + " (HTTP " + std::to_string(r->status) + ")");
        }
      }
      const std::string message = !message_field->empty() ? *message_field
                                  : !error_field->empty() ? *error_field
                                                          : r->body.substr(0, 200);
      const long long code = *code_field;
      if (code == 16 || message.find("invalid auth token") != std::string::npos) {
        if (auth_retry == 0 && !url_.user.empty()) {
          if (auto ok = authenticate_locked(); !ok) {
            return std::unexpected(ok.error());
          }
          continue;  // the token had expired: once more with a fresh one
        }
        return fail(Errc::permission_denied, "etcd " + url_.endpoints[i] + ": " + message);
      }
      if (code == 7 || message.find("permission denied") != std::string::npos ||
          message.find("user name is empty") != std::string::npos) {
        return fail(Errc::permission_denied, "etcd " + url_.endpoints[i] + ": " + message);
      }
      if (code == 14 || r->status >= 500) {
        last = Error{Errc::unavailable, "etcd " + url_.endpoints[i] + ": " + message};
        break;
      }
      return fail(Errc::invalid_argument, "etcd " + url_.endpoints[i] + ": " + message);
    }
  }
  return std::unexpected(last.value_or(Error{Errc::unavailable, "etcd: no endpoint answered"}));
}

std::string EtcdClient::endpoint() {
  std::lock_guard lock(mu_);
  return url_.endpoints[current_];
}

Result<nlohmann::json> EtcdClient::call(std::string_view path, const nlohmann::json& body) {
  std::lock_guard lock(mu_);
  return call_locked(path, body);
}

Result<bool> EtcdClient::watch(const std::string& key, long long revision,
                               std::chrono::milliseconds timeout, int wake_fd) {
  std::string endpoint;
  std::string token;
  {
    std::lock_guard lock(mu_);
    endpoint = url_.endpoints[current_];
    if (!url_.user.empty() && token_.empty()) {
      if (auto ok = authenticate_locked(); !ok) {
        return std::unexpected(ok.error());
      }
    }
    token = token_;
  }
  nlohmann::json body = {
      {"create_request",
       {{"key", base64_encode(key)}, {"start_revision", std::to_string(revision)}}}};
  WatchState state;
  void* handle = nullptr;
  auto r =
      post(handle, endpoint, token, "watch", body.dump(), timeout, &state, &watch_body, wake_fd);
  if (handle != nullptr) {
    if (auto api = curl_api()) {
      (*api)->easy_cleanup(static_cast<CURL*>(handle));
    }
  }
  if (!r) {
    return std::unexpected(r.error());
  }
  if (!state.error.empty()) {
    return fail(Errc::unavailable, "etcd watch: " + state.error);
  }
  return state.event;
}

}  // namespace heartlock::detail
