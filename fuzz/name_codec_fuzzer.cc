// The file backend's name codec (src/file/name_codec.cc): every valid lock name maps to one
// harmless file name that maps back to it (or, when hashed, to nothing), and every directory
// entry -- lock files of any origin -- decodes to a name only if that name encodes to it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "heartlock/store.h"

#include "../src/file/name_codec.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using heartlock::detail::kLockSuffix;
  const auto input = heartlock::fuzz::as_text(data, size);

  // The input as a directory entry.
  if (auto name = heartlock::detail::name_from_file(input)) {
    FUZZ_CHECK(!name->empty(), "a decoded name is not empty");
    FUZZ_CHECK(heartlock::detail::lock_file_name(*name) == input, "decode is encode's inverse");
  }

  // The input as a lock name (lock_file_name REQUIRES a valid name).
  if (!heartlock::validate_name(input)) {
    return 0;
  }
  const std::string file = heartlock::detail::lock_file_name(input);
  FUZZ_CHECK(file.find('/') == std::string::npos, "no '/' in a file name");
  FUZZ_CHECK(file.find('\0') == std::string::npos, "no NUL in a file name");
  FUZZ_CHECK(file.front() != '.', "no hidden or dot file");
  FUZZ_CHECK(file.size() <= 255, "fits NAME_MAX");
  FUZZ_CHECK(file.ends_with(kLockSuffix) && file.size() > kLockSuffix.size(), "ends in .lock");
  const bool hashed = file.find('~') != std::string::npos;
  const auto back = heartlock::detail::name_from_file(file);
  if (hashed) {
    FUZZ_CHECK(!back.has_value(), "a hashed file name decodes to nothing");
  } else {
    FUZZ_CHECK(back.has_value() && *back == input, "decode(encode(name)) == name");
  }
  return 0;
}
