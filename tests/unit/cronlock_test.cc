// cronlock compatibility: config file parsing, settings, key names (md5 vectors computed with
// `echo ... | md5sum` and `printf ... | md5sum`), the backend URL.
#include "../../cli/cronlock.h"

#include <gtest/gtest.h>

#include "../support/test_support.h"

namespace heartlock::cli {
namespace {

using testing::HasErrc;
using testing::IsOk;

TEST(CronlockConfigFile, ReadsNameValueLinesAsData) {
  auto vars = parse_cronlock_config(
      "# cronlock settings\n"
      "\n"
      "CRONLOCK_HOST=redis.example.com\n"
      "export CRONLOCK_PORT=6380   # a comment\n"
      "CRONLOCK_AUTH='p@ss word;$x'\n"
      "  CRONLOCK_PREFIX=\"jobs.\"\r\n"
      "CRONLOCK_KEY=\n");
  ASSERT_THAT(vars, IsOk());
  EXPECT_EQ(vars->at("CRONLOCK_HOST"), "redis.example.com");
  EXPECT_EQ(vars->at("CRONLOCK_PORT"), "6380");
  EXPECT_EQ(vars->at("CRONLOCK_AUTH"), "p@ss word;$x");
  EXPECT_EQ(vars->at("CRONLOCK_PREFIX"), "jobs.");
  EXPECT_EQ(vars->at("CRONLOCK_KEY"), "");
}

TEST(CronlockConfigFile, RefusesShellAndNamesTheLine) {
  for (const char* text : {
           "CRONLOCK_HOST=$(hostname)\n",
           "CRONLOCK_HOST=`hostname`\n",
           "CRONLOCK_HOST=\"$HOST\"\n",
           "rm -rf /tmp/x\n",
           "CRONLOCK_HOST=a; rm x\n",
           "CRONLOCK_HOST=a b\n",
           "CRONLOCK_HOST='unclosed\n",
           "CRONLOCK_HOSTS=typo\n",
           "PATH=/tmp\n",
           "CRONLOCK_CONFIG=/other\n",
       }) {
    auto vars = parse_cronlock_config(std::string("# ok\n") + text);
    EXPECT_THAT(vars, HasErrc(Errc::invalid_argument)) << text;
    if (!vars) {
      EXPECT_TRUE(vars.error().message.starts_with("line 2: ")) << vars.error().message;
    }
  }
}

TEST(CronlockConfig, DefaultsAreCronlocks) {
  auto c = cronlock_config({}, {});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 6379);
  EXPECT_EQ(c->grace.count(), 40);
  EXPECT_EQ(c->release.count(), 86400);
  EXPECT_EQ(c->prefix, "cronlock.");
  EXPECT_EQ(c->timeout.count(), 0);
  EXPECT_EQ(c->reconnect_attempts, 5);
  EXPECT_EQ(c->sentinel_port, 26379);
  EXPECT_EQ(c->sentinel_master, "mymaster");
  EXPECT_EQ(c->reset, CronlockConfig::Reset::no);
}

TEST(CronlockConfig, TheFileOverridesTheEnvironmentAsSourcingItWould) {
  auto c = cronlock_config({{"CRONLOCK_HOST", "env"}, {"CRONLOCK_GRACE", "5"}},
                           {{"CRONLOCK_HOST", "file"}});
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->host, "file");
  EXPECT_EQ(c->grace.count(), 5);
}

TEST(CronlockConfig, InvalidNumbersAndFlagsAreErrorsNotDefaults) {
  for (auto [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"CRONLOCK_GRACE", "forty"},
           {"CRONLOCK_GRACE", "-1"},
           {"CRONLOCK_RELEASE", "0"},
           {"CRONLOCK_RELEASE", "1e3"},
           {"CRONLOCK_PORT", "70000"},
           {"CRONLOCK_TIMEOUT", "10s"},
           {"CRONLOCK_DB", " 1"},
           {"CRONLOCK_TLS", "true"},
           {"CRONLOCK_RESET", "please"},
       }) {
    auto c = cronlock_config({{name, value}}, {});
    ASSERT_THAT(c, HasErrc(Errc::invalid_argument)) << name << "=" << value;
    EXPECT_NE(c.error().message.find(name), std::string::npos) << c.error().message;
  }
  auto c = cronlock_config({{"CRONLOCK_GRACE", "100"}, {"CRONLOCK_RELEASE", "50"}}, {});
  EXPECT_THAT(c, HasErrc(Errc::invalid_argument));
}

TEST(CronlockConfig, HostsAreHostNamesOrAddresses) {
  for (auto [value, host] : std::vector<std::pair<std::string, std::string>>{
           {"redis.example.com", "redis.example.com"},
           {"cache-1", "cache-1"},
           {"redis_cache", "redis_cache"},
           {"10.0.0.5", "10.0.0.5"},
           {"::1", "::1"},
           {"[fe80::1]", "fe80::1"},
           {"[::ffff:10.0.0.5]", "::ffff:10.0.0.5"},
       }) {
    for (const char* name : {"CRONLOCK_HOST", "CRONLOCK_SENTINEL_HOST"}) {
      auto c = cronlock_config({{name, value}}, {});
      ASSERT_THAT(c, IsOk()) << name << "=" << value;
      EXPECT_EQ(std::string_view(name) == "CRONLOCK_HOST" ? c->host : c->sentinel_host, host);
    }
  }
}

TEST(CronlockConfig, HostsThatWouldChangeTheUrlAreErrorsNamingTheVariable) {
  for (const std::string& value : std::vector<std::string>{
           "admin@cache",             // a user on host cache
           "a,b",                     // two servers: Redlock
           "cache/1",                 // a database
           "cache?db=1",              // a query
           "cache#x",                 // a fragment
           "cache:6380",              // a port belongs in CRONLOCK_PORT
           "[cache]",                 // not an IPv6 address
           "[::1",                    // unclosed
           "-cache",                  // an option to redis-cli in cronlock
           "ca che",                  // a space (from the environment)
           std::string("ca\0he", 4),  // NUL (from a config file)
           "ca\x01he\x7f",            // control bytes
           "r\xc3\xa9"
           "dis",  // not ASCII
       }) {
    for (const char* name : {"CRONLOCK_HOST", "CRONLOCK_SENTINEL_HOST"}) {
      auto c = cronlock_config({{name, value}}, {});
      ASSERT_THAT(c, HasErrc(Errc::invalid_argument)) << name << "=" << value;
      EXPECT_TRUE(c.error().message.starts_with(std::string(name) + "='")) << c.error().message;
      for (char ch : c.error().message) {
        EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << "unescaped byte in: " << c.error().message;
      }
    }
  }
  auto c = cronlock_config({{"CRONLOCK_HOST", "admin@cache\x01"}}, {});
  ASSERT_THAT(c, HasErrc(Errc::invalid_argument));
  EXPECT_EQ(c.error().message,
            "CRONLOCK_HOST='admin@cache\\x01' is not a host name, IPv4 address or IPv6 address "
            "([::1])");
}

TEST(CronlockKey, IsTheMd5OfWhatEchoPrints) {
  CronlockConfig c;
  // echo "ls -al" | md5sum
  EXPECT_EQ(cronlock_name({"ls", "-al"}, c), "116a0615d30dbfdede6a4c955715af7d");
  // echo "echo hi there" | md5sum: the same words, however they were split
  EXPECT_EQ(cronlock_name({"echo", "hi there"}, c), "a8bdf63624357c8a0f3660293cb6d580");
  EXPECT_EQ(cronlock_name({"echo", "hi", "there"}, c), "a8bdf63624357c8a0f3660293cb6d580");
  // echo "-n" "x" | md5sum: echo takes -n as its option
  EXPECT_EQ(cronlock_name({"-n", "x"}, c), "9dd4e461268c8034f5c8564e155c67a6");
  // golock: printf 'ls -al' | md5sum
  EXPECT_EQ(cronlock_name({"ls", "-al"}, c, KeyStyle::golock), "c6d3d07ad6f723d5f3d9ead315348230");
  c.key = "nightly";
  EXPECT_EQ(cronlock_name({"ls", "-al"}, c), "nightly");
}

TEST(CronlockKey, EchoOptionsAndEscapesAsBash) {
  EXPECT_EQ(bash_echo({"a", "b"}), "a b\n");
  EXPECT_EQ(bash_echo({"-n", "a"}), "a");
  EXPECT_EQ(bash_echo({"-e", "a\\tb", "c"}), "a\tb c\n");
  EXPECT_EQ(bash_echo({"-neE", "a\\tb"}), "a\\tb");
  EXPECT_EQ(bash_echo({"-e", "a\\cb", "c"}), "a");
  EXPECT_EQ(bash_echo({"-e", "\\0101\\x42"}), "AB\n");
  EXPECT_EQ(bash_echo({"-x", "a"}), "-x a\n");
  EXPECT_EQ(bash_echo({"-", "a"}), "- a\n");
  EXPECT_EQ(bash_echo({"a", "-n"}), "a -n\n");
  EXPECT_EQ(bash_echo({}), "\n");
}

TEST(CronlockUrl, CarriesEverySettingAndEncodesThePassword) {
  CronlockConfig c;
  c.host = "10.0.0.5";
  c.port = 6380;
  c.auth = "p@ss/word";
  c.db = 2;
  c.prefix = "jobs&x.";
  EXPECT_EQ(cronlock_url(c),
            "redis://:p%40ss%2Fword@10.0.0.5:6380/2?compat=cronlock&prefix=jobs%26x.&timeout=2s"
            "&reconnect_attempts=5&reconnect_backoff=5s");
  c.tls = true;
  c.tls_skip_verify = true;
  EXPECT_TRUE(cronlock_url(c).starts_with("rediss://"));
  EXPECT_TRUE(cronlock_url(c).ends_with("&insecure=1"));
  c.use_sentinel = true;
  c.sentinel_host = "::1";
  c.sentinel_master = "my master/1";
  EXPECT_TRUE(
      cronlock_url(c).starts_with("redis-sentinel://:p%40ss%2Fword@[::1]:26379/my%20master%2F1/2?"))
      << cronlock_url(c);
}

}  // namespace
}  // namespace heartlock::cli
