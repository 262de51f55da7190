# The two quick-start commands are `make demo` and `make test`; each installs what is missing.
JOBS ?= $(shell nproc)
BIN := build/dev/bin/heartlock

.PHONY: all deps build demo test test-dev test-asan test-tsan torture bench bench-report docs fuzz format tidy deb package-test clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

# A narrated demonstration of the CLI on the file backend.
demo: build
	@scripts/demo.sh $(BIN)

# Every test: the dev build, then the whole suite again under ASan+UBSan and under TSan.
test: deps
	@scripts/test.sh

# libheartlock built shared (BUILD_SHARED_LIBS=ON, the library alone), installed and used through
# find_package: slower than the package tests of `make test` (tests/package/shared_build.sh).
.PHONY: test-package-shared
test-package-shared: deps
	@JOBS=$(JOBS) tests/package/shared_build.sh

# The torture runs of `make test` (every backend, faults on every side), TORTURE_SECONDS each;
# then the scheduler's multi-process fault tests, their members running SCHEDULER_SECONDS.
TORTURE_SECONDS ?= 120
SCHEDULER_SECONDS ?= 60
torture: build
	@TORTURE_SECONDS=$(TORTURE_SECONDS) SCHEDULER_SECONDS=$(SCHEDULER_SECONDS) scripts/torture.sh build/dev

# A release build of its own without the test suites (the benchmarks need none of them), in
# build/bench: build/release keeps its tests.
bench:
	@scripts/install-deps.sh servers
	@cmake --preset bench >/dev/null
	@cmake --build --preset bench -j $(JOBS)
	@bash -o pipefail -c 'scripts/bench.sh build/bench | tee build/bench/bench-results.txt'

# Plots of the last `make bench` (build/bench/bench-results.txt; BENCH_RESULTS=FILE for another)
# into build/bench/bench-report/: ratios and latencies against their targets, and the time and
# CPU time per operation of every benchmark (scripts/bench_report.py).
BENCH_RESULTS ?= build/bench/bench-results.txt
bench-report:
	@scripts/install-deps.sh bench-report
	@python3 scripts/bench_report.py $(BENCH_RESULTS) build/bench/bench-report

# The lease state diagram: docs/lease-states.dot rendered into docs/lease-states.svg (committed).
docs:
	@scripts/install-deps.sh docs
	@dot -Tsvg docs/lease-states.dot -o docs/lease-states.svg

# Every fuzz target for FUZZ_SECONDS each (docs/fuzzing.md); crash inputs go to fuzz/regressions/.
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

# The Debian package build/deb/heartlock_<version>-1_<arch>.deb, linked against the system's
# OpenSSL and zlib (HEARTLOCK_STATIC_DEPS=OFF: security updates reach it); docs/packaging.md.
deb: deps
	@cmake --preset deb >/dev/null
	@cmake --build --preset deb -j $(JOBS)
	@cpack --preset deb

# Packs the dev build (built first) into a .deb and checks it: fields, contents, an install.
package-test: build
	@tests/package/deb_test.sh build/dev

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

tidy: deps
	@cmake --preset tidy >/dev/null
	@cmake --build --preset tidy -j $(JOBS)

clean:
	rm -rf build
