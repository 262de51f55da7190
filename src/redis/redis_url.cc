#include "redis_url.h"

#include <charconv>
#include <cstdlib>
#include <optional>

#include "heartlock/duration.h"

#include "../core/url_parts.h"

namespace heartlock::detail {
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
  // The file, not the password: a process given this URL (HEARTLOCK_BACKEND) can open the same
  // store.
  if (!password_file.empty()) {
    query += "&password_file=" + percent_encode(password_file, "/:");
  }
  if (!query.empty()) {
    out += "?" + query.substr(1);
  }
  return out;
}

Result<RedisUrl> parse_redis_url(std::string_view url) {
  RedisUrl out;
  bool sentinel = false;
  if (url.starts_with("redis-sentinel://")) {
    sentinel = true;
  } else if (url.starts_with("rediss://")) {
    out.tls = true;
  } else if (!url.starts_with("redis://")) {
    return fail(Errc::invalid_argument, "not a redis://, rediss:// or redis-sentinel:// URL");
  }
  // Every message below shows the URL through redact_url (url_error) or names a parameter,
  // never a piece of the text that could hold a password.
  auto parts = split_url(url);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  auto credentials = decode_credentials(*parts, url);
  if (!credentials) {
    return std::unexpected(credentials.error());
  }
  out.user = std::move(credentials->user);
  out.password = std::move(credentials->password);
  for (std::string_view rest = parts->hosts; !rest.empty();) {
    auto comma = rest.find(',');
    auto node = split_host_port(rest.substr(0, comma), url);
    if (!node) {
      return std::unexpected(node.error());
    }
    if (node->host.empty()) {
      return std::unexpected(url_error(url, "missing redis host"));
    }
    out.nodes.push_back(RedisEndpoint{.host = std::string(node->host),
                                      .port = node->port_number != 0 ? node->port_number
                                              : sentinel             ? 26379
                                                                     : 6379});
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  if (out.nodes.empty()) {
    return std::unexpected(url_error(url, "no redis host"));
  }
  std::string_view path = parts->path;
  if (sentinel) {
    auto slash = path.find('/');
    auto master = percent_decode(path.substr(0, slash), "master name");
    if (!master) {
      return std::unexpected(url_error(url, master.error().message));
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
      return std::unexpected(url_error(url, "bad redis database number"));
    }
  }
  auto params = query_params(parts->query);
  if (!params) {
    return std::unexpected(url_error(url, params.error().message));
  }
  std::optional<std::string> password_file;
  for (const auto& param : *params) {
    const std::string& name = param.name;
    const std::string& value = param.value;
    if (name == "prefix") {
      out.prefix = value;
    } else if (name == "timeout") {
      auto d = parse_duration(value);
      if (!d || d->count() == 0) {
        return fail(Errc::invalid_argument, "bad redis timeout '" + value + "'");
      }
      out.timeout = *d;
    } else if (name == "cacert") {
      out.cacert = value;
    } else if (name == "cert") {
      out.cert = value;
    } else if (name == "key") {
      out.key = value;
    } else if (name == "reconnect_attempts") {
      auto [p, ec] =
          std::from_chars(value.data(), value.data() + value.size(), out.reconnect_attempts);
      if (ec != std::errc() || p != value.data() + value.size() || out.reconnect_attempts < 0 ||
          out.reconnect_attempts > 1000) {
        return fail(Errc::invalid_argument,
                    "bad reconnect_attempts '" + value + "' (a whole number, 0 to 1000)");
      }
    } else if (name == "reconnect_backoff") {
      auto d = parse_duration(value);
      if (!d) {
        return fail(Errc::invalid_argument, "bad reconnect_backoff '" + value + "'");
      }
      out.reconnect_backoff = *d;
    } else if (name == "password_file") {
      password_file = value;
    } else if (name == "sentinel_password") {
      out.sentinel_password = value;
    } else if (name == "compat") {
      if (value != "cronlock") {
        return fail(Errc::invalid_argument, "compat must be 'cronlock'");
      }
      out.cronlock = true;
    } else if (name == "insecure") {
      if (value != "0" && value != "1") {
        return fail(Errc::invalid_argument, "insecure must be 0 or 1");
      }
      out.insecure = value == "1";
    } else {
      return fail(Errc::invalid_argument, "unknown redis URL option '" + name + "'");
    }
  }
  if (out.cronlock && out.redlock()) {
    return fail(Errc::invalid_argument,
                "compat=cronlock needs one Redis server (cronlock knows no Redlock)");
  }
  auto password = choose_password(*parts, url, std::move(out.password), password_file,
                                  "HEARTLOCK_REDIS_PASSWORD");
  if (!password) {
    return std::unexpected(password.error());
  }
  out.password = std::move(*password);
  out.password_file = password_file.value_or("");
  return out;
}

}  // namespace heartlock::detail
