// cronlock config files (cli/cronlock.cc), read as data and never run: parse_cronlock_config()
// accepts only KEY=VALUE lines, cronlock_config() turns the variables into settings (from the
// file, and the same variables as the environment), and the URL cronlock_url() builds from an
// accepted configuration must parse as the one Redis server, database, prefix and password the
// configuration names. The input's lines also go through bash_echo/cronlock_name as arguments.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../cli/cronlock.h"
#include "fuzz_check.h"
#ifdef HEARTLOCK_WITH_REDIS
#include "../src/redis/redis_url.h"
#endif

namespace {

using heartlock::cli::CronlockConfig;

#ifdef HEARTLOCK_WITH_REDIS
void check_url(const CronlockConfig& config) {
  const std::string text = heartlock::cli::cronlock_url(config);
  auto url = heartlock::detail::parse_redis_url(text);
  FUZZ_CHECK(url.has_value(), "the URL of an accepted configuration parses");
  FUZZ_CHECK(url->cronlock, "compat=cronlock");
  FUZZ_CHECK(url->nodes.size() == 1, "one server (cronlock knows no Redlock)");
  const auto& host = config.use_sentinel ? config.sentinel_host : config.host;
  const int port = config.use_sentinel ? config.sentinel_port : config.port;
  FUZZ_CHECK(url->nodes[0].host == host, "the configured host");
  FUZZ_CHECK(url->nodes[0].port == port, "the configured port");
  FUZZ_CHECK(url->db == config.db, "the configured database");
  FUZZ_CHECK(url->prefix == config.prefix, "the configured prefix");
  FUZZ_CHECK(url->password == config.auth, "the configured password");
  FUZZ_CHECK(!config.use_sentinel || url->sentinel_master == config.sentinel_master,
             "the configured Sentinel master");
  FUZZ_CHECK(url->timeout == config.redis_timeout, "the configured timeout");
}
#endif

void check_config(const heartlock::cli::CronlockVars& env,
                  const heartlock::cli::CronlockVars& file) {
  auto config = heartlock::cli::cronlock_config(env, file);
  if (!config) {
    FUZZ_CHECK(config.error().code == heartlock::Errc::invalid_argument, "bad value: fix input");
    return;
  }
  FUZZ_CHECK(config->port >= 1 && config->port <= 65535, "a TCP port");
  FUZZ_CHECK(config->grace <= config->release, "grace within release");
  FUZZ_CHECK(!config->prefix.empty() && !config->host.empty(), "defaults fill empty values");
#ifdef HEARTLOCK_WITH_REDIS
  check_url(*config);
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = heartlock::fuzz::as_text(data, size);

  std::vector<std::string> args;
  for (std::string_view rest = text; !rest.empty();) {
    auto nl = rest.find('\n');
    args.emplace_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  const std::string echoed = heartlock::cli::bash_echo(args);
  (void)echoed;

  auto vars = heartlock::cli::parse_cronlock_config(text);
  if (!vars) {
    FUZZ_CHECK(vars.error().code == heartlock::Errc::invalid_argument, "bad file: fix input");
    FUZZ_CHECK(vars.error().message.starts_with("line "), "the error names the line");
    return 0;
  }
  for (const auto& [name, value] : *vars) {
    FUZZ_CHECK(name.starts_with("CRONLOCK_") && name != "CRONLOCK_CONFIG", "a known setting");
    FUZZ_CHECK(value.find('\n') == std::string::npos, "one line per value");
  }
  check_config({}, *vars);
  check_config(*vars, {});
  if (auto config = heartlock::cli::cronlock_config({}, *vars)) {
    const std::string name = heartlock::cli::cronlock_name(args, *config);
    FUZZ_CHECK(!name.empty(), "a lock name");
    (void)heartlock::cli::cronlock_name(args, *config, heartlock::cli::KeyStyle::golock);
  }
  return 0;
}
