#include "sha256.h"

#include <array>

#include <openssl/evp.h>

namespace heartlock::detail {

namespace {

std::string hex_digest(std::string_view data, const EVP_MD* type) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  // EVP_Digest is the one-shot interface; it fails only on allocation failure.
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, type, nullptr) != 1) {
    return std::string(static_cast<std::size_t>(EVP_MD_get_size(type)) * 2, '0');
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

}  // namespace

std::string sha1_hex(std::string_view data) { return hex_digest(data, EVP_sha1()); }

}  // namespace heartlock::detail

namespace heartlock {

std::string sha256_hex(std::string_view data) { return detail::hex_digest(data, EVP_sha256()); }
std::string md5_hex(std::string_view data) { return detail::hex_digest(data, EVP_md5()); }

}  // namespace heartlock
