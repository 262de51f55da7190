// Backend URLs of every scheme: the parsers behind Store::open (redis://, rediss://,
// redis-sentinel://, postgres://, postgresql://, etcd://, etcds://) and the URL pieces they share
// (src/core/url_parts.cc). Store::open itself is not called: it would connect. Every parser gets
// every input (each rejects the others' schemes at once).
//
// Invariants: an accepted URL describes something a store could use; errors say "fix the input";
// and the password never shows (url_parts.h promises it): every message and redacted form is
// collected, and the password's occurrences in them must not outnumber those in the same texts
// for the URL with its password masked (an occurrence that stays is the message's own words).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../src/core/url_parts.h"
#include "fuzz_check.h"
#ifdef HEARTLOCK_WITH_REDIS
#include "../src/redis/redis_url.h"
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
#include "../src/postgres/pg_url.h"
#endif
#ifdef HEARTLOCK_WITH_ETCD
#include "../src/etcd/etcd_url.h"
#endif

namespace {

using namespace heartlock::detail;

// What a user may see: error messages and redacted URLs.
using Shown = std::vector<std::string>;

void check_error(const heartlock::Error& error, Shown& shown) {
  FUZZ_CHECK(error.code == heartlock::Errc::invalid_argument ||
                 error.code == heartlock::Errc::permission_denied,  // a password_file
             "a bad URL: fix the input");
  shown.push_back(error.message);
}

void check_url_parts(std::string_view text, Shown& shown) {
  if (auto decoded = percent_decode(text, "fuzz input")) {
    FUZZ_CHECK(decoded->size() <= text.size(), "decoding never grows");
  } else {
    FUZZ_CHECK(text.find('%') != std::string_view::npos, "only a %-escape can be malformed");
    check_error(decoded.error(), shown);
  }
  auto round_trip = percent_decode(percent_encode(text), "fuzz input");
  FUZZ_CHECK(round_trip && *round_trip == text, "decode(encode(x)) == x");
  for (const auto& [name, value] : query_pairs(text)) {
    FUZZ_CHECK(name.find('&') == std::string_view::npos, "no '&' in an option name");
    FUZZ_CHECK(value.find('&') == std::string_view::npos, "no '&' in an option value");
    FUZZ_CHECK(name.find('=') == std::string_view::npos, "no '=' in an option name");
  }
  if (auto params = query_params(text); !params) {
    // Not shown: a whole URL is no query (the parameter names its message echoes are the URL).
    FUZZ_CHECK(params.error().code == heartlock::Errc::invalid_argument, "fix the input");
  }
  (void)url_scheme(text);
  shown.push_back(redact_url(text));
  auto parts = split_url(text);
  if (!parts) {
    check_error(parts.error(), shown);
    return;
  }
  if (auto params = query_params(parts->query); !params) {
    check_error(params.error(), shown);
  }
  for (std::string_view hosts = parts->hosts; !hosts.empty();) {
    auto comma = hosts.find(',');
    if (auto host = split_host_port(hosts.substr(0, comma), text); !host) {
      check_error(host.error(), shown);
    } else if (!host->port.empty()) {
      FUZZ_CHECK(host->port_number >= 1 && host->port_number <= 65535, "a TCP port");
    }
    hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
  }
}

#ifdef HEARTLOCK_WITH_REDIS
void check_redis(std::string_view text, Shown& shown) {
  auto url = parse_redis_url(text);
  if (!url) {
    check_error(url.error(), shown);
    return;
  }
  FUZZ_CHECK(!url->nodes.empty(), "at least one server");
  for (const auto& node : url->nodes) {
    FUZZ_CHECK(!node.host.empty(), "a host");
    FUZZ_CHECK(node.port > 0 && node.port <= 65535, "a TCP port");
  }
  FUZZ_CHECK(url->db >= 0, "a database number");
  FUZZ_CHECK(url->timeout.count() > 0, "a timeout");
  FUZZ_CHECK(url->reconnect_attempts >= 0 && url->reconnect_attempts <= 1000, "attempts");
  FUZZ_CHECK(url->reconnect_backoff.count() >= 0, "a backoff");
  FUZZ_CHECK(!url->sentinel_master.empty() == url_scheme(text).starts_with("redis-sentinel"),
             "a Sentinel URL names its master");
  FUZZ_CHECK(!(url->cronlock && url->redlock()), "compat=cronlock is one server");
  shown.push_back(url->redacted());
  FUZZ_CHECK(shown.back().starts_with("redis"), "redacted keeps the scheme");
}
#endif

#ifdef HEARTLOCK_WITH_POSTGRES
void check_postgres(std::string_view text, Shown& shown) {
  auto url = parse_pg_url(text);
  if (!url) {
    // (Errc::unavailable only if libpq cannot be loaded, which no input can cause.)
    check_error(url.error(), shown);
    return;
  }
  FUZZ_CHECK(!url->table.empty() && url->table.size() <= 57, "a table name that fits");
  FUZZ_CHECK(url->schema.size() <= 63, "a schema name that fits");
  FUZZ_CHECK(url->timeout.count() > 0, "a timeout");
  FUZZ_CHECK(url->conninfo.starts_with("postgres"), "libpq gets the URI");
  FUZZ_CHECK(url->redacted.starts_with("postgres"), "redacted keeps the scheme");
  FUZZ_CHECK(url->channel().size() == 26, "a short channel name");
  const std::string table = url->qualified_table();
  FUZZ_CHECK(table.front() == '"' && table.back() == '"', "a quoted identifier");
  (void)url->qualified_slots_table();
  shown.push_back(url->redacted);
}
#endif

#ifdef HEARTLOCK_WITH_ETCD
void check_etcd(std::string_view text, Shown& shown) {
  auto url = parse_etcd_url(text);
  if (!url) {
    check_error(url.error(), shown);
    return;
  }
  FUZZ_CHECK(!url->endpoints.empty(), "at least one endpoint");
  for (const auto& endpoint : url->endpoints) {
    FUZZ_CHECK(endpoint.find(':') != std::string::npos, "host:port");
    FUZZ_CHECK(endpoint.find(',') == std::string::npos, "one endpoint each");
  }
  FUZZ_CHECK(url->timeout.count() > 0, "a timeout");
  shown.push_back(url->redacted());
  FUZZ_CHECK(shown.back().starts_with("etcd"), "redacted keeps the scheme");
}
#endif

Shown check_all(std::string_view text) {
  Shown shown;
  check_url_parts(text, shown);
#ifdef HEARTLOCK_WITH_REDIS
  check_redis(text, shown);
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
  check_postgres(text, shown);
#endif
#ifdef HEARTLOCK_WITH_ETCD
  check_etcd(text, shown);
#endif
  return shown;
}

std::size_t occurrences(const Shown& shown, std::string_view password) {
  std::size_t n = 0;
  for (const auto& text : shown) {
    for (auto at = text.find(password); at != std::string::npos; at = text.find(password, at + 1)) {
      ++n;
    }
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The parsers fall back to these for a missing password: the input alone decides.
  static const bool unset = [] {
    ::unsetenv("HEARTLOCK_REDIS_PASSWORD");
    ::unsetenv("HEARTLOCK_ETCD_PASSWORD");
    return true;
  }();
  (void)unset;
  const auto text = heartlock::fuzz::as_text(data, size);
  const Shown shown = check_all(text);

  // The password as written (split_url's reading: between the user's ':' and the last '@' of the
  // host part), when it is long enough to look for and occurs nowhere else in the URL.
  auto parts = split_url(text);
  if (!parts || !parts->has_password || parts->password.size() < 4 ||
      text.find(parts->password) != text.rfind(parts->password)) {
    return 0;
  }
  const std::string_view password = parts->password;
  std::string masked(text);
  const char mask = password.front() == 'Z' ? 'Y' : 'Z';
  masked.replace(static_cast<std::size_t>(password.data() - text.data()), password.size(),
                 password.size(), mask);
  const std::size_t seen = occurrences(shown, password);
  if (seen > occurrences(check_all(masked), password)) {
    for (const auto& s : shown) {
      std::fprintf(stderr, "shown: %s\n", s.c_str());
    }
    FUZZ_CHECK(false, "the password is never shown");
  }
  return 0;
}
