#include "etcd_replies.h"

#include <algorithm>

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

long long ttl_seconds(std::chrono::milliseconds ttl) {
  return std::max<long long>(1, (ttl.count() + 999) / 1000);
}

}  // namespace heartlock::detail
