// The one table of backend URL schemes: which network backends exist, which this build has, and
// how to open each. Store::open dispatches through it, and its errors ("did you mean ...",
// "not in this build", the list of expected schemes) are written from it.
//
// The file backend is not in the table: it is always built in, and its URLs have a grammar of
// their own (plain paths, "file:NAME", "file:///dir"), which open.cc parses.
#ifndef HEARTLOCK_OPEN_SCHEMES_H_
#define HEARTLOCK_OPEN_SCHEMES_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "heartlock/error.h"
#include "heartlock/options.h"
#include "heartlock/store.h"

namespace heartlock::detail {

// Opens a store from a URL whose scheme is in lower case. The errors are the backend's.
using StoreOpener = Result<std::unique_ptr<Store>> (*)(std::string_view url, StoreOptions options);

// One scheme of a network backend ("scheme://...").
struct Scheme {
  std::string_view name;  // lower case, without "://"
  StoreOpener open;       // the backend's opener; nullptr when not built in
  bool built_in() const { return open != nullptr; }
};

// Every network scheme, built in or not, in the order error messages list them.
std::span<const Scheme> network_schemes();

// The scheme named `name` (lower case), or nullptr for a scheme no backend has.
const Scheme* find_scheme(std::string_view name);

// Every network scheme as error messages name them: "redis://, rediss://, ..., etcds://".
std::string listed_schemes();

}  // namespace heartlock::detail

#endif  // HEARTLOCK_OPEN_SCHEMES_H_
