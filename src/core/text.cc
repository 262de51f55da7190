// UTF-8 validation and terminal-safe escaping. Written here: none of our dependencies exports a
// UTF-8 validator (nlohmann::json validates only while dumping, and replaces), and every backend
// must apply the same rule to names.
#include "heartlock/text.h"

#include <cstdio>

namespace heartlock {
namespace {

// The length of the well-formed UTF-8 sequence starting at text[i], or 0 if there is none.
std::size_t sequence_length(std::string_view text, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  const std::size_t len = c < 0x80                 ? 1
                          : c >= 0xc2 && c <= 0xdf ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
  if (len == 0 || len > text.size() - i) {
    return 0;
  }
  // The second byte's range depends on the first: this excludes overlong forms, surrogates
  // (U+D800..U+DFFF) and code points past U+10FFFF.
  const unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  const unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  for (std::size_t k = 1; k < len; ++k) {
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xbf;
    if (byte(i + k) < min || byte(i + k) > max) {
      return 0;
    }
  }
  return len;
}

void append_hex(std::string& out, unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

}  // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = sequence_length(text, i);
    if (len == 0) {
      return i;
    }
    i += len;
  }
  return std::nullopt;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t len = sequence_length(text, i);
    const auto c = static_cast<unsigned char>(text[i]);
    // C1 controls (U+0080..U+009F) are two bytes: 0xc2 0x80..0x9f.
    const bool c1 = len == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (len == 0 || c1) {
      append_hex(out, c);
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(text.substr(i, len));
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      append_hex(out, c);
    } else {
      out.push_back(static_cast<char>(c));
    }
    i += len;
  }
  return out;
}

}  // namespace heartlock
