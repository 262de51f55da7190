// The holder record kept inside a lock file.
//
// Layout: a header line "heartlock-lock 1 <body length> <crc32 hex>\n", then the body: one
// "key value" line per field, values escaped so that they hold no newline. The checksum lets a
// reader detect a record it read while the holder was rewriting it in place (a torn read); such a
// record is read again, and if it stays unreadable the lock counts as held, never as free.
// Bytes after the body are ignored (a shorter record may be written over a longer one).
#ifndef HEARTLOCK_FILE_RECORD_H_
#define HEARTLOCK_FILE_RECORD_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../core/clock.h"

namespace heartlock::detail {

inline constexpr int kRecordVersion = 1;
// A record larger than this is corrupt; keeps a planted 10 MB file from being read whole.
inline constexpr std::size_t kMaxRecordBody = 64 * 1024;

struct Record {
  enum class State { held, released };
  State state = State::held;
  std::string name;
  std::string owner;
  std::string host;
  std::string boot_id;
  std::int64_t pid = 0;
  std::uint64_t pid_start = 0;  // clock ticks since boot, from /proc/<pid>/stat
  std::uint64_t token = 0;
  std::int64_t acquired_wall_ms = 0;  // for display
  BootTime acquired_at{};
  BootTime renewed_at{};
  BootTime heartbeat_at{};
  BootTime hold_until{};  // released, but blocked until then (min_hold)
  std::chrono::milliseconds ttl{0};
  std::chrono::milliseconds stale_after{0};
  std::string command;
  std::optional<std::int64_t> slot;  // seconds since the epoch, UTC
};

// The serialised bytes of a record, built in place: in an inline buffer when they fit (a typical
// record is ~350 bytes), on the heap only when a value (a long command line) makes them larger.
// Thread-safety: none needed (a value). Not copyable or movable: view() points into the object.
class RecordBytes {
 public:
  explicit RecordBytes(const Record& record);
  RecordBytes(const RecordBytes&) = delete;
  RecordBytes& operator=(const RecordBytes&) = delete;

  std::string_view view() const noexcept { return {data_, size_}; }

 private:
  std::array<char, 1024> inline_;
  std::unique_ptr<char[]> heap_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// RecordBytes(record) as a string.
std::string serialize(const Record& record);

struct ParsedRecord {
  enum class Status { ok, empty, corrupt };
  Status status = Status::empty;
  Record record;
  std::string why;             // for corrupt
  std::size_t bytes_read = 0;  // the file holds at least this many bytes
};

// Never throws; anything that is not a whole, checksummed record is corrupt.
ParsedRecord parse_record(std::string_view bytes);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_FILE_RECORD_H_
