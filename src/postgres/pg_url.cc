#include "pg_url.h"

#include <memory>

#include "heartlock/duration.h"

#include "../core/sha256.h"
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
  PgUrl out;
  std::string_view base = url;
  std::string_view query;
  if (auto q = url.find('?'); q != std::string_view::npos) {
    base = url.substr(0, q);
    query = url.substr(q + 1);
  }
  bool table_given = false;
  std::string kept;           // query parameters for libpq
  std::string kept_redacted;  // the same without password=
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
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
    } else {
      kept += (kept.empty() ? "" : "&") + std::string(pair);
      if (name != "password") {
        kept_redacted += (kept_redacted.empty() ? "" : "&") + std::string(pair);
      }
    }
  }
  if (out.advisory && !table_given) {
    out.table = "heartlock_advisory";
  }
  out.conninfo = std::string(base) + (kept.empty() ? "" : "?" + kept);
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
    return fail(Errc::invalid_argument, "bad postgres URL: " + message);
  }
  // The redacted form: scheme://[user@]rest, with any ":password" in the user part dropped.
  std::string_view rest = base.substr(base.find("://") + 3);
  std::string shown = std::string(base.substr(0, base.find("://") + 3));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    shown += std::string(userinfo.substr(0, userinfo.find(':'))) + "@";
    rest = rest.substr(at + 1);
  }
  shown += std::string(rest);
  std::string extra = kept_redacted;
  if (table_given) {
    extra += (extra.empty() ? "" : "&") + std::string("table=") +
             (out.schema.empty() ? "" : out.schema + ".") + out.table;
  }
  if (out.advisory) {
    extra += (extra.empty() ? "" : "&") + std::string("mode=advisory");
  }
  out.redacted = shown + (extra.empty() ? "" : "?" + extra);
  return out;
}

}  // namespace heartlock::detail
