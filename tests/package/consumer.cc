// Acquires and releases one lock through the installed library.
#include <cstdio>

#include <heartlock/heartlock.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    return 2;
  }
  auto store = heartlock::Store::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().message.c_str());
    return 1;
  }
  auto got = (*store)->try_acquire("consumer", {});
  if (!got || !got->acquired()) {
    return 1;
  }
  std::printf("token %llu\n", static_cast<unsigned long long>(got->lease().token()));
  return got->lease().release() ? 0 : 1;
}
