#include "argv_secrets.h"

#include <cstring>
#include <string_view>

namespace heartlock::cli {
namespace {

void mask(char* from, char* to) {
  for (char* p = from; p < to; ++p) {
    *p = '*';
  }
}

// Masks the secrets of the URL at `url` (a NUL-terminated argument, written over in place).
// Deliberately generous, like redact_url: the password is what lies between the first ':' after
// "://" and the last '@', even when the URL is malformed (an unencoded '/' in the password).
void mask_url(char* url) {
  char* end = url + std::strlen(url);
  char* authority = std::strstr(url, "://");
  if (authority == nullptr) {
    return;
  }
  authority += 3;
  // The user part ends at the last '@' before the query; a password with an unencoded '?' has
  // none there, and then the last '@' of all counts, unless a query value holds it (?password=p@s).
  char* query = std::strchr(authority, '?');
  char* at = nullptr;
  for (char* p = authority; p < end; ++p) {
    if (*p == '@' && (query == nullptr || p < query)) {
      at = p;
    }
  }
  if (at == nullptr && query != nullptr) {
    char* last = std::strrchr(query, '@');
    if (last != nullptr && std::memchr(query, '=', last - query) == nullptr) {
      at = last;
      query = std::strchr(at, '?');
    }
  }
  if (at != nullptr) {
    if (char* colon = static_cast<char*>(std::memchr(authority, ':', at - authority))) {
      mask(colon + 1, at);
    }
  }
  // Query parameters whose name ends in "password" (password, sentinel_password, ...).
  for (char* param = query; param != nullptr && param < end;) {
    ++param;  // past '?' or '&'
    char* next = std::strchr(param, '&');
    char* stop = next != nullptr ? next : end;
    char* eq = static_cast<char*>(std::memchr(param, '=', stop - param));
    if (eq != nullptr && std::string_view(param, eq - param).ends_with("password")) {
      mask(eq + 1, stop);
    }
    param = next;
  }
}

}  // namespace

void hide_backend_passwords(int argc, char** argv) noexcept {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      return;
    }
    if ((arg == "-b" || arg == "--backend") && i + 1 < argc) {
      mask_url(argv[++i]);
    } else if (arg.starts_with("--backend=")) {
      mask_url(argv[i] + 10);
    } else if (arg.starts_with("-b")) {
      mask_url(argv[i] + 2);
    }
  }
}

}  // namespace heartlock::cli
