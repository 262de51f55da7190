#include "../../src/file/record.h"

#include <cstdio>

#include <gtest/gtest.h>
#include <zlib.h>

namespace heartlock::detail {
namespace {

using namespace std::chrono_literals;

Record sample() {
  Record r;
  r.state = Record::State::held;
  r.name = "jobs/nightly";
  r.owner = "web1:42:abcdef";
  r.host = "web1";
  r.boot_id = "b";
  r.pid = 42;
  r.pid_start = 1000;
  r.token = 17;
  r.acquired_wall_ms = 1700000000000;
  r.acquired_at = BootTime(1);
  r.renewed_at = BootTime(2);
  r.heartbeat_at = BootTime(3);
  r.hold_until = BootTime(4);
  r.ttl = 30s;
  r.stale_after = 5min;
  r.command = "sh -c 'echo a\nb' \\ end";
  r.slot = 1700000000;
  return r;
}

TEST(RecordTest, RoundTrips) {
  auto parsed = parse_record(serialize(sample()));
  ASSERT_EQ(parsed.status, ParsedRecord::Status::ok) << parsed.why;
  const Record& r = parsed.record;
  EXPECT_EQ(r.name, "jobs/nightly");
  EXPECT_EQ(r.token, 17u);
  EXPECT_EQ(r.pid_start, 1000u);
  EXPECT_EQ(r.heartbeat_at, BootTime(3));
  EXPECT_EQ(r.stale_after, 5min);
  EXPECT_EQ(r.command, "sh -c 'echo a\nb' \\ end");
  EXPECT_EQ(r.slot, 1700000000);
}

TEST(RecordTest, EmptyIsEmptyNotCorrupt) {
  EXPECT_EQ(parse_record("").status, ParsedRecord::Status::empty);
}

TEST(RecordTest, EveryTruncationIsCorrupt) {
  std::string bytes = serialize(sample());
  for (std::size_t n = 1; n < bytes.size(); ++n) {
    EXPECT_EQ(parse_record(bytes.substr(0, n)).status, ParsedRecord::Status::corrupt) << n;
  }
}

TEST(RecordTest, AnyFlippedBodyByteIsCorrupt) {
  std::string bytes = serialize(sample());
  auto body = bytes.find('\n') + 1;
  for (std::size_t i = body; i < bytes.size(); ++i) {
    std::string copy = bytes;
    copy[i] ^= 0x20;
    EXPECT_EQ(parse_record(copy).status, ParsedRecord::Status::corrupt) << i;
  }
}

TEST(RecordTest, TrailingBytesOfALongerOldRecordAreIgnored) {
  Record longer = sample();
  longer.command = std::string(500, 'x');
  std::string bytes = serialize(longer);
  std::string shorter = serialize(sample());
  bytes.replace(0, shorter.size(), shorter);
  auto parsed = parse_record(bytes);
  ASSERT_EQ(parsed.status, ParsedRecord::Status::ok) << parsed.why;
  EXPECT_EQ(parsed.record.command, sample().command);
}

TEST(RecordTest, GarbageAndHugeInputsAreCorrupt) {
  EXPECT_EQ(parse_record("hello\n").status, ParsedRecord::Status::corrupt);
  EXPECT_EQ(parse_record(std::string(10 << 20, 'A')).status, ParsedRecord::Status::corrupt);
  EXPECT_EQ(parse_record("heartlock-lock 1 99999999 00000000\n").status,
            ParsedRecord::Status::corrupt);
  EXPECT_EQ(parse_record("heartlock-lock 2 0 00000000\n").status, ParsedRecord::Status::corrupt);
  EXPECT_EQ(parse_record(std::string("\0\0\0\0", 4)).status, ParsedRecord::Status::corrupt);
}

TEST(RecordTest, RecordWithoutTokenIsCorrupt) {
  Record r = sample();
  std::string bytes = serialize(r);
  // Rebuild a valid checksum over a body that lacks the token line.
  std::string body = bytes.substr(bytes.find('\n') + 1);
  auto at = body.find("token ");
  body.erase(at, body.find('\n', at) - at + 1);
  char crc[16];
  std::snprintf(
      crc, sizeof crc, "%08lx",
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  auto parsed =
      parse_record("heartlock-lock 1 " + std::to_string(body.size()) + " " + crc + "\n" + body);
  EXPECT_EQ(parsed.status, ParsedRecord::Status::corrupt);
  EXPECT_EQ(parsed.why, "record lacks state or token");
}

// A record with `key`'s line replaced by "key value", under a valid checksum: what a writer who
// knows the format can plant.
std::string forged(std::string_view key, std::string_view value) {
  std::string bytes = serialize(sample());
  std::string body = bytes.substr(bytes.find('\n') + 1);
  std::string line = std::string(key) + " ";
  auto at = body.find(line);
  if (at == std::string::npos) {
    body += line + std::string(value) + "\n";
  } else {
    at += line.size();
    body.replace(at, body.find('\n', at) - at, value);
  }
  char crc[16];
  std::snprintf(
      crc, sizeof crc, "%08lx",
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  return "heartlock-lock 1 " + std::to_string(body.size()) + " " + crc + "\n" + body;
}

TEST(RecordTest, ChecksummedFieldsOutOfRangeAreCorrupt) {
  // The values of a crafted record that once read as "ttl -1ms" and overflowed (UBSan).
  const std::pair<const char*, const char*> bad[] = {
      {"ttl_ms", "9223372036854775807"},
      {"ttl_ms", "-1"},
      {"ttl_ms", "31622400001"},
      {"stale_after_ms", "9223372036854775807"},
      {"renewed_at_ns", "-9223372036854775808"},
      {"heartbeat_at_ns", "9223372036854775807"},
      {"acquired_at_ns", "-1"},
      {"hold_until_ns", "9223372036854775807"},
      {"token", "-1"},
      {"token", "9223372036854775807"},
      {"pid", "-5"},
      {"pid", "4294967297"},
      {"pid_start", "-1"},
      {"acquired_wall_ms", "-9223372036854775808"},
      {"slot", "9223372036854775807"},
      {"ttl_ms", "12abc"},
      {"ttl_ms", "99999999999999999999999"},
  };
  for (auto [key, value] : bad) {
    auto parsed = parse_record(forged(key, value));
    EXPECT_EQ(parsed.status, ParsedRecord::Status::corrupt) << key << " " << value;
    EXPECT_NE(parsed.why.find(key), std::string::npos) << parsed.why;
  }
  // The bounds themselves are fine, and so is a field a newer version may add.
  EXPECT_EQ(parse_record(forged("ttl_ms", "31622400000")).status, ParsedRecord::Status::ok);
  EXPECT_EQ(parse_record(forged("token", "0")).status, ParsedRecord::Status::ok);
  EXPECT_EQ(parse_record(forged("future_ms", "-7")).status, ParsedRecord::Status::ok);
}

}  // namespace
}  // namespace heartlock::detail
