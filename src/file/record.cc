#include "record.h"

#include <charconv>
#include <cstring>
#include <limits>

#include <zlib.h>

#include "heartlock/options.h"

namespace heartlock::detail {
namespace {

constexpr std::string_view kMagic = "heartlock-lock";
// Written with a fixed width so serialize() can fill it in after the body, in the same buffer:
// "heartlock-lock 1 000311 1a2b3c4d\n". The parser accepts any width.
constexpr std::size_t kHeaderSize = kMagic.size() + 3 + 6 + 1 + 8 + 1;

// Writes a record's text at a pointer. REQUIRES: room for what is written (RecordBytes sizes its
// buffer by size_bound()).
class Writer {
 public:
  explicit Writer(char* out) : p_(out) {}
  char* pos() const { return p_; }

  void field(std::string_view key, std::string_view value) {
    start(key);
    escaped(value);
    *p_++ = '\n';
  }
  void field(std::string_view key, std::int64_t value) {
    start(key);
    p_ = std::to_chars(p_, p_ + 20, value).ptr;
    *p_++ = '\n';
  }

 private:
  void start(std::string_view key) {
    std::memcpy(p_, key.data(), key.size());
    p_ += key.size();
    *p_++ = ' ';
  }
  // Escapes backslash, newline and carriage return so each value stays on one line.
  void escaped(std::string_view value) {
    for (char c : value) {
      if (c == '\\' || c == '\n' || c == '\r') {
        *p_++ = '\\';
        c = c == '\n' ? 'n' : c == '\r' ? 'r' : c;
      }
      *p_++ = c;
    }
  }

  char* p_;
};

std::uint32_t checksum(std::string_view body) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
}

template <class T>
bool to_number(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Splits off the text up to `sep` (or all of it).
std::string_view next_token(std::string_view& rest, char sep) {
  auto pos = rest.find(sep);
  std::string_view token = rest.substr(0, pos);
  rest.remove_prefix(pos == std::string_view::npos ? rest.size() : pos + 1);
  return token;
}

// Every field the parser knows, in the order serialize() writes them, and for the numeric ones
// the values a sane writer can produce.
enum class Key {
  state,
  name,
  owner,
  host,
  boot_id,
  pid,
  pid_start,
  token,
  acquired_wall_ms,
  acquired_at_ns,
  renewed_at_ns,
  heartbeat_at_ns,
  hold_until_ns,
  ttl_ms,
  stale_after_ms,
  slot,
  command,
  unknown
};
struct FieldSpec {
  std::string_view key;
  Key id;
  bool numeric;
  std::int64_t min;
  std::int64_t max;
};
constexpr std::int64_t kMaxBootNs = std::int64_t{1} << 62;  // 146 years of uptime
constexpr std::int64_t kMaxWallMs = 253402300799999;        // 9999-12-31
constexpr std::int64_t kMaxMs = kMaxDuration.count();
constexpr FieldSpec kFieldSpecs[] = {
    {"state", Key::state, false, 0, 0},
    {"name", Key::name, false, 0, 0},
    {"owner", Key::owner, false, 0, 0},
    {"host", Key::host, false, 0, 0},
    {"boot_id", Key::boot_id, false, 0, 0},
    {"pid", Key::pid, true, 0, std::numeric_limits<std::int32_t>::max()},
    {"pid_start", Key::pid_start, true, 0, std::numeric_limits<std::int64_t>::max()},
    // Tokens leave room to count on without overflowing.
    {"token", Key::token, true, 0, std::int64_t{1} << 62},
    {"acquired_wall_ms", Key::acquired_wall_ms, true, 0, kMaxWallMs},
    {"acquired_at_ns", Key::acquired_at_ns, true, 0, kMaxBootNs},
    {"renewed_at_ns", Key::renewed_at_ns, true, 0, kMaxBootNs},
    {"heartbeat_at_ns", Key::heartbeat_at_ns, true, 0, kMaxBootNs},
    {"hold_until_ns", Key::hold_until_ns, true, 0, kMaxBootNs},
    {"ttl_ms", Key::ttl_ms, true, 0, kMaxMs},
    {"stale_after_ms", Key::stale_after_ms, true, 0, kMaxMs},
    {"slot", Key::slot, true, -kMaxWallMs / 1000, kMaxWallMs / 1000},
    {"command", Key::command, false, 0, 0},
};
constexpr std::size_t kSpecCount = std::size(kFieldSpecs);

// The spec of `key`, or nullptr for a key of a newer version. `hint` is where the previous key
// was found: the next line's key is usually the next spec, so that one is compared first.
const FieldSpec* find_spec(std::string_view key, std::size_t& hint) {
  for (std::size_t n = 0; n < kSpecCount; ++n) {
    const std::size_t i = (hint + n) % kSpecCount;
    if (kFieldSpecs[i].key == key) {
      hint = i + 1;
      return &kFieldSpecs[i];
    }
  }
  return nullptr;
}

// REQUIRES: `id` names a numeric field and num is within its range.
void store_numeric(Record& r, Key id, std::int64_t num) {
  switch (id) {
    case Key::pid:
      r.pid = num;
      break;
    case Key::pid_start:
      r.pid_start = static_cast<std::uint64_t>(num);
      break;
    case Key::token:
      r.token = static_cast<std::uint64_t>(num);
      break;
    case Key::acquired_wall_ms:
      r.acquired_wall_ms = num;
      break;
    case Key::acquired_at_ns:
      r.acquired_at = BootTime(num);
      break;
    case Key::renewed_at_ns:
      r.renewed_at = BootTime(num);
      break;
    case Key::heartbeat_at_ns:
      r.heartbeat_at = BootTime(num);
      break;
    case Key::hold_until_ns:
      r.hold_until = BootTime(num);
      break;
    case Key::ttl_ms:
      r.ttl = std::chrono::milliseconds(num);
      break;
    case Key::stale_after_ms:
      r.stale_after = std::chrono::milliseconds(num);
      break;
    case Key::slot:
      r.slot = num;
      break;
    default:
      break;
  }
}

// The member a text field is kept in. REQUIRES: `id` names a text field other than state.
std::string& text_member(Record& r, Key id) {
  switch (id) {
    case Key::name:
      return r.name;
    case Key::owner:
      return r.owner;
    case Key::host:
      return r.host;
    case Key::boot_id:
      return r.boot_id;
    default:
      return r.command;
  }
}

ParsedRecord corrupt(std::string why) {
  ParsedRecord p;
  p.status = ParsedRecord::Status::corrupt;
  p.why = std::move(why);
  return p;
}

// Room for any field line but the text values: the longest key, a space, 20 digits, a newline.
constexpr std::size_t kFieldRoom = 16 + 1 + 20 + 1;
constexpr std::size_t kFields = 17;

// At least the size of r's record: header, every field line, text values escaped at worst.
std::size_t size_bound(const Record& r) {
  return kHeaderSize + kFields * kFieldRoom +
         2 * (r.name.size() + r.owner.size() + r.host.size() + r.boot_id.size() + r.command.size());
}

// The header, in place: magic, version, 6-digit length, 8-digit hex checksum.
void write_header(char* h, std::size_t body_size, std::uint32_t crc) {
  std::memcpy(h, kMagic.data(), kMagic.size());
  h += kMagic.size();
  *h++ = ' ';
  *h++ = static_cast<char>('0' + kRecordVersion);
  *h++ = ' ';
  for (int i = 5; i >= 0; --i, body_size /= 10) {
    h[i] = static_cast<char>('0' + body_size % 10);
  }
  h += 6;
  *h++ = ' ';
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i, crc >>= 4) {
    h[i] = kHex[crc & 15];
  }
  h[8] = '\n';
}

// Sets `out` to `value` with its escapes undone.
void assign_text(std::string& out, std::string_view value) {
  if (value.find('\\') == std::string_view::npos) {
    out.assign(value);
    return;
  }
  out.clear();
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      char n = value[++i];
      out.push_back(n == 'n' ? '\n' : n == 'r' ? '\r' : n);
    } else {
      out.push_back(value[i]);
    }
  }
}

// Reads the body's "key value" lines into `r`: nullopt, or why the record is corrupt. Unknown
// keys come from a newer version and are ignored; a later line for a key wins.
std::optional<std::string> parse_fields(std::string_view body, Record& r) {
  bool have_state = false;
  bool have_token = false;
  std::size_t hint = 0;
  while (!body.empty()) {
    std::string_view line = next_token(body, '\n');
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) {
      return "record line without a value";
    }
    std::string_view key = line.substr(0, sp);
    std::string_view value = line.substr(sp + 1);
    const FieldSpec* f = find_spec(key, hint);
    if (f == nullptr) {
      continue;
    }
    if (f->id == Key::state) {
      have_state = value == "held" || value == "released";
      if (!have_state) {
        return "bad value for record field " + std::string(key);
      }
      r.state = value == "held" ? Record::State::held : Record::State::released;
    } else if (!f->numeric) {
      assign_text(text_member(r, f->id), value);
    } else {
      // A checksum proves the record is whole, not that its writer was honest or sane: a value
      // outside its range would overflow the arithmetic done on it (ttl_ms INT64_MAX once read
      // as "ttl -1ms"), so it makes the record corrupt.
      std::int64_t num = 0;
      if (!to_number(value, num)) {
        return "bad value for record field " + std::string(key);
      }
      if (num < f->min || num > f->max) {
        return "record field " + std::string(key) + " out of range: " + std::to_string(num);
      }
      store_numeric(r, f->id, num);
      have_token = have_token || f->id == Key::token;
    }
  }
  if (!have_state || !have_token) {
    return "record lacks state or token";
  }
  return std::nullopt;
}

}  // namespace

RecordBytes::RecordBytes(const Record& r) {
  char* buf = inline_.data();
  if (const std::size_t bound = size_bound(r); bound > inline_.size()) {
    heap_ = std::make_unique<char[]>(bound);
    buf = heap_.get();
  }
  Writer w(buf + kHeaderSize);
  w.field("state", r.state == Record::State::held ? "held" : "released");
  w.field("name", r.name);
  w.field("owner", r.owner);
  w.field("host", r.host);
  w.field("boot_id", r.boot_id);
  w.field("pid", r.pid);
  w.field("pid_start", static_cast<std::int64_t>(r.pid_start));
  w.field("token", static_cast<std::int64_t>(r.token));
  w.field("acquired_wall_ms", r.acquired_wall_ms);
  w.field("acquired_at_ns", r.acquired_at.count());
  w.field("renewed_at_ns", r.renewed_at.count());
  w.field("heartbeat_at_ns", r.heartbeat_at.count());
  w.field("hold_until_ns", r.hold_until.count());
  w.field("ttl_ms", r.ttl.count());
  w.field("stale_after_ms", r.stale_after.count());
  if (r.slot) {
    w.field("slot", *r.slot);
  }
  w.field("command", r.command);
  const std::size_t body_size = static_cast<std::size_t>(w.pos() - buf) - kHeaderSize;
  write_header(buf, body_size, checksum(std::string_view(buf + kHeaderSize, body_size)));
  data_ = buf;
  size_ = kHeaderSize + body_size;
}

std::string serialize(const Record& r) { return std::string(RecordBytes(r).view()); }

ParsedRecord parse_record(std::string_view bytes) {
  if (bytes.empty()) {
    return ParsedRecord{};
  }
  auto eol = bytes.find('\n');
  if (eol == std::string_view::npos || eol > 64) {
    return corrupt("no record header");
  }
  // "<magic> <version> <length> <crc>"
  std::string_view header = bytes.substr(0, eol);
  std::string_view magic = next_token(header, ' ');
  std::string_view version_text = next_token(header, ' ');
  std::string_view length_text = next_token(header, ' ');
  std::string_view crc_text = next_token(header, ' ');
  int version = 0;
  std::size_t length = 0;
  std::uint32_t crc = 0;
  if (magic != kMagic || !header.empty() || !to_number(version_text, version) ||
      !to_number(length_text, length) || !to_number(crc_text, crc, 16)) {
    return corrupt("malformed record header");
  }
  if (version != kRecordVersion) {
    return corrupt("record version " + std::to_string(version) + " is not supported");
  }
  if (length > kMaxRecordBody) {
    return corrupt("record body of " + std::to_string(length) + " bytes is too large");
  }
  if (bytes.size() - eol - 1 < length) {
    return corrupt("record is truncated");
  }
  std::string_view body = bytes.substr(eol + 1, length);
  if (checksum(body) != crc) {
    return corrupt("record checksum mismatch");
  }
  ParsedRecord out;
  if (auto why = parse_fields(body, out.record)) {
    return corrupt(std::move(*why));
  }
  out.status = ParsedRecord::Status::ok;
  return out;
}

}  // namespace heartlock::detail
