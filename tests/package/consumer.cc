// Acquires and releases one lock through the installed library, as the README's example does
// (designated initialisers leaving most options out: no warning with -Wall -Wextra).
#include <cstdio>

#include <heartlock/heartlock.h>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 2) {
    return 2;
  }
  auto store = heartlock::Store::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  auto got = (*store)->try_acquire("consumer", {.ttl = 30s, .stale_after = 5min});
  if (!got || !got->acquired()) {
    return 1;
  }
  std::printf("token %llu\n", static_cast<unsigned long long>(got->lease().token()));
  return got->lease().release() ? 0 : 1;
}
