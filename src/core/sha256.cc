#include "sha256.h"

// OpenSSL's low-level digest functions, not EVP: EVP_Digest (and, in OpenSSL 3, the one-shot
// SHA256() too) fetch the algorithm from a provider, and linking the provider machinery brings
// ~17 000 relocations that every start of the binary pays for (~0.35 ms of `heartlock --version`,
// docs/benchmarks.md). These functions are deprecated in OpenSSL 3.0 in favour of EVP but
// present in every 3.x release; they compute the same digests.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <array>
#include <cstddef>

#include <openssl/md5.h>
#include <openssl/sha.h>

namespace heartlock::detail {

namespace {

template <std::size_t N>
std::string hex(const std::array<unsigned char, N>& md) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(N * 2);
  for (unsigned char byte : md) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

}  // namespace

std::string sha1_hex(std::string_view data) {
  std::array<unsigned char, SHA_DIGEST_LENGTH> md{};
  SHA_CTX ctx;
  SHA1_Init(&ctx);
  SHA1_Update(&ctx, data.data(), data.size());
  SHA1_Final(md.data(), &ctx);
  return hex(md);
}

}  // namespace heartlock::detail

namespace heartlock {

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(md.data(), &ctx);
  return detail::hex(md);
}

std::string md5_hex(std::string_view data) {
  std::array<unsigned char, MD5_DIGEST_LENGTH> md{};
  MD5_CTX ctx;
  MD5_Init(&ctx);
  MD5_Update(&ctx, data.data(), data.size());
  MD5_Final(md.data(), &ctx);
  return detail::hex(md);
}

}  // namespace heartlock
