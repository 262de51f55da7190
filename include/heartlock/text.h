// Text from outside -- lock names found on a server, holder records, error messages -- made safe
// to show on a terminal.
#ifndef HEARTLOCK_TEXT_H_
#define HEARTLOCK_TEXT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "heartlock/export.h"

namespace heartlock {

// The offset of the first byte of `text` that does not begin a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF); nullopt if all of it is.
HEARTLOCK_API std::optional<std::size_t> first_invalid_utf8(std::string_view text) noexcept;

// `text` with every control character (C0, DEL, C1), backslash and byte of invalid UTF-8 written
// as a \xNN escape (\\ for a backslash, \n \r \t as such), so that printing it cannot move the
// cursor, set a window title or forge a line. Valid printable UTF-8 is kept as is.
HEARTLOCK_API std::string printable(std::string_view text);

}  // namespace heartlock

#endif  // HEARTLOCK_TEXT_H_
