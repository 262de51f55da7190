#include "etcd_url.h"

#include <cstdlib>
#include <optional>

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
  std::string query;
  if (prefix != "heartlock/") {
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

Result<EtcdUrl> parse_etcd_url(std::string_view url) {
  EtcdUrl out;
  if (url.starts_with("etcds://")) {
    out.tls = true;
  } else if (!url.starts_with("etcd://")) {
    return fail(Errc::invalid_argument, "not an etcd:// or etcds:// URL");
  }
  // Every message below shows the URL through redact_url (url_error) or names a parameter,
  // never a piece of the text that could hold a password.
  auto parts = split_url(url);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  if (!parts->path.empty()) {
    return std::unexpected(
        url_error(url, "a path (an etcd URL has none: use ?prefix= for a namespace)"));
  }
  auto credentials = decode_credentials(*parts, url);
  if (!credentials) {
    return std::unexpected(credentials.error());
  }
  out.user = std::move(credentials->user);
  out.password = std::move(credentials->password);
  for (std::string_view rest = parts->hosts; !rest.empty();) {
    const auto comma = rest.find(',');
    const std::string_view text = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    auto endpoint = split_host_port(text, url);
    if (!endpoint) {
      return std::unexpected(endpoint.error());
    }
    if (endpoint->host.empty()) {
      return std::unexpected(url_error(url, "empty etcd endpoint"));
    }
    const std::string host = text.starts_with('[') ? "[" + std::string(endpoint->host) + "]"
                                                   : std::string(endpoint->host);
    out.endpoints.push_back(host + ":" +
                            (endpoint->port.empty() ? "2379" : std::string(endpoint->port)));
  }
  if (out.endpoints.empty()) {
    return std::unexpected(url_error(url, "no etcd endpoint"));
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
        return fail(Errc::invalid_argument, "bad etcd timeout '" + value + "'");
      }
      out.timeout = *d;
    } else if (name == "cacert") {
      out.cacert = value;
    } else if (name == "cert") {
      out.cert = value;
    } else if (name == "key") {
      out.key = value;
    } else if (name == "password_file") {
      password_file = value;
    } else {
      return fail(Errc::invalid_argument, "unknown etcd URL option '" + name + "'");
    }
  }
  auto password = choose_password(*parts, url, std::move(out.password), password_file,
                                  "HEARTLOCK_ETCD_PASSWORD");
  if (!password) {
    return std::unexpected(password.error());
  }
  out.password = std::move(*password);
  out.password_file = password_file.value_or("");
  return out;
}

}  // namespace heartlock::detail
