#include "record.h"

#include <zlib.h>

#include <charconv>
#include <cstdio>
#include <vector>

namespace heartlock::detail {
namespace {

constexpr std::string_view kMagic = "heartlock-lock";

// Escapes backslash, newline and carriage return so each value stays on one line.
void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
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
  field(out, key, std::to_string(value));
}

std::uint32_t checksum(std::string_view body) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
}

template <class T>
bool to_number(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

ParsedRecord corrupt(std::string why) {
  ParsedRecord p;
  p.status = ParsedRecord::Status::corrupt;
  p.why = std::move(why);
  return p;
}

}  // namespace

std::string serialize(const Record& r) {
  std::string body;
  body.reserve(512);
  field(body, "state", r.state == Record::State::held ? "held" : "released");
  field(body, "name", r.name);
  field(body, "owner", r.owner);
  field(body, "host", r.host);
  field(body, "boot_id", r.boot_id);
  field(body, "pid", r.pid);
  field(body, "pid_start", static_cast<std::int64_t>(r.pid_start));
  field(body, "token", static_cast<std::int64_t>(r.token));
  field(body, "acquired_wall_ms", r.acquired_wall_ms);
  field(body, "acquired_at_ns", r.acquired_at.count());
  field(body, "renewed_at_ns", r.renewed_at.count());
  field(body, "heartbeat_at_ns", r.heartbeat_at.count());
  field(body, "hold_until_ns", r.hold_until.count());
  field(body, "ttl_ms", r.ttl.count());
  field(body, "stale_after_ms", r.stale_after.count());
  if (r.slot) {
    field(body, "slot", *r.slot);
  }
  field(body, "command", r.command);
  char header[64];
  int n = std::snprintf(header, sizeof header, "%s %d %zu %08x\n", kMagic.data(), kRecordVersion,
                        body.size(), checksum(body));
  std::string out(header, static_cast<std::size_t>(n));
  out += body;
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
  std::string_view header = bytes.substr(0, eol);
  // "<magic> <version> <length> <crc>"
  std::vector<std::string_view> parts;
  for (std::size_t pos = 0; pos <= header.size();) {
    auto sp = header.find(' ', pos);
    if (sp == std::string_view::npos) {
      sp = header.size();
    }
    parts.push_back(header.substr(pos, sp - pos));
    pos = sp + 1;
  }
  int version = 0;
  std::size_t length = 0;
  std::uint32_t crc = 0;
  if (parts.size() != 4 || parts[0] != kMagic || !to_number(parts[1], version) ||
      !to_number(parts[2], length) || !to_number(parts[3], crc, 16)) {
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
  while (!body.empty()) {
    auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) {
      return corrupt("record line without a value");
    }
    std::string_view key = line.substr(0, sp);
    std::string value = unescape(line.substr(sp + 1));
    std::int64_t num = 0;
    bool numeric = to_number(std::string_view(value), num);
    auto need_number = [&](auto& target) {
      if (!numeric) {
        return false;
      }
      target = static_cast<std::remove_reference_t<decltype(target)>>(num);
      return true;
    };
    bool ok = true;
    if (key == "state") {
      have_state = value == "held" || value == "released";
      r.state = value == "held" ? Record::State::held : Record::State::released;
      ok = have_state;
    } else if (key == "name") {
      r.name = value;
    } else if (key == "owner") {
      r.owner = value;
    } else if (key == "host") {
      r.host = value;
    } else if (key == "boot_id") {
      r.boot_id = value;
    } else if (key == "command") {
      r.command = value;
    } else if (key == "pid") {
      ok = need_number(r.pid);
    } else if (key == "pid_start") {
      ok = need_number(r.pid_start);
    } else if (key == "token") {
      ok = have_token = need_number(r.token);
    } else if (key == "acquired_wall_ms") {
      ok = need_number(r.acquired_wall_ms);
    } else if (key == "slot") {
      r.slot = num;
      ok = numeric;
    } else if (key == "acquired_at_ns" || key == "renewed_at_ns" || key == "heartbeat_at_ns" ||
               key == "hold_until_ns") {
      BootTime t(num);
      (key == "acquired_at_ns"    ? r.acquired_at
       : key == "renewed_at_ns"   ? r.renewed_at
       : key == "heartbeat_at_ns" ? r.heartbeat_at
                                  : r.hold_until) = t;
      ok = numeric;
    } else if (key == "ttl_ms") {
      r.ttl = std::chrono::milliseconds(num);
      ok = numeric;
    } else if (key == "stale_after_ms") {
      r.stale_after = std::chrono::milliseconds(num);
      ok = numeric;
    }  // unknown keys: written by a newer version; ignore
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
