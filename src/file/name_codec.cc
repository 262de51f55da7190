#include "name_codec.h"

#include "../core/sha256.h"

namespace heartlock::detail {
namespace {

bool plain(unsigned char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || (c == '.' && !first);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::string lock_file_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size() + kLockSuffix.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (plain(c, i == 0)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (out.size() > kMaxEncoded) {
    std::size_t cut = 100;
    // Do not cut inside a %XX escape.
    if (out[cut - 1] == '%') {
      cut -= 1;
    } else if (out[cut - 2] == '%') {
      cut -= 2;
    }
    out = out.substr(0, cut) + "~" + sha256_hex(name).substr(0, 40);
  }
  out += kLockSuffix;
  return out;
}

std::optional<std::string> name_from_file(std::string_view file) {
  if (file.size() <= kLockSuffix.size() || !file.ends_with(kLockSuffix)) {
    return std::nullopt;
  }
  file.remove_suffix(kLockSuffix.size());
  std::string out;
  for (std::size_t i = 0; i < file.size(); ++i) {
    char c = file[i];
    if (c == '%' && i + 2 < file.size()) {
      int hi = hex_value(file[i + 1]);
      int lo = hex_value(file[i + 2]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (plain(static_cast<unsigned char>(c), i == 0)) {
      out.push_back(c);
    } else {
      return std::nullopt;  // hashed ('~') or not one of ours
    }
  }
  if (out.empty() || lock_file_name(out) != std::string(file) + std::string(kLockSuffix)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace heartlock::detail
