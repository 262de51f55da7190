// Pieces of URL parsing the network backends share.
#ifndef HEARTLOCK_CORE_URL_PARTS_H_
#define HEARTLOCK_CORE_URL_PARTS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "heartlock/error.h"

namespace heartlock::detail {

// Percent-decoding (user names and passwords may hold '@', ':' or '/'). Errc::invalid_argument
// naming `what` for a malformed escape.
Result<std::string> percent_decode(std::string_view text, std::string_view what);

// "a=1&b&c=3" as (name, raw value) pairs in order; a name without '=' has an empty value.
std::vector<std::pair<std::string_view, std::string_view>> query_pairs(std::string_view query);

}  // namespace heartlock::detail

#endif  // HEARTLOCK_CORE_URL_PARTS_H_
