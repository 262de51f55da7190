#!/usr/bin/env bash
# What the dynamic loader has to do before `heartlock` reaches main() (issue 14): every start pays
# for each relative relocation in the binary. libssl (with the parts of libcrypto it needs) brought
# ~18 000 of ~23 000; it is now loaded on the first rediss:// connection (src/redis/tls_api.h), and
# the digests use OpenSSL's low-level functions (src/core/sha256.cc). This fails if TLS is linked
# back in, statically or as a NEEDED library.
set -euo pipefail
exe=$1
fail() { echo "startup_weight: $*" >&2; exit 1; }
# (Whole outputs first: `grep -q` closing the pipe early would fail the pipeline under pipefail.)
needed=$(readelf -d "$exe")
symbols=$(nm "$exe" 2>/dev/null || true)
if [ -z "$symbols" ]; then
  echo "startup_weight: $exe has no symbol table (stripped): cannot tell what is linked in"
  exit 77
fi
if grep -q 'NEEDED.*libssl' <<<"$needed"; then
  fail "$exe needs libssl at start-up: load it with dlopen (src/redis/tls_api.h)"
fi
if grep -qE ' T (SSL_connect|SSL_CTX_new|EVP_Digest)$' <<<"$symbols"; then
  fail "$exe links OpenSSL's TLS or EVP digests statically (see src/redis/tls_api.h)"
fi
# For the log: ~4 400 in the dev build (libstdc++, CLI11, our vtables) where OpenSSL's TLS added
# ~18 000 (sanitizer builds add their own).
echo "relative relocations: $(readelf -rW "$exe" | grep -c R_X86_64_RELATIVE || true)"
