#include "etcd_replies.h"

#include <algorithm>
#include <cstdio>

namespace heartlock::detail {
namespace {

using nlohmann::json;

// The first element of the array `object[field]`, or nullptr when it is empty. Errc::unavailable
// when the field is not an array or its first element is not an object.
Result<const json*> first_object(const json& object, const char* field, std::string_view server) {
  auto items = reply_array(object, field, server);
  if (!items) {
    return std::unexpected(items.error());
  }
  if ((*items)->empty()) {
    return nullptr;
  }
  const json& first = (**items)[0];
  if (!first.is_object()) {
    return std::unexpected(
        bad_etcd_reply(server, "'" + std::string(field) + "' holds something not an object"));
  }
  return &first;
}

}  // namespace

Result<const json*> first_kv(const json& range, std::string_view server) {
  return first_object(range, "kvs", server);
}

Result<const json*> txn_range_kv(const json& reply, std::string_view server) {
  auto first = first_object(reply, "responses", server);
  if (!first || *first == nullptr) {
    return first;
  }
  auto range = reply_object(**first, "response_range", server);
  if (!range) {
    return std::unexpected(range.error());
  }
  return first_kv(**range, server);
}

json created_at(const std::string& key, const std::string& revision) {
  return {{"key", base64_encode(key)},
          {"result", "EQUAL"},
          {"target", "CREATE"},
          {"create_revision", revision}};
}

std::string range_end(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (!prefix.empty()) {
    prefix.back() = static_cast<char>(prefix.back() + 1);
  }
  return prefix;
}

std::string key_segment(std::string_view job) {
  std::string out;
  for (char c : job) {
    if (c == '/' || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> key_segment_name(std::string_view segment) {
  std::string out;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '/') {
      return std::nullopt;
    }
    if (segment[i] != '%') {
      out.push_back(segment[i]);
      continue;
    }
    const std::string_view code = segment.substr(i + 1, 2);
    if (code == "2F") {
      out.push_back('/');
    } else if (code == "25") {
      out.push_back('%');
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

std::string padded_epoch(long long epoch) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%012lld", std::max(0LL, epoch));
  return buf;
}

long long ttl_seconds(std::chrono::milliseconds ttl) {
  return std::max<long long>(1, (ttl.count() + 999) / 1000);
}

}  // namespace heartlock::detail
