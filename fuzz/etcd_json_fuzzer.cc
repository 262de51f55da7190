// etcd's JSON gateway replies: the code in src/etcd/ that turns them into values -- the status
// and error handling of EtcdClient::call, and what EtcdStore makes of a key range (inspect, list),
// a slot transaction (claim_slot) and a break (break_lease) -- plus base64 and json_int.
//
// That code sits behind HTTP, so this target runs a fake gateway on loopback: a thread that
// answers every POST with the next reply of the input (the last one again when they run out).
// The store is a real EtcdStore talking to it through libcurl (one kept-alive connection for the
// whole run). Input, as text:
//   <operation: inspect | list | slot | break>
//   [<HTTP status>]
//   <body>
//   ---
//   [<HTTP status>]
//   <body of the second reply> ...
// Invariants: nothing throws out of the store (no exception crosses include/heartlock/), and
// base64_decode(base64_encode(x)) == x.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../src/etcd/etcd_client.h"
#include "../src/etcd/etcd_store.h"
#include "fuzz_check.h"
#include "loopback_server.h"

namespace {

struct HttpReply {
  int status = 200;
  std::string body;
};

// A minimal HTTP/1.1 gateway for one client at a time: reads a request (headers, then
// Content-Length bytes), answers with the next reply, keeps the connection open.
class FakeGateway {
 public:
  FakeGateway() : server_([this](int fd) { serve(fd); }) {}

  int port() const { return server_.port(); }

  void set_replies(std::vector<HttpReply> replies) {
    std::lock_guard lock(mu_);
    replies_ = std::move(replies);
    next_ = 0;
  }

 private:
  HttpReply next_reply() {
    std::lock_guard lock(mu_);
    if (replies_.empty()) {
      return HttpReply{.status = 200, .body = "{}"};
    }
    const HttpReply& r = replies_[std::min(next_, replies_.size() - 1)];
    ++next_;
    return r;
  }

  void serve(int fd) {
    std::string buffer;
    while (answer_one(fd, buffer)) {
    }
  }

  static bool read_more(int fd, std::string& buffer) {
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      return false;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  bool answer_one(int fd, std::string& buffer) {
    using heartlock::fuzz::LoopbackServer;
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!read_more(fd, buffer)) {
        return false;
      }
    }
    std::string headers = buffer.substr(0, end);
    for (char& c : headers) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::size_t length = 0;
    if (auto at = headers.find("content-length:"); at != std::string::npos) {
      length = std::stoul(headers.substr(at + 15));
    }
    if (headers.find("expect: 100-continue") != std::string::npos &&
        !LoopbackServer::write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
      return false;
    }
    while (buffer.size() < end + 4 + length) {
      if (!read_more(fd, buffer)) {
        return false;
      }
    }
    buffer.erase(0, end + 4 + length);
    const HttpReply reply = next_reply();
    const std::string head = "HTTP/1.1 " + std::to_string(reply.status) +
                             " Fuzz\r\nContent-Type: application/json\r\nContent-Length: " +
                             std::to_string(reply.body.size()) + "\r\n\r\n";
    return LoopbackServer::write_all(fd, head + reply.body);
  }

  std::mutex mu_;
  std::vector<HttpReply> replies_;          // guarded by mu_
  std::size_t next_ = 0;                    // guarded by mu_
  heartlock::fuzz::LoopbackServer server_;  // last: its thread uses the members above
};

// Statuses curl treats as a plain reply with a body; anything else becomes 200.
int http_status(std::string_view text) {
  if (text.empty() || text.size() > 3 ||
      text.find_first_not_of("0123456789") != std::string_view::npos) {
    return -1;
  }
  int status = std::stoi(std::string(text));
  return status < 200 || status > 599 || status == 204 || status == 304 ? 200 : status;
}

std::vector<HttpReply> replies_of(std::string_view text) {
  std::vector<HttpReply> out;
  constexpr std::string_view kSeparator = "\n---\n";
  while (!text.empty() || out.empty()) {
    auto sep = text.find(kSeparator);
    std::string_view block = text.substr(0, sep);
    text =
        sep == std::string_view::npos ? std::string_view() : text.substr(sep + kSeparator.size());
    HttpReply reply;
    auto nl = block.find('\n');
    if (int status = http_status(block.substr(0, nl)); status > 0) {
      reply.status = status;
      block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    }
    reply.body = std::string(block);
    out.push_back(std::move(reply));
  }
  return out;
}

void check_base64(std::string_view bytes) {
  using heartlock::detail::base64_decode;
  using heartlock::detail::base64_encode;
  FUZZ_CHECK(base64_decode(base64_encode(bytes)) == bytes, "base64 round trip");
  (void)base64_decode(bytes);
  (void)heartlock::detail::json_int(nlohmann::json::parse(bytes, nullptr, false), "revision");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FakeGateway* const gateway = new FakeGateway;  // never destroyed: its thread runs on
  static const std::unique_ptr<heartlock::detail::EtcdStore> store = [] {
    auto url = heartlock::detail::parse_etcd_url(
        "etcd://127.0.0.1:" + std::to_string(gateway->port()) + "?timeout=10s");
    FUZZ_CHECK(url.has_value(), "the fake gateway's URL");
    return std::make_unique<heartlock::detail::EtcdStore>(std::move(*url),
                                                          heartlock::StoreOptions{});
  }();

  const auto text = heartlock::fuzz::as_text(data, size);
  check_base64(text);

  auto nl = text.find('\n');
  const std::string_view operation = text.substr(0, nl);
  gateway->set_replies(
      replies_of(nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1)));
  const std::string name = "jobs/nightly";
  if (operation == "list") {
    (void)store->list();
  } else if (operation == "slot") {
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    (void)store->claim_slot("nightly", now, std::chrono::hours(1));
  } else if (operation == "break") {
    (void)store->break_lease(name, 7);
  } else {
    auto info = store->inspect(name);
    FUZZ_CHECK(!info || info->name == name, "the lock asked about");
  }
  return 0;
}
