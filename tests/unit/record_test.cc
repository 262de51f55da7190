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

}  // namespace
}  // namespace heartlock::detail
