#!/usr/bin/env bash
# The public headers under clang (tests/CMakeLists.txt). clang++-14 with libstdc++ 12 cannot
# compile std::expected (include/heartlock/error.h says why): the first error must be the
# header's own explanation. clang++-16 (with the __cpp_concepts override libstdc++ 12 needs
# before clang 19) compiles them with -Wall -Wextra -Werror.
set -euo pipefail
include=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ran=0
echo '#include <heartlock/heartlock.h>' >"$work/all.cc"
if command -v clang++-14 >/dev/null; then
  if clang++-14 -std=c++2b -fsyntax-only -I"$include" "$work/all.cc" 2>"$work/14.log"; then
    echo "clang++-14 compiled heartlock.h: drop the explanation in error.h?"
  else
    first=$(grep -m1 'error:' "$work/14.log")
    echo "clang++-14: $first"
    [[ $first == *"heartlock needs C++23 std::expected"* ]]
  fi
  ran=1
fi
if command -v clang++-16 >/dev/null; then
  clang++-16 -std=c++2b -U__cpp_concepts -D__cpp_concepts=202002L -Wall -Wextra -Wpedantic \
    -Werror -fsyntax-only -I"$include" "$work/all.cc"
  echo "clang++-16: heartlock.h compiles"
  ran=1
fi
[[ $ran == 1 ]] || exit 77
