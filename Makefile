# The two quick-start commands are `make demo` and `make test`; each installs what is missing.
JOBS ?= $(shell nproc)
BIN := build/dev/bin/heartlock

.PHONY: all deps build demo test test-dev test-asan test-tsan torture bench fuzz format tidy clean

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
	@scripts/bench.sh build/bench

# Every fuzz target for FUZZ_SECONDS each (docs/fuzzing.md); crash inputs go to fuzz/regressions/.
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

tidy: deps
	@cmake --preset tidy >/dev/null
	@cmake --build --preset tidy -j $(JOBS)

clean:
	rm -rf build
