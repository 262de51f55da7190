#include "redis_url.h"

#include <charconv>
#include <cstdlib>

#include "heartlock/duration.h"

#include "../core/url_parts.h"

namespace heartlock::detail {
namespace {

Result<RedisEndpoint> parse_endpoint(std::string_view text, int default_port) {
  RedisEndpoint e;
  e.port = default_port;
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {  // [::1]:6379
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::invalid_argument, "unclosed '[' in redis host " + std::string(text));
    }
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        return fail(Errc::invalid_argument, "bad redis host " + std::string(text));
      }
      port = text.substr(close + 2);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) {
    return fail(Errc::invalid_argument, "missing redis host in '" + std::string(text) + "'");
  }
  e.host = std::string(host);
  if (!port.empty()) {
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
    if (ec != std::errc() || p != port.data() + port.size() || e.port <= 0 || e.port > 65535) {
      return fail(Errc::invalid_argument, "bad redis port '" + std::string(port) + "'");
    }
  }
  return e;
}

}  // namespace

std::string RedisUrl::redacted() const {
  std::string out = !sentinel_master.empty() ? "redis-sentinel://" : tls ? "rediss://" : "redis://";
  if (!user.empty()) {
    out += user + "@";
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    out += (i > 0 ? "," : "") + nodes[i].text();
  }
  if (!sentinel_master.empty()) {
    out += "/" + sentinel_master;
  }
  out += "/" + std::to_string(db);
  std::string query;
  if (cronlock) {
    query += "&compat=cronlock";
  }
  if (prefix != "heartlock:") {
    query += "&prefix=" + prefix;
  }
  if (!query.empty()) {
    out += "?" + query.substr(1);
  }
  return out;
}

Result<RedisUrl> parse_redis_url(std::string_view url) {
  RedisUrl out;
  std::string_view rest = url;
  bool sentinel = false;
  if (rest.starts_with("redis-sentinel://")) {
    sentinel = true;
    rest.remove_prefix(17);
  } else if (rest.starts_with("rediss://")) {
    out.tls = true;
    rest.remove_prefix(9);
  } else if (rest.starts_with("redis://")) {
    rest.remove_prefix(8);
  } else {
    return fail(Errc::invalid_argument, "not a redis://, rediss:// or redis-sentinel:// URL");
  }
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    std::string_view user = userinfo;
    std::string_view password;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
    }
    auto u = percent_decode(user, "user name");
    auto p = percent_decode(password, "password");
    if (!u || !p) {
      return std::unexpected(!u ? u.error() : p.error());
    }
    out.user = *u;
    out.password = *p;
  }
  if (out.password.empty()) {
    if (const char* env = std::getenv("HEARTLOCK_REDIS_PASSWORD"); env != nullptr) {
      out.password = env;
    }
  }
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto node = parse_endpoint(rest.substr(0, comma), sentinel ? 26379 : 6379);
    if (!node) {
      return std::unexpected(node.error());
    }
    out.nodes.push_back(*node);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (out.nodes.empty()) {
    return fail(Errc::invalid_argument, "redis URL names no host");
  }
  if (sentinel) {
    auto slash = path.find('/');
    auto master = percent_decode(path.substr(0, slash), "master name");
    if (!master) {
      return std::unexpected(master.error());
    }
    if (master->empty()) {
      return fail(
          Errc::invalid_argument,
          "redis-sentinel:// needs the master's name: redis-sentinel://host:26379/mymaster");
    }
    out.sentinel_master = *master;
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  if (!path.empty()) {
    auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), out.db);
    if (ec != std::errc() || p != path.data() + path.size() || out.db < 0) {
      return fail(Errc::invalid_argument, "bad redis database number '" + std::string(path) + "'");
    }
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
        return fail(Errc::invalid_argument, "bad redis timeout '" + *value + "'");
      }
      out.timeout = *d;
    } else if (name == "cacert") {
      out.cacert = *value;
    } else if (name == "cert") {
      out.cert = *value;
    } else if (name == "key") {
      out.key = *value;
    } else if (name == "reconnect_attempts") {
      auto [p, ec] =
          std::from_chars(value->data(), value->data() + value->size(), out.reconnect_attempts);
      if (ec != std::errc() || p != value->data() + value->size() || out.reconnect_attempts < 0 ||
          out.reconnect_attempts > 1000) {
        return fail(Errc::invalid_argument,
                    "bad reconnect_attempts '" + *value + "' (a whole number, 0 to 1000)");
      }
    } else if (name == "reconnect_backoff") {
      auto d = parse_duration(*value);
      if (!d) {
        return fail(Errc::invalid_argument, "bad reconnect_backoff '" + *value + "'");
      }
      out.reconnect_backoff = *d;
    } else if (name == "sentinel_password") {
      out.sentinel_password = *value;
    } else if (name == "compat") {
      if (*value != "cronlock") {
        return fail(Errc::invalid_argument, "compat must be 'cronlock'");
      }
      out.cronlock = true;
    } else if (name == "insecure") {
      if (*value != "0" && *value != "1") {
        return fail(Errc::invalid_argument, "insecure must be 0 or 1");
      }
      out.insecure = *value == "1";
    } else {
      return fail(Errc::invalid_argument, "unknown redis URL option '" + std::string(name) + "'");
    }
  }
  if (out.cronlock && out.redlock()) {
    return fail(Errc::invalid_argument,
                "compat=cronlock needs one Redis server (cronlock knows no Redlock)");
  }
  return out;
}

}  // namespace heartlock::detail
