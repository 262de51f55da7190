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

// The lowercase hex digest of `data` by one of OpenSSL's low-level Init/Update/Final triples.
template <std::size_t N, class Ctx>
std::string digest_hex(std::string_view data, int (*init)(Ctx*),
                       int (*update)(Ctx*, const void*, std::size_t),
                       int (*final)(unsigned char*, Ctx*)) {
  std::array<unsigned char, N> md{};
  Ctx ctx;
  init(&ctx);
  update(&ctx, data.data(), data.size());
  final(md.data(), &ctx);
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
  return digest_hex<SHA_DIGEST_LENGTH>(data, SHA1_Init, SHA1_Update, SHA1_Final);
}

}  // namespace heartlock::detail

namespace heartlock {

std::string sha256_hex(std::string_view data) {
  return detail::digest_hex<SHA256_DIGEST_LENGTH>(data, SHA256_Init, SHA256_Update, SHA256_Final);
}

std::string md5_hex(std::string_view data) {
  return detail::digest_hex<MD5_DIGEST_LENGTH>(data, MD5_Init, MD5_Update, MD5_Final);
}

}  // namespace heartlock
