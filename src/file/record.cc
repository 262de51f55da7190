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

// Escapes backslash, newline and carriage return so each value stays on one line.
void append_escaped(std::string& out, std::string_view value) {
  while (!value.empty()) {
    // A plain scan: find_first_of with a set calls memchr once per character.
    std::size_t pos = 0;
    while (pos < value.size() && value[pos] != '\\' && value[pos] != '\n' && value[pos] != '\r') {
      ++pos;
    }
    out.append(value.substr(0, pos));
    if (pos == value.size()) {
      return;
    }
    out += value[pos] == '\\' ? "\\\\" : value[pos] == '\n' ? "\\n" : "\\r";
    value.remove_prefix(pos + 1);
  }
}

std::string unescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      char n = value[++i];
      out.push_back(n == 'n' ? '\n' : n == 'r' ? '\r' : n);
    } else {
      out.push_back(value[i]);
    }
  }
  return out;
}

void field(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out.push_back(' ');
  append_escaped(out, value);
  out.push_back('\n');
}

void field(std::string& out, std::string_view key, std::int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out += key;
  out.push_back(' ');
  out.append(buf, end);
  out.push_back('\n');
}

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

// The numeric fields and the values a sane writer can produce.
struct NumericField {
  std::string_view key;
  std::int64_t min;
  std::int64_t max;
};
constexpr std::int64_t kMaxBootNs = std::int64_t{1} << 62;  // 146 years of uptime
constexpr std::int64_t kMaxWallMs = 253402300799999;        // 9999-12-31
constexpr std::int64_t kMaxMs = kMaxDuration.count();
constexpr NumericField kNumericFields[] = {
    {"pid", 0, std::numeric_limits<std::int32_t>::max()},
    {"pid_start", 0, std::numeric_limits<std::int64_t>::max()},
    // Tokens leave room to count on without overflowing.
    {"token", 0, std::int64_t{1} << 62},
    {"acquired_wall_ms", 0, kMaxWallMs},
    {"acquired_at_ns", 0, kMaxBootNs},
    {"renewed_at_ns", 0, kMaxBootNs},
    {"heartbeat_at_ns", 0, kMaxBootNs},
    {"hold_until_ns", 0, kMaxBootNs},
    {"ttl_ms", 0, kMaxMs},
    {"stale_after_ms", 0, kMaxMs},
    {"slot", -kMaxWallMs / 1000, kMaxWallMs / 1000},
};

const NumericField* numeric_field(std::string_view key) {
  for (const NumericField& f : kNumericFields) {
    if (f.key == key) {
      return &f;
    }
  }
  return nullptr;
}

// REQUIRES: numeric_field(key) and num within its range.
void store_numeric(Record& r, std::string_view key, std::int64_t num) {
  if (key == "pid") {
    r.pid = num;
  } else if (key == "pid_start") {
    r.pid_start = static_cast<std::uint64_t>(num);
  } else if (key == "token") {
    r.token = static_cast<std::uint64_t>(num);
  } else if (key == "acquired_wall_ms") {
    r.acquired_wall_ms = num;
  } else if (key == "slot") {
    r.slot = num;
  } else if (key == "acquired_at_ns") {
    r.acquired_at = BootTime(num);
  } else if (key == "renewed_at_ns") {
    r.renewed_at = BootTime(num);
  } else if (key == "heartbeat_at_ns") {
    r.heartbeat_at = BootTime(num);
  } else if (key == "hold_until_ns") {
    r.hold_until = BootTime(num);
  } else if (key == "ttl_ms") {
    r.ttl = std::chrono::milliseconds(num);
  } else if (key == "stale_after_ms") {
    r.stale_after = std::chrono::milliseconds(num);
  }
}

ParsedRecord corrupt(std::string why) {
  ParsedRecord p;
  p.status = ParsedRecord::Status::corrupt;
  p.why = std::move(why);
  return p;
}

}  // namespace

std::string serialize(const Record& r) {
  std::string out(kHeaderSize, ' ');
  out.reserve(kHeaderSize + 320 + r.command.size() + r.name.size());
  field(out, "state", r.state == Record::State::held ? "held" : "released");
  field(out, "name", r.name);
  field(out, "owner", r.owner);
  field(out, "host", r.host);
  field(out, "boot_id", r.boot_id);
  field(out, "pid", r.pid);
  field(out, "pid_start", static_cast<std::int64_t>(r.pid_start));
  field(out, "token", static_cast<std::int64_t>(r.token));
  field(out, "acquired_wall_ms", r.acquired_wall_ms);
  field(out, "acquired_at_ns", r.acquired_at.count());
  field(out, "renewed_at_ns", r.renewed_at.count());
  field(out, "heartbeat_at_ns", r.heartbeat_at.count());
  field(out, "hold_until_ns", r.hold_until.count());
  field(out, "ttl_ms", r.ttl.count());
  field(out, "stale_after_ms", r.stale_after.count());
  if (r.slot) {
    field(out, "slot", *r.slot);
  }
  field(out, "command", r.command);
  std::size_t body_size = out.size() - kHeaderSize;
  std::uint32_t crc = checksum(std::string_view(out).substr(kHeaderSize));
  // The header, in place: magic, version, 6-digit length, 8-digit hex checksum.
  char* h = out.data();
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
  return out;
}

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
  out.status = ParsedRecord::Status::ok;
  Record& r = out.record;
  bool have_state = false;
  bool have_token = false;
  auto text = [](std::string_view v) {
    return v.find('\\') == std::string_view::npos ? std::string(v) : unescape(v);
  };
  while (!body.empty()) {
    std::string_view line = next_token(body, '\n');
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) {
      return corrupt("record line without a value");
    }
    std::string_view key = line.substr(0, sp);
    std::string_view value = line.substr(sp + 1);
    std::int64_t num = 0;
    const bool numeric = to_number(value, num);
    bool ok = true;
    if (key == "state") {
      have_state = value == "held" || value == "released";
      r.state = value == "held" ? Record::State::held : Record::State::released;
      ok = have_state;
    } else if (key == "name") {
      r.name = text(value);
    } else if (key == "owner") {
      r.owner = text(value);
    } else if (key == "host") {
      r.host = text(value);
    } else if (key == "boot_id") {
      r.boot_id = text(value);
    } else if (key == "command") {
      r.command = text(value);
    } else if (const NumericField* f = numeric_field(key)) {
      // A checksum proves the record is whole, not that its writer was honest or sane: a value
      // outside its range would overflow the arithmetic done on it (ttl_ms INT64_MAX once read
      // as "ttl -1ms"), so it makes the record corrupt.
      if (!numeric) {
        return corrupt("bad value for record field " + std::string(key));
      }
      if (num < f->min || num > f->max) {
        return corrupt("record field " + std::string(key) +
                       " out of range: " + std::to_string(num));
      }
      store_numeric(r, key, num);
      have_token = have_token || key == "token";
    }
    // Unknown keys come from a newer version: ignored.
    if (!ok) {
      return corrupt("bad value for record field " + std::string(key));
    }
  }
  if (!have_state || !have_token) {
    return corrupt("record lacks state or token");
  }
  return out;
}

}  // namespace heartlock::detail
