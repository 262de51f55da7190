// The gateway's encodings and the checked readers of its replies (declared in etcd_client.h):
// base64 for byte fields, 64-bit integers as strings, fields at their default value omitted.
#include <charconv>
#include <cstdint>
#include <limits>

#include <openssl/evp.h>

#include "etcd_client.h"

namespace heartlock::detail {

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) {
    return {};
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return {};
  }
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
    --len;  // EVP_DecodeBlock counts the padding as zero bytes
  }
  out.resize(len);
  return out;
}

long long json_int(const nlohmann::json& object, const char* field) {
  if (!object.is_object() || !object.contains(field)) {
    return 0;
  }
  const auto& v = object[field];
  if (v.is_number_integer()) {
    return v.get<long long>();
  }
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Error bad_etcd_reply(std::string_view server, std::string_view what) {
  return Error{Errc::unavailable,
               "etcd reply from " + std::string(server) + ": " + std::string(what)};
}

namespace {

// The field, or nullptr when `object` lacks it or it is null (the gateway's default).
const nlohmann::json* field_of(const nlohmann::json& object, const char* field) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(field);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string quoted(const char* field) { return "'" + std::string(field) + "'"; }

}  // namespace

Result<std::string> reply_string(const nlohmann::json& object, const char* field,
                                 std::string_view server) {
  const nlohmann::json* v = field_of(object, field);
  if (v == nullptr) {
    return std::string();
  }
  if (!v->is_string()) {
    return std::unexpected(bad_etcd_reply(server, quoted(field) + " is not a string"));
  }
  return v->get<std::string>();
}

Result<bool> reply_bool(const nlohmann::json& object, const char* field, std::string_view server) {
  const nlohmann::json* v = field_of(object, field);
  if (v == nullptr) {
    return false;
  }
  if (!v->is_boolean()) {
    return std::unexpected(bad_etcd_reply(server, quoted(field) + " is not a boolean"));
  }
  return v->get<bool>();
}

Result<long long> reply_int(const nlohmann::json& object, const char* field,
                            std::string_view server, long long min, long long max) {
  const nlohmann::json* v = field_of(object, field);
  if (v == nullptr) {
    return 0LL;
  }
  long long n = 0;
  bool ok = false;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    ok = u <= static_cast<std::uint64_t>(std::numeric_limits<long long>::max());
    n = ok ? static_cast<long long>(u) : 0;
  } else if (v->is_number_integer()) {
    n = v->get<long long>();
    ok = true;
  } else if (v->is_string()) {
    const auto& text = v->get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    ok = ec == std::errc() && end == text.data() + text.size() && !text.empty();
  }
  // A float (1e300) is refused rather than converted: out of range, that conversion is UB.
  if (!ok) {
    return std::unexpected(bad_etcd_reply(server, quoted(field) + " is not a 64-bit integer"));
  }
  if (n < min || n > max) {
    return std::unexpected(
        bad_etcd_reply(server, quoted(field) + " out of range: " + std::to_string(n) + " not in [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]"));
  }
  return n;
}

Result<const nlohmann::json*> reply_array(const nlohmann::json& object, const char* field,
                                          std::string_view server) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json* v = field_of(object, field);
  if (v == nullptr) {
    return &kEmpty;
  }
  if (!v->is_array()) {
    return std::unexpected(bad_etcd_reply(server, quoted(field) + " is not an array"));
  }
  return v;
}

Result<const nlohmann::json*> reply_object(const nlohmann::json& object, const char* field,
                                           std::string_view server) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* v = field_of(object, field);
  if (v == nullptr) {
    return &kEmpty;
  }
  if (!v->is_object()) {
    return std::unexpected(bad_etcd_reply(server, quoted(field) + " is not an object"));
  }
  return v;
}

}  // namespace heartlock::detail
