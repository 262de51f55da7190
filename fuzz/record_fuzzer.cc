// The file backend's holder record (src/file/record.cc): whatever bytes a lock file holds --
// written by another version, torn by a crash, or planted -- parse_record() must classify
// without crashing, and a record it accepts must survive serialize() and parse_record() again.
#include <cstddef>
#include <cstdint>

#include "../src/file/record.h"
#include "fuzz_check.h"

namespace {

using heartlock::detail::ParsedRecord;
using heartlock::detail::Record;

bool same_fields(const Record& a, const Record& b) {
  return a.state == b.state && a.name == b.name && a.owner == b.owner && a.host == b.host &&
         a.boot_id == b.boot_id && a.pid == b.pid && a.pid_start == b.pid_start &&
         a.token == b.token && a.acquired_wall_ms == b.acquired_wall_ms &&
         a.acquired_at == b.acquired_at && a.renewed_at == b.renewed_at &&
         a.heartbeat_at == b.heartbeat_at && a.hold_until == b.hold_until && a.ttl == b.ttl &&
         a.stale_after == b.stale_after && a.command == b.command && a.slot == b.slot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = heartlock::fuzz::as_text(data, size);
  const ParsedRecord parsed = heartlock::detail::parse_record(bytes);
  if (bytes.empty()) {
    FUZZ_CHECK(parsed.status == ParsedRecord::Status::empty, "empty input is an empty record");
  }
  if (parsed.status == ParsedRecord::Status::corrupt) {
    FUZZ_CHECK(!parsed.why.empty(), "a corrupt record says why");
  }
  if (parsed.status != ParsedRecord::Status::ok) {
    return 0;
  }
  const std::string again = heartlock::detail::serialize(parsed.record);
  const ParsedRecord reparsed = heartlock::detail::parse_record(again);
  FUZZ_CHECK(reparsed.status == ParsedRecord::Status::ok, "a serialized record parses");
  FUZZ_CHECK(same_fields(parsed.record, reparsed.record), "serialize/parse keeps every field");
  FUZZ_CHECK(heartlock::detail::serialize(reparsed.record) == again, "serialize is stable");
  return 0;
}
