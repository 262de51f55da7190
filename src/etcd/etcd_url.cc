#include "etcd_url.h"

#include <cstdlib>

#include "heartlock/duration.h"

#include "../core/url_parts.h"

namespace heartlock::detail {
std::string EtcdUrl::redacted() const {
  std::string out = tls ? "etcds://" : "etcd://";
  if (!user.empty()) {
    out += user + "@";
  }
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    out += (i > 0 ? "," : "") + endpoints[i];
  }
  if (prefix != "heartlock/") {
    out += "?prefix=" + prefix;
  }
  return out;
}

Result<EtcdUrl> parse_etcd_url(std::string_view url) {
  EtcdUrl out;
  std::string_view rest = url;
  if (rest.starts_with("etcds://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("etcd://")) {
    rest.remove_prefix(7);
  } else {
    return fail(Errc::invalid_argument, "not an etcd:// or etcds:// URL");
  }
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.find('/') != std::string_view::npos) {
    return fail(Errc::invalid_argument, "an etcd URL has no path (use ?prefix= for a namespace)");
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon), "user name");
    auto password = percent_decode(
        colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1),
        "password");
    if (!user || !password) {
      return std::unexpected(!user ? user.error() : password.error());
    }
    out.user = *user;
    out.password = *password;
  }
  if (out.password.empty()) {
    if (const char* env = std::getenv("HEARTLOCK_ETCD_PASSWORD"); env != nullptr) {
      out.password = env;
    }
  }
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string endpoint(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (endpoint.empty()) {
      return fail(Errc::invalid_argument, "empty etcd endpoint");
    }
    if (endpoint.find(':') == std::string::npos || endpoint.back() == ']') {
      endpoint += ":2379";
    }
    out.endpoints.push_back(endpoint);
  }
  if (out.endpoints.empty()) {
    return fail(Errc::invalid_argument, "etcd URL names no endpoint");
  }
  for (auto [name, raw] : query_pairs(query)) {
    auto value = percent_decode(raw, name);
    if (!value) {
      return std::unexpected(value.error());
    }
    if (name == "prefix") {
      out.prefix = *value;
    } else if (name == "timeout") {
      auto d = parse_duration(*value);
      if (!d || d->count() == 0) {
        return fail(Errc::invalid_argument, "bad etcd timeout '" + *value + "'");
      }
      out.timeout = *d;
    } else if (name == "cacert") {
      out.cacert = *value;
    } else if (name == "cert") {
      out.cert = *value;
    } else if (name == "key") {
      out.key = *value;
    } else {
      return fail(Errc::invalid_argument, "unknown etcd URL option '" + std::string(name) + "'");
    }
  }
  return out;
}

}  // namespace heartlock::detail
