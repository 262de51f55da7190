#include "pg_url.h"

#include <memory>
#include <optional>
#include <utility>

#include "heartlock/duration.h"

#include "../core/sha256.h"
#include "../core/url_parts.h"
#include "libpq_api.h"

namespace heartlock::detail {

std::string quote_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

std::string PgUrl::qualified_table() const {
  return schema.empty() ? quote_ident(table) : quote_ident(schema) + "." + quote_ident(table);
}

std::string PgUrl::channel() const {
  return "heartlock_" + sha256_hex(qualified_table()).substr(0, 16);
}

std::string PgUrl::qualified_runs_table() const {
  const std::string runs = table + "_runs";
  return schema.empty() ? quote_ident(runs) : quote_ident(schema) + "." + quote_ident(runs);
}

std::string PgUrl::qualified_slots_table() const {
  const std::string slots = table + "_slots";
  return schema.empty() ? quote_ident(slots) : quote_ident(schema) + "." + quote_ident(slots);
}

namespace {

bool valid_identifier(std::string_view s) {
  return !s.empty() && s.size() <= 63 && s.find('\0') == std::string_view::npos;
}

}  // namespace

Result<PgUrl> parse_pg_url(std::string_view url) {
  if (!url.starts_with("postgres://") && !url.starts_with("postgresql://")) {
    return fail(Errc::invalid_argument, "not a postgres:// or postgresql:// URL");
  }
  // libpq parses the URI itself, but its messages repeat what they cannot parse, password
  // included: the parts are checked here first, with messages that show the URL only through
  // redact_url (url_error) or name a parameter, and what libpq still says is scrubbed.
  auto parts = split_url(url);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  auto user = percent_decode(parts->user, "user name");
  auto password = percent_decode(parts->password, "password");
  if (!user || !password) {
    return std::unexpected(url_error(url, !user ? user.error().message : password.error().message));
  }
  for (std::string_view rest = parts->hosts; !rest.empty();) {
    const auto comma = rest.find(',');
    if (auto host = split_host_port(rest.substr(0, comma), url); !host) {
      return std::unexpected(host.error());
    }
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  auto params = query_params(parts->query);
  if (!params) {
    return std::unexpected(url_error(url, params.error().message));
  }
  PgUrl out;
  // The URI without its query, rebuilt from the parts with the user part encoded again: libpq
  // ends the user part at its first '@', this parser (as RFC 3986 and the other backends) at
  // the last, and libpq must connect as the user this parser found.
  // The form shown (and given to COMMAND as HEARTLOCK_BACKEND) drops the password rather than
  // showing "***", which a process opening that URL would take for the password.
  const std::string after_user =
      std::string(parts->hosts) + (parts->has_path ? "/" + std::string(parts->path) : "");
  std::string base = std::string(parts->scheme) + "://";
  std::string shown_base = base;
  if (parts->has_userinfo) {
    base +=
        percent_encode(*user) + (parts->has_password ? ":" + percent_encode(*password) : "") + "@";
    shown_base += percent_encode(*user) + "@";
  }
  base += after_user;
  shown_base += after_user;
  bool table_given = false;
  bool password_given = parts->has_password;
  std::optional<std::string> password_file;
  std::string kept;           // query parameters for libpq, as written (libpq decodes them)
  std::string kept_redacted;  // the same without secrets
  for (const auto& param : *params) {
    const std::string& name = param.name;
    const std::string& value = param.value;
    if (name == "table") {
      table_given = true;
      auto dot = value.find('.');
      if (dot != std::string::npos) {
        out.schema = value.substr(0, dot);
        out.table = value.substr(dot + 1);
      } else {
        out.table = value;
      }
      if ((dot != std::string::npos && !valid_identifier(out.schema)) ||
          !valid_identifier(out.table) || out.table.size() > 57 ||
          out.table.find('.') != std::string::npos) {
        return fail(Errc::invalid_argument,
                    "bad table '" + value + "': [schema.]name, 1 to 63 and 1 to 57 bytes");
      }
    } else if (name == "mode") {
      if (value != "lease" && value != "advisory") {
        return fail(Errc::invalid_argument, "mode must be lease or advisory, not '" + value + "'");
      }
      out.advisory = value == "advisory";
    } else if (name == "timeout") {
      auto d = parse_duration(value);
      if (!d || d->count() == 0) {
        return fail(Errc::invalid_argument, "bad postgres timeout '" + value + "'");
      }
      out.timeout = *d;
    } else if (name == "password_file") {
      password_file = value;
    } else {
      if (name == "password" && parts->has_password) {
        return std::unexpected(
            url_error(url, "a password in the user part and ?password=: give one of them"));
      }
      password_given = password_given || name == "password";
      kept += (kept.empty() ? "" : "&") + std::string(param.raw);
      if (!is_secret_param(name)) {
        kept_redacted += (kept_redacted.empty() ? "" : "&") + std::string(param.raw);
      }
    }
  }
  if (out.advisory && !table_given) {
    out.table = "heartlock_advisory";
  }
  out.conninfo = base + (kept.empty() ? "" : "?" + kept);
  // Let libpq judge its own part now, so a typo is a clear error before any connection.
  auto api = libpq_api();
  if (!api) {
    return std::unexpected(api.error());
  }
  const LibpqApi& pq = **api;
  char* error = nullptr;
  PQconninfoOption* parsed = pq.PQconninfoParse(out.conninfo.c_str(), &error);
  if (parsed != nullptr) {
    pq.PQconninfoFree(parsed);
  } else {
    std::string message = error != nullptr ? error : "cannot parse";
    pq.PQfreemem(error);
    while (!message.empty() && message.back() == '\n') {
      message.pop_back();
    }
    return fail(Errc::invalid_argument,
                "bad postgres URL " + redact_url(url) + ": " +
                    scrub_secrets(scrub_secrets(message, url), out.conninfo));
  }
  std::string extra = kept_redacted;
  if (table_given) {
    extra += (extra.empty() ? "" : "&") + std::string("table=") +
             (out.schema.empty() ? "" : percent_encode(out.schema) + ".") +
             percent_encode(out.table);
  }
  if (out.advisory) {
    extra += (extra.empty() ? "" : "&") + std::string("mode=advisory");
  }
  // The file, not the password: a process given this URL (HEARTLOCK_BACKEND) can open the same
  // store.
  if (password_file) {
    extra += (extra.empty() ? "" : "&") + std::string("password_file=") +
             percent_encode(*password_file, "/:");
  }
  out.redacted = shown_base + (extra.empty() ? "" : "?" + extra);
  if (password_file) {
    if (password_given) {
      return std::unexpected(
          url_error(url, "a password in the URL and a password_file: give one of them"));
    }
    auto from_file = read_password_file(*password_file);
    if (!from_file) {
      return std::unexpected(from_file.error());
    }
    out.conninfo +=
        (kept.empty() ? "?" : "&") + std::string("password=") + percent_encode(*from_file);
  }
  return out;
}

}  // namespace heartlock::detail
