// fuzz_replay: runs the fuzz targets' inputs without libFuzzer, in the ordinary builds (dev, asan,
// tsan), so `make test` checks every corpus and regression input with the compiler and
// sanitizers of that build.
//
//   fuzz_replay [FUZZ_DIR]              every file of FUZZ_DIR/corpus/<target>/ and
//                                       FUZZ_DIR/regressions/<target>/, for every target
//   fuzz_replay --target T FILE...      the given files through target T (to reproduce a crash)
//
// Each target's source is compiled here with LLVMFuzzerTestOneInput renamed to
// heartlock_fuzz_<target> (fuzz/CMakeLists.txt), so one executable holds them all. A broken
// invariant or a sanitizer report aborts: the test fails, naming the file last started.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#define HEARTLOCK_FUZZ_TARGET(name) \
  extern "C" int heartlock_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_targets.inc"
#undef HEARTLOCK_FUZZ_TARGET

namespace {

namespace fs = std::filesystem;

struct Target {
  std::string_view name;
  int (*run)(const std::uint8_t*, std::size_t);
};

constexpr Target kTargets[] = {
#define HEARTLOCK_FUZZ_TARGET(name) {#name, &heartlock_fuzz_##name},
#include "fuzz_targets.inc"
#undef HEARTLOCK_FUZZ_TARGET
};

bool run_file(const Target& target, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_replay: cannot read %s\n", file.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "fuzz_replay: %.*s %s\n", static_cast<int>(target.name.size()),
               target.name.data(), file.c_str());
  target.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  return true;
}

// Every regular file under `dir` (none if it does not exist), in a stable order.
std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir)) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) {
        out.push_back(entry.path());
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "--target") {
    for (const auto& target : kTargets) {
      if (target.name == args[1]) {
        bool ok = true;
        for (std::size_t i = 2; i < args.size(); ++i) {
          ok = run_file(target, fs::path(args[i])) && ok;
        }
        return ok ? 0 : 1;
      }
    }
    std::fprintf(stderr, "fuzz_replay: no target '%.*s'\n", static_cast<int>(args[1].size()),
                 args[1].data());
    return 2;
  }
  const fs::path root = args.empty() ? fs::path(HEARTLOCK_FUZZ_DIR) : fs::path(args[0]);
  std::size_t total = 0;
  for (const auto& target : kTargets) {
    std::size_t count = 0;
    for (const char* kind : {"corpus", "regressions"}) {
      for (const auto& file : files_in(root / kind / target.name)) {
        if (!run_file(target, file)) {
          return 1;
        }
        ++count;
      }
    }
    if (count == 0) {
      std::fprintf(stderr, "fuzz_replay: no inputs for target %.*s under %s\n",
                   static_cast<int>(target.name.size()), target.name.data(), root.c_str());
      return 1;
    }
    std::printf("%.*s: %zu inputs\n", static_cast<int>(target.name.size()), target.name.data(),
                count);
    total += count;
  }
  std::printf("fuzz_replay: %zu inputs, no crash\n", total);
  return 0;
}
