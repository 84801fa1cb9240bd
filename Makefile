# Entry points for people and CI; CMake does the building underneath.
#   make          build build/radiant
#   make check    install dependencies, build, run every test (also under ASan+UBSan)
#   make demo     install dependencies, build, run the demo
#   make fuzz     build the libFuzzer targets and run each briefly
#   make bench    repository benchmark (bench/repo.sh); make bench-pg: against pgBackRest (bench/pg.sh, as root)
PYTEST  ?= /usr/bin/python3 -m pytest
JOBS    ?= 2
FUZZ_SECONDS ?= 5

.PHONY: all build build-asan build-fuzz deps check check-unit check-integration check-asan fuzz demo bench bench-pg clean

all: build

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps; else sudo -n scripts/install-deps || scripts/install-deps; fi

build:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j$(JOBS)

build-asan:
	CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRADIANT_SANITIZE=ON >/dev/null
	cmake --build build-asan -j$(JOBS)

build-fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRADIANT_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS)

check-unit: build
	cd build && ctest --output-on-failure -j$(JOBS)

check-integration: build
	RADIANT_BIN=$(CURDIR)/build/radiant $(PYTEST) -q tests/integration

# The sanitizer pass runs every unit test and the integration tests that are
# not marked slow or e2e (those run in the release pass above; the shorter
# tests run the same C code under the sanitizers).
check-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ctest --output-on-failure -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 RADIANT_BIN=$(CURDIR)/build-asan/radiant $(PYTEST) -q -m "not slow and not e2e" tests/integration

fuzz: build-fuzz
	scripts/run-fuzzers build-fuzz $(FUZZ_SECONDS)

check: deps
	$(MAKE) check-unit
	$(MAKE) check-integration
	$(MAKE) check-asan
	$(MAKE) fuzz

demo: deps build
	scripts/demo

bench: build
	bench/repo.sh

bench-pg: build
	bench/pg.sh

clean:
	rm -rf build build-asan build-fuzz
