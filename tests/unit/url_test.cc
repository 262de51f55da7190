// Backend URLs: the shared pieces (src/core/url_parts.h), Store::open's choice of backend, and the
// rules every scheme's parser follows: secrets never in messages, every parameter once, one
// percent-decoding, password files.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "heartlock/store.h"

#include "../../src/core/url_parts.h"
#include "../support/test_support.h"
#ifdef HEARTLOCK_WITH_ETCD
#include "../../src/etcd/etcd_url.h"
#endif
#ifdef HEARTLOCK_WITH_POSTGRES
#include "../../src/postgres/pg_url.h"
#endif
#ifdef HEARTLOCK_WITH_REDIS
#include "../../src/redis/redis_url.h"
#endif

namespace heartlock::detail {
namespace {

using testing::HasErrc;

// The message of a failed Result, for checks on what it shows.
template <class T>
std::string message_of(const Result<T>& r) {
  return r ? std::string("(succeeded)") : r.error().message;
}

// Asserts that no piece of a secret shows in `text`.
void expect_hidden(const std::string& text, std::initializer_list<const char*> pieces) {
  for (const char* piece : pieces) {
    EXPECT_EQ(text.find(piece), std::string::npos) << "'" << piece << "' shown in: " << text;
  }
}

// A raw '@' in a query value is not the end of a user part (a review found these leaking).
TEST(UrlPartsTest, RedactsQueryPasswordsHoldingAnAt) {
  expect_hidden(redact_url("postgres://u@h/db?password=p@S3CRET"), {"p@", "S3CRET"});
  expect_hidden(redact_url("postgres://h:99999/db?password=p@S3CRET"), {"p@", "S3CRET"});
  expect_hidden(redact_url("redis-sentinel://h/m?sentinel_password=x@S3CRET"), {"S3CRET"});
  EXPECT_EQ(redact_url("postgres://h/db?password=p@ss&table=t"),
            "postgres://h/db?password=***&table=t");
}

TEST(UrlPartsTest, RedactsTheUserPartPassword) {
  EXPECT_EQ(redact_url("redis://alice:S3CRET@h:6379/1"), "redis://alice:***@h:6379/1");
  EXPECT_EQ(redact_url("Redis://:S3CRET@127.0.0.1:6502"), "Redis://:***@127.0.0.1:6502");
  EXPECT_EQ(redact_url("redis://alice@h"), "redis://alice@h");
  EXPECT_EQ(redact_url("redis://h:6379/0?prefix=x"), "redis://h:6379/0?prefix=x");
  EXPECT_EQ(redact_url("/var/lock/x"), "/var/lock/x");
}

TEST(UrlPartsTest, RedactsPasswordsThatAreNotEncoded) {
  // '/', '?', '@' and a bad escape: each would end or break the host part if taken literally.
  expect_hidden(redact_url("redis://:S3/CRET@host"), {"S3", "CRET"});
  expect_hidden(redact_url("redis://u:S3?CRET@host/0"), {"S3", "CRET"});
  expect_hidden(redact_url("redis://u:S3@CRET@host"), {"S3", "CRET"});
  expect_hidden(redact_url("postgres://u:S3%zzCRET@host/db"), {"S3", "CRET"});
  expect_hidden(redact_url("redis:/:S3CRET@host"), {"S3CRET"});
  EXPECT_EQ(redact_url("redis://:S3/CRET@host"), "redis://:***@host");
}

TEST(UrlPartsTest, RedactsSecretQueryParameters) {
  EXPECT_EQ(redact_url("postgres://h/db?password=S3CRET&sslmode=require"),
            "postgres://h/db?password=***&sslmode=require");
  EXPECT_EQ(redact_url("redis-sentinel://s/m?sentinel_password=S3CRET"),
            "redis-sentinel://s/m?sentinel_password=***");
  EXPECT_EQ(redact_url("postgres://h/db?sslpassword=S3CRET"), "postgres://h/db?sslpassword=***");
  EXPECT_EQ(redact_url("redis://h?password_file=/run/pw"), "redis://h?password_file=/run/pw");
}

TEST(UrlPartsTest, ScrubsSecretsFromLibraryText) {
  EXPECT_EQ(scrub_secrets("bad token \"S3%zzCRET\"", "postgres://u:S3%zzCRET@h/db"),
            "bad token \"***\"");
  EXPECT_EQ(scrub_secrets("x p@ss y p%40ss", "postgres://u:p%40ss@h/db"), "x *** y ***");
  EXPECT_EQ(scrub_secrets("no secret here", "postgres://u@h/db"), "no secret here");
}

TEST(UrlPartsTest, UrlSchemeFollowsRfc3986) {
  EXPECT_EQ(url_scheme("redis:/127.0.0.1:6501"), "redis");
  EXPECT_EQ(url_scheme("Redis-Sentinel://h"), "Redis-Sentinel");
  EXPECT_EQ(url_scheme("svn+ssh:x"), "svn+ssh");
  EXPECT_EQ(url_scheme("/var/lock/x"), "");
  EXPECT_EQ(url_scheme("./redis:/x"), "");
  EXPECT_EQ(url_scheme("dir"), "");
  EXPECT_EQ(url_scheme("1abc:x"), "");
  EXPECT_EQ(url_scheme("a b:x"), "");
}

TEST(UrlPartsTest, QueryParamsAreDecodedOnce) {
  auto params = query_params("table=my%5Ftable&prefix=a%26b&flag");
  ASSERT_TRUE(params) << params.error().message;
  ASSERT_EQ(params->size(), 3u);
  EXPECT_EQ((*params)[0].name, "table");
  EXPECT_EQ((*params)[0].value, "my_table");
  EXPECT_EQ((*params)[0].raw, "table=my%5Ftable");
  EXPECT_EQ((*params)[1].value, "a&b");
  EXPECT_EQ((*params)[2].name, "flag");
  EXPECT_EQ((*params)[2].value, "");
}

TEST(UrlPartsTest, QueryParamsRejectARepeatedParameter) {
  auto params = query_params("prefix=a&timeout=1s&prefix=b");
  ASSERT_THAT(params, HasErrc(Errc::invalid_argument));
  EXPECT_NE(params.error().message.find("'prefix' given twice"), std::string::npos)
      << params.error().message;
}

TEST(UrlPartsTest, QueryParamsRejectABadEscapeWithoutShowingTheValue) {
  auto params = query_params("password=S3%zzCRET");
  ASSERT_THAT(params, HasErrc(Errc::invalid_argument));
  EXPECT_NE(params.error().message.find("'password'"), std::string::npos);
  expect_hidden(params.error().message, {"S3", "CRET"});
}

TEST(UrlPartsTest, SplitUrlRejectsAnAtSignInThePath) {
  auto parts = split_url("redis://:S3/CRET@host");
  ASSERT_THAT(parts, HasErrc(Errc::invalid_argument));
  expect_hidden(parts.error().message, {"S3", "CRET"});
  EXPECT_NE(parts.error().message.find("%2F"), std::string::npos) << parts.error().message;
}

TEST(UrlPartsTest, SplitUrlTakesTheLastAtSignOfTheHostPart) {
  auto parts = split_url("redis://u:p@ss@h1:1,h2/3?prefix=a@b");
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ(parts->user, "u");
  EXPECT_EQ(parts->password, "p@ss");
  EXPECT_EQ(parts->hosts, "h1:1,h2");
  EXPECT_EQ(parts->path, "3");
  EXPECT_EQ(parts->query, "prefix=a@b");
}

class PasswordFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& content, mode_t mode) {
    const std::string path = dir_.file("pw");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(PasswordFileTest, ReadsTheFileStrippingOneNewline) {
  auto pw = read_password_file(write("S3CRET\n\n", 0600));
  ASSERT_TRUE(pw) << pw.error().message;
  EXPECT_EQ(*pw, "S3CRET\n");
}

TEST_F(PasswordFileTest, RefusesAFileOthersCanRead) {
  const std::string path = write("S3CRET\n", 0640);
  auto pw = read_password_file(path);
  ASSERT_THAT(pw, HasErrc(Errc::permission_denied));
  EXPECT_NE(pw.error().message.find(path), std::string::npos) << pw.error().message;
  EXPECT_NE(pw.error().message.find("0640"), std::string::npos) << pw.error().message;
  expect_hidden(pw.error().message, {"S3CRET"});
}

TEST_F(PasswordFileTest, MissingOrEmptyFilesAreNamed) {
  const std::string missing = dir_.file("missing");
  auto pw = read_password_file(missing);
  ASSERT_THAT(pw, HasErrc(Errc::invalid_argument));
  EXPECT_NE(pw.error().message.find(missing), std::string::npos);
  EXPECT_THAT(read_password_file(write("\n", 0600)), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(read_password_file(dir_.path()), HasErrc(Errc::invalid_argument));
}

// Store::open: what is a URL, what is a path.

TEST(StoreOpenTest, AOneSlashTypoIsAUrlErrorNotADirectory) {
  auto store = Store::open("redis:/127.0.0.1:6501");
  ASSERT_THAT(store, HasErrc(Errc::invalid_argument));
  EXPECT_NE(store.error().message.find("did you mean redis://"), std::string::npos)
      << store.error().message;
}

TEST(StoreOpenTest, AnythingLikeASchemeIsAUrl) {
  for (const char* bad : {"redis:127.0.0.1", "postgres:/h/db", "etcd:h", "nosuch:/x", "C:/x"}) {
    EXPECT_THAT(Store::open(bad), HasErrc(Errc::invalid_argument)) << bad;
  }
  EXPECT_THAT(Store::open("nosuch://h"), HasErrc(Errc::invalid_argument));
}

TEST(StoreOpenTest, PathsAndFileUrlsStillOpen) {
  testing::TempDir dir;
  for (const std::string& url :
       {dir.path() + "/a", "file://" + dir.path() + "/b", "file://localhost" + dir.path() + "/c",
        "file:" + dir.path() + "/d", "FILE://" + dir.path() + "/e"}) {
    auto store = Store::open(url);
    EXPECT_TRUE(store) << url << ": " << message_of(store);
  }
  EXPECT_THAT(Store::open("file://host/x"), HasErrc(Errc::invalid_argument));
  EXPECT_THAT(Store::open(dir.path() + "/a?x=1"), HasErrc(Errc::invalid_argument));
}

TEST(StoreOpenTest, UnknownSchemeErrorsHideThePassword) {
  auto store = Store::open("nosuch://:S3CRET@127.0.0.1:6502");
  ASSERT_THAT(store, HasErrc(Errc::invalid_argument));
  expect_hidden(store.error().message, {"S3CRET"});
  auto typo = Store::open("redis:/:S3CRET@127.0.0.1:6502");
  ASSERT_THAT(typo, HasErrc(Errc::invalid_argument));
  expect_hidden(typo.error().message, {"S3CRET"});
}

// Store::open writes these messages from its scheme table (src/open/schemes.cc): pinned here.
TEST(StoreOpenTest, UnknownSchemesListEveryAcceptedOne) {
  auto typo = Store::open("Nosuch:/x");
  ASSERT_THAT(typo, HasErrc(Errc::invalid_argument));
  EXPECT_EQ(typo.error().message,
            "unknown backend URL 'Nosuch:/x' (expected file:, redis://, rediss://, "
            "redis-sentinel://, postgres://, postgresql://, etcd://, etcds:// or a path; a "
            "directory whose name has a ':' before any '/' is written ./NAME)");
  auto unknown = Store::open("nosuch://h");
  ASSERT_THAT(unknown, HasErrc(Errc::invalid_argument));
  EXPECT_EQ(unknown.error().message,
            "unknown backend scheme 'nosuch' in nosuch://h (expected file://, redis://, "
            "rediss://, redis-sentinel://, postgres://, postgresql://, etcd://, etcds://)");
}

TEST(StoreOpenTest, EverySpellingOfABackendIsKnownBuiltInOrNot) {
  for (const std::string scheme :
       {"redis", "rediss", "redis-sentinel", "postgres", "postgresql", "etcd", "etcds"}) {
    auto store = Store::open(scheme + ":/h");
    ASSERT_THAT(store, HasErrc(Errc::invalid_argument)) << scheme;
    EXPECT_EQ(store.error().message,
              "unknown backend URL '" + scheme + ":/h' (did you mean " + scheme + "://...?)");
  }
}

#if !defined(HEARTLOCK_WITH_REDIS) || !defined(HEARTLOCK_WITH_POSTGRES) || \
    !defined(HEARTLOCK_WITH_ETCD)
TEST(StoreOpenTest, ABackendLeftOutOfTheBuildIsUnsupported) {
  std::vector<std::string> left_out;
#ifndef HEARTLOCK_WITH_REDIS
  left_out.insert(left_out.end(), {"redis", "rediss", "redis-sentinel"});
#endif
#ifndef HEARTLOCK_WITH_POSTGRES
  left_out.insert(left_out.end(), {"postgres", "postgresql"});
#endif
#ifndef HEARTLOCK_WITH_ETCD
  left_out.insert(left_out.end(), {"etcd", "etcds"});
#endif
  for (const std::string& scheme : left_out) {
    auto store = Store::open(scheme + "://:S3CRET@h");
    ASSERT_THAT(store, HasErrc(Errc::unsupported)) << scheme;
    EXPECT_EQ(store.error().message, "the " + scheme + ":// backend is not in this build");
  }
}
#endif

#ifdef HEARTLOCK_WITH_REDIS
TEST(StoreOpenTest, SchemesAreCaseInsensitive) {
  // Parsed as redis:// (then refused for the unknown option, before any connection).
  auto store = Store::open("Redis://:S3CRET@127.0.0.1:6502?bogus=1");
  ASSERT_THAT(store, HasErrc(Errc::invalid_argument));
  EXPECT_NE(store.error().message.find("unknown redis URL option 'bogus'"), std::string::npos)
      << store.error().message;
  expect_hidden(store.error().message, {"S3CRET"});
}

TEST(RedisUrlRulesTest, APasswordWithASlashIsAClearErrorWithoutThePassword) {
  auto u = parse_redis_url("redis://:S3/CRET@host");
  ASSERT_THAT(u, HasErrc(Errc::invalid_argument));
  expect_hidden(u.error().message, {"S3", "CRET"});
  auto q = parse_redis_url("redis://:S3?CRET@host");
  ASSERT_THAT(q, HasErrc(Errc::invalid_argument));
  expect_hidden(q.error().message, {"S3", "CRET"});
}

TEST(RedisUrlRulesTest, ARepeatedParameterIsRejected) {
  auto u = parse_redis_url("redis://h?prefix=a&prefix=b");
  ASSERT_THAT(u, HasErrc(Errc::invalid_argument));
  EXPECT_NE(u.error().message.find("'prefix'"), std::string::npos) << u.error().message;
}

TEST(RedisUrlRulesTest, BadEscapesInTheQueryHideSecrets) {
  auto u = parse_redis_url("redis-sentinel://s/m?sentinel_password=S3%zzCRET");
  ASSERT_THAT(u, HasErrc(Errc::invalid_argument));
  expect_hidden(u.error().message, {"S3", "CRET"});
}

TEST_F(PasswordFileTest, RedisTakesThePasswordFromAFile) {
  auto u = parse_redis_url("redis://bob@h?password_file=" + write("S3CRET\n", 0600));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->password, "S3CRET");
  expect_hidden(u->redacted(), {"S3CRET"});
  // The file is named, so that HEARTLOCK_BACKEND (the redacted URL) opens the same store.
  EXPECT_NE(u->redacted().find("password_file="), std::string::npos) << u->redacted();
  auto twice = parse_redis_url("redis://:other@h?password_file=" + dir_.file("pw"));
  EXPECT_THAT(twice, HasErrc(Errc::invalid_argument));
  auto open = parse_redis_url("redis://h?password_file=" + write("S3CRET\n", 0644));
  ASSERT_THAT(open, HasErrc(Errc::permission_denied));
  expect_hidden(open.error().message, {"S3CRET"});
}
#endif

#ifdef HEARTLOCK_WITH_POSTGRES
TEST(PgUrlRulesTest, ABadEscapeInThePasswordIsNotEchoed) {
  auto u = parse_pg_url("postgres://u:S3%zzCRET@host/db");
  ASSERT_THAT(u, HasErrc(Errc::invalid_argument));
  expect_hidden(u.error().message, {"S3", "CRET"});
}

TEST(PgUrlRulesTest, LibpqMessagesAreScrubbed) {
  // libpq refuses a NUL byte in a value, repeating the value.
  auto u = parse_pg_url("postgres://u:S3%00CRET@host/db");
  ASSERT_THAT(u, HasErrc(Errc::invalid_argument));
  expect_hidden(u.error().message, {"S3", "CRET"});
}

TEST(PgUrlRulesTest, TheTableIsPercentDecoded) {
  auto u = parse_pg_url("postgres://u@host/db?table=jobs.my%5Fleases");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->schema, "jobs");
  EXPECT_EQ(u->table, "my_leases");
  EXPECT_THAT(parse_pg_url("postgres://u@host/db?table=%zz"), HasErrc(Errc::invalid_argument));
}

TEST(PgUrlRulesTest, ARepeatedParameterIsRejected) {
  for (const char* bad : {"postgres://h/db?table=a&table=b",
                          "postgres://h/db?sslmode=disable"
                          "&sslmode=require"}) {
    auto u = parse_pg_url(bad);
    EXPECT_THAT(u, HasErrc(Errc::invalid_argument)) << bad;
    EXPECT_NE(message_of(u).find("given twice"), std::string::npos) << message_of(u);
  }
}

TEST(PgUrlRulesTest, AnAtSignInThePasswordMeansWhatItMeansElsewhere) {
  auto u = parse_pg_url("postgres://u:p@ss@host/db");
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->conninfo, "postgres://u:p%40ss@host/db");
  expect_hidden(u->redacted, {"p@ss", "p%40ss"});
}

TEST_F(PasswordFileTest, PostgresTakesThePasswordFromAFile) {
  auto u = parse_pg_url("postgres://u@host/db?password_file=" + write("S3 CRET\n", 0600));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->conninfo, "postgres://u@host/db?password=S3%20CRET");
  expect_hidden(u->redacted, {"S3"});
  EXPECT_THAT(parse_pg_url("postgres://u@host/db?password=x&password_file=" + dir_.file("pw")),
              HasErrc(Errc::invalid_argument));
}
#endif

#ifdef HEARTLOCK_WITH_ETCD
TEST(EtcdUrlRulesTest, MalformedUserPartsAreNotEchoed) {
  for (const char* bad : {"etcd://u:S3%zzCRET@h", "etcd://u:S3/CRET@h", "etcd://u:S3?CRET@h"}) {
    auto u = parse_etcd_url(bad);
    ASSERT_THAT(u, HasErrc(Errc::invalid_argument)) << bad;
    expect_hidden(u.error().message, {"S3", "CRET"});
  }
}

TEST(EtcdUrlRulesTest, ARepeatedParameterIsRejected) {
  EXPECT_THAT(parse_etcd_url("etcd://h?timeout=1s&timeout=2s"), HasErrc(Errc::invalid_argument));
}

TEST_F(PasswordFileTest, EtcdTakesThePasswordFromAFile) {
  auto u = parse_etcd_url("etcd://root@h?password_file=" + write("S3CRET", 0400));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->password, "S3CRET");
  EXPECT_EQ(u->endpoints, std::vector<std::string>{"h:2379"});
}
#endif

}  // namespace
}  // namespace heartlock::detail
