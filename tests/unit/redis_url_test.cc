#include "../../src/redis/redis_url.h"

#include <gtest/gtest.h>

#include "../support/test_support.h"

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;
using testing::HasErrc;

TEST(RedisUrlTest, ParsesTheFullForm) {
  auto u = parse_redis_url(
      "rediss://alice:p%40ss@cache.example:6380/3?prefix=jobs:&timeout=500ms"
      "&cacert=/etc/ca.pem&insecure=0");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->user, "alice");
  EXPECT_EQ(u->password, "p@ss");
  ASSERT_EQ(u->nodes.size(), 1u);
  EXPECT_EQ(u->nodes[0].host, "cache.example");
  EXPECT_EQ(u->nodes[0].port, 6380);
  EXPECT_EQ(u->db, 3);
  EXPECT_EQ(u->prefix, "jobs:");
  EXPECT_EQ(u->timeout, 500ms);
  EXPECT_EQ(u->cacert, "/etc/ca.pem");
}

TEST(RedisUrlTest, DefaultsAndSeveralHosts) {
  auto u = parse_redis_url("redis://h1,h2:7000,[::1]:7001");
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_EQ(u->nodes.size(), 3u);
  EXPECT_EQ(u->nodes[0].port, 6379);
  EXPECT_EQ(u->nodes[2].host, "::1");
  EXPECT_EQ(u->prefix, "heartlock:");
}

TEST(RedisUrlTest, RedactedFormNeverShowsThePassword) {
  auto u = parse_redis_url("redis://bob:hunter2@127.0.0.1:6379/1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->redacted().find("hunter2"), std::string::npos) << u->redacted();
  EXPECT_NE(u->redacted().find("bob@"), std::string::npos);
}

TEST(RedisUrlTest, RejectsMalformedUrlsPrecisely) {
  for (const char* bad :
       {"redis://", "redis://:6379", "redis://h:0", "redis://h:99999", "redis://h:port",
        "redis://h/x", "redis://h?timeout=5", "redis://h?bogus=1", "redis://h?insecure=yes",
        "redis://u:%zz@h", "redis://[::1"}) {
    auto u = parse_redis_url(bad);
    EXPECT_THAT(u, HasErrc(Errc::invalid_argument)) << bad;
  }
}

TEST(RedisUrlTest, ErrorsDoNotEchoThePassword) {
  auto u = parse_redis_url("redis://u:sekrit@h:notaport");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message.find("sekrit"), std::string::npos);
}

}  // namespace
}  // namespace heartlock::detail
