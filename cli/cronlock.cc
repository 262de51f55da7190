#include "cronlock.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "heartlock/digest.h"
#include "heartlock/duration.h"
#include "heartlock/url.h"

extern char** environ;

namespace heartlock::cli {
namespace {

constexpr std::string_view kKnown[] = {
    "CRONLOCK_HOST",
    "CRONLOCK_PORT",
    "CRONLOCK_AUTH",
    "CRONLOCK_DB",
    "CRONLOCK_TLS",
    "CRONLOCK_TLS_SKIP_VERIFY",
    "CRONLOCK_REDIS_TIMEOUT",
    "CRONLOCK_GRACE",
    "CRONLOCK_RELEASE",
    "CRONLOCK_RECONNECT_ATTEMPTS",
    "CRONLOCK_RECONNECT_BACKOFF",
    "CRONLOCK_KEY",
    "CRONLOCK_PREFIX",
    "CRONLOCK_VERBOSE",
    "CRONLOCK_TIMEOUT",
    "CRONLOCK_RESET",
    "CRONLOCK_USE_SENTINEL",
    "CRONLOCK_SENTINEL_HOST",
    "CRONLOCK_SENTINEL_PORT",
    "CRONLOCK_SENTINEL_MASTER",
    "CRONLOCK_NTPDATE",
    "CRONLOCK_CONFIG",
};

bool known(std::string_view name) {
  return std::find(std::begin(kKnown), std::end(kKnown), name) != std::end(kKnown);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The value part of a config line (after '='): the value, or an error text.
Result<std::string> config_value(std::string_view rest) {
  std::string value;
  std::string_view after;
  if (!rest.empty() && (rest.front() == '\'' || rest.front() == '"')) {
    const char quote = rest.front();
    auto close = rest.find(quote, 1);
    if (close == std::string_view::npos) {
      return fail(Errc::invalid_argument, std::string("unclosed ") + quote);
    }
    value = std::string(rest.substr(1, close - 1));
    after = rest.substr(close + 1);
    if (quote == '"' && value.find_first_of("$`\\") != std::string::npos) {
      return fail(Errc::invalid_argument,
                  "\"...\" with $, ` or \\ inside: shell expansion is not supported; use '...'");
    }
  } else {
    auto end = rest.find_first_of(" \t");
    value = std::string(rest.substr(0, end));
    after = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    if (value.find_first_of("'\"$`\\;&|<>(){}*?[]~") != std::string::npos) {
      return fail(Errc::invalid_argument,
                  "the value holds shell syntax; this file is read as KEY=VALUE, not run");
    }
  }
  after = trim(after);
  if (!after.empty() && after.front() != '#') {
    return fail(Errc::invalid_argument, "text after the value");
  }
  return value;
}

Result<long long> whole_number(const CronlockVars& vars, std::string_view name, long long fallback,
                               long long min, long long max) {
  auto it = vars.find(name);
  if (it == vars.end() || it->second.empty()) {
    return fallback;
  }
  const std::string& text = it->second;
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) {
    return fail(Errc::invalid_argument, std::string(name) + "='" + text +
                                            "' is not a whole number from " + std::to_string(min) +
                                            " to " + std::to_string(max));
  }
  return v;
}

Result<bool> yes_no(const CronlockVars& vars, std::string_view name) {
  auto it = vars.find(name);
  if (it == vars.end() || it->second.empty() || it->second == "no") {
    return false;
  }
  if (it->second == "yes") {
    return true;
  }
  return fail(Errc::invalid_argument,
              std::string(name) + "='" + it->second + "' must be yes or no");
}

std::string text_of(const CronlockVars& vars, std::string_view name, std::string fallback) {
  auto it = vars.find(name);
  return it == vars.end() || it->second.empty() ? fallback : it->second;
}

// `s` for a message between '...': printable ASCII as is, but for ' and \, which are escaped
// like everything else as \xHH; at most 80 bytes of it.
std::string escaped(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return s.size() > 80 ? out + "..." : out;
}

bool is_ipv6_char(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
}

// The host `value` names, as the URL parser gives it back ("[::1]" as "::1"), or an error naming
// the variable. The host goes into the URL as is, where '@', ',', '/', '?' or '#' would change
// what the URL means (a user, a second server, a database): only a host name or IPv4 address
// (letters, digits, '-', '.'; '_' too, which Docker's service names use), or an IPv6 address
// (hex digits, ':' and '.'; bare or in brackets) is accepted.
Result<std::string> host_value(std::string_view name, std::string value) {
  std::string_view host = value;
  bool ok = false;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    ok = host.find(':') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(), is_ipv6_char);
  } else if (host.find(':') != std::string_view::npos) {
    ok = std::all_of(host.begin(), host.end(), is_ipv6_char);
  } else {
    ok = !host.empty() && host.size() <= 253 &&
         std::isalnum(static_cast<unsigned char>(host.front())) != 0 &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' ||
                  c == '_';
         });
  }
  if (!ok) {
    return fail(Errc::invalid_argument,
                std::string(name) + "='" + escaped(value) +
                    "' is not a host name, IPv4 address or IPv6 address ([::1])");
  }
  return std::string(host);
}

std::string host_port(const std::string& host, int port) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

// Appends what `echo -e` prints for `arg`; false after \c (print nothing more).
bool echo_escapes(std::string_view arg, std::string& out) {
  for (std::size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] != '\\' || i + 1 == arg.size()) {
      out.push_back(arg[i]);
      continue;
    }
    char c = arg[++i];
    switch (c) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'c':
        return false;
      case 'e':
      case 'E':
        out.push_back('\x1b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '0': {  // \0nnn: up to three octal digits
        int v = 0;
        for (int n = 0; n < 3 && i + 1 < arg.size() && arg[i + 1] >= '0' && arg[i + 1] <= '7';
             ++n) {
          v = v * 8 + (arg[++i] - '0');
        }
        out.push_back(static_cast<char>(v));
        break;
      }
      case 'x': {  // \xHH: one or two hex digits
        int v = 0;
        int n = 0;
        while (n < 2 && i + 1 < arg.size() &&
               std::isxdigit(static_cast<unsigned char>(arg[i + 1]))) {
          char h = arg[++i];
          v = v * 16 +
              (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
          ++n;
        }
        if (n == 0) {
          out += "\\x";
        } else {
          out.push_back(static_cast<char>(v));
        }
        break;
      }
      default:  // unknown escapes (and \u, \U: not handled) stay as written
        out.push_back('\\');
        out.push_back(c);
    }
  }
  return true;
}

}  // namespace

Result<CronlockVars> parse_cronlock_config(std::string_view text) {
  CronlockVars vars;
  int number = 0;
  while (!text.empty()) {
    ++number;
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto bad = [&](const std::string& why) {
      return fail(Errc::invalid_argument, "line " + std::to_string(number) + ": " + why);
    };
    if (line.starts_with("export ")) {
      line = trim(line.substr(7));
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return bad("not NAME=VALUE (this file is read as data, not run as a shell script)");
    }
    std::string name(line.substr(0, eq));
    if (!known(name)) {
      return bad("unknown setting '" + name.substr(0, 60) + "'");
    }
    if (name == "CRONLOCK_CONFIG") {
      return bad("CRONLOCK_CONFIG cannot be set from the config file");
    }
    auto value = config_value(line.substr(eq + 1));
    if (!value) {
      return bad(name + ": " + value.error().message);
    }
    vars[name] = *value;
  }
  return vars;
}

CronlockVars cronlock_environment() {
  CronlockVars vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("CRONLOCK_")) {
      continue;
    }
    auto eq = entry.find('=');
    if (eq != std::string_view::npos) {
      vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
  }
  return vars;
}

Result<CronlockConfig> cronlock_config(const CronlockVars& environment, const CronlockVars& file) {
  CronlockVars v = environment;
  for (const auto& [name, value] : file) {
    v[name] = value;
  }
  CronlockConfig c;
  auto number = [&](std::string_view name, auto& into, long long min, long long max) {
    auto r = whole_number(v, name, static_cast<long long>([&] {
                            if constexpr (requires { into.count(); }) {
                              return into.count();
                            } else {
                              return into;
                            }
                          }()),
                          min, max);
    if (r) {
      into = static_cast<std::remove_reference_t<decltype(into)>>(*r);
    }
    return r ? Result<void>() : Result<void>(std::unexpected(r.error()));
  };
  auto flag = [&](std::string_view name, bool& into) {
    auto r = yes_no(v, name);
    if (r) {
      into = *r;
    }
    return r ? Result<void>() : Result<void>(std::unexpected(r.error()));
  };
  constexpr long long kYear = 366LL * 86400;
  for (auto r :
       {number("CRONLOCK_PORT", c.port, 1, 65535), number("CRONLOCK_DB", c.db, 0, 1 << 20),
        number("CRONLOCK_REDIS_TIMEOUT", c.redis_timeout, 1, 3600),
        number("CRONLOCK_GRACE", c.grace, 0, kYear),
        number("CRONLOCK_RELEASE", c.release, 1, kYear),
        number("CRONLOCK_RECONNECT_ATTEMPTS", c.reconnect_attempts, 0, 1000),
        number("CRONLOCK_RECONNECT_BACKOFF", c.reconnect_backoff, 0, 3600),
        number("CRONLOCK_TIMEOUT", c.timeout, 0, kYear),
        number("CRONLOCK_SENTINEL_PORT", c.sentinel_port, 1, 65535), flag("CRONLOCK_TLS", c.tls),
        flag("CRONLOCK_TLS_SKIP_VERIFY", c.tls_skip_verify), flag("CRONLOCK_VERBOSE", c.verbose),
        flag("CRONLOCK_USE_SENTINEL", c.use_sentinel)}) {
    if (!r) {
      return std::unexpected(r.error());
    }
  }
  bool ntpdate = false;
  if (auto r = flag("CRONLOCK_NTPDATE", ntpdate); !r) {
    return std::unexpected(r.error());
  }
  const std::string reset = text_of(v, "CRONLOCK_RESET", "no");
  if (reset == "yes") {
    c.reset = CronlockConfig::Reset::yes;
  } else if (reset == "force") {
    c.reset = CronlockConfig::Reset::force;
  } else if (reset != "no") {
    return fail(Errc::invalid_argument, "CRONLOCK_RESET='" + reset + "' must be yes, force or no");
  }
  for (auto [name, into] : {std::pair{"CRONLOCK_HOST", &c.host},
                            std::pair{"CRONLOCK_SENTINEL_HOST", &c.sentinel_host}}) {
    auto host = host_value(name, text_of(v, name, *into));
    if (!host) {
      return std::unexpected(host.error());
    }
    *into = std::move(*host);
  }
  c.auth = text_of(v, "CRONLOCK_AUTH", "");
  c.key = text_of(v, "CRONLOCK_KEY", "");
  c.prefix = text_of(v, "CRONLOCK_PREFIX", c.prefix);
  c.sentinel_master = text_of(v, "CRONLOCK_SENTINEL_MASTER", c.sentinel_master);
  if (c.grace > c.release) {
    return fail(Errc::invalid_argument, "CRONLOCK_GRACE (" + std::to_string(c.grace.count()) +
                                            "s) is longer than CRONLOCK_RELEASE (" +
                                            std::to_string(c.release.count()) + "s)");
  }
  return c;
}

std::string bash_echo(const std::vector<std::string>& args) {
  bool newline = true;
  bool escapes = false;
  std::size_t first = 0;
  // Leading words made only of -n, -e, -E letters are echo's options.
  for (; first < args.size(); ++first) {
    const std::string& a = args[first];
    if (a.size() < 2 || a[0] != '-' || a.find_first_not_of("neE", 1) != std::string::npos) {
      break;
    }
    for (char c : std::string_view(a).substr(1)) {
      newline = newline && c != 'n';
      escapes = c == 'e' ? true : c == 'E' ? false : escapes;
    }
  }
  std::string out;
  for (std::size_t i = first; i < args.size(); ++i) {
    if (i > first) {
      out.push_back(' ');
    }
    if (!escapes) {
      out += args[i];
    } else if (!echo_escapes(args[i], out)) {
      return out;  // \c: nothing more, not even the newline
    }
  }
  if (newline) {
    out.push_back('\n');
  }
  return out;
}

std::string cronlock_name(const std::vector<std::string>& args, const CronlockConfig& config,
                          KeyStyle style) {
  if (!config.key.empty()) {
    return config.key;
  }
  if (style == KeyStyle::cronlock) {
    return md5_hex(bash_echo(args));
  }
  std::string joined;
  for (std::size_t i = 0; i < args.size(); ++i) {
    joined += (i > 0 ? " " : "") + args[i];
  }
  return md5_hex(joined);
}

// Every value but the host (checked by cronlock_config) is percent-encoded, so none can change
// what the URL means.
std::string cronlock_url(const CronlockConfig& c) {
  std::string url = c.use_sentinel ? "redis-sentinel://" : c.tls ? "rediss://" : "redis://";
  if (!c.auth.empty()) {
    url += ":" + percent_encode(c.auth) + "@";
  }
  if (c.use_sentinel) {
    url += host_port(c.sentinel_host, c.sentinel_port) + "/" + percent_encode(c.sentinel_master);
  } else {
    url += host_port(c.host, c.port);
  }
  url += "/" + std::to_string(c.db) + "?compat=cronlock&prefix=" + percent_encode(c.prefix) +
         "&timeout=" + std::to_string(c.redis_timeout.count()) +
         "s&reconnect_attempts=" + std::to_string(c.reconnect_attempts) +
         "&reconnect_backoff=" + std::to_string(c.reconnect_backoff.count()) + "s";
  if (c.tls && c.tls_skip_verify) {
    url += "&insecure=1";
  }
  return url;
}

}  // namespace heartlock::cli
