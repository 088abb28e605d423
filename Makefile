# The two commands: `make demo` (the C harness playing a real presentation through the cache,
# online then offline) and `make test` (every test). Both install what is missing first.

CARGO   ?= cargo
CC      ?= cc
LIBDIR  := target/release
CFLAGS  := -std=c11 -Wall -Wextra -Werror -O1 -g -Iinclude
LDLIBS  := -L$(LIBDIR) -lsmoothcache -Wl,-rpath,$(abspath $(LIBDIR)) -lpthread
# Fails on any error or any definitely-lost byte; the worker threads' TLS is only 'possibly lost'.
VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite

C_TESTS := $(patsubst tests/c/%.c,target/ctests/%,$(wildcard tests/c/test_*.c))

.PHONY: all deps build lib header demo bench test test-rust test-c test-valgrind test-python test-demo lint clean sample

all: build

deps:
	@scripts/deps.sh

# The .so carries the soname libsmoothcache.so.0; the link makes it loadable from target/.
lib:
	$(CARGO) build --release
	@ln -sf libsmoothcache.so $(LIBDIR)/libsmoothcache.so.0

build: lib target/harness

header:
	SSC_UPDATE_HEADER=1 $(CARGO) test --release --test header

target/harness: examples/harness.c include/smoothcache.h | lib
	$(CC) $(CFLAGS) -O2 examples/harness.c -o $@ $(LDLIBS) -lcurl

demo: deps build
	scripts/demo.sh

target/ctests/%: tests/c/%.c tests/c/check.h include/smoothcache.h | lib
	@mkdir -p target/ctests
	$(CC) $(CFLAGS) $< -o $@ $(LDLIBS)

bench:
	$(CARGO) bench --bench core

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --all-targets -- -D warnings

test-rust: lib
	$(CARGO) test --release

# The real FFmpeg-made presentation the network tests serve from 127.0.0.1.
sample:
	scripts/make-sample.sh target/sample/sample.ism

test-c: $(C_TESTS) sample
	@for t in $(C_TESTS); do echo "== $$t"; d=$$(mktemp -d); SSC_TEST_TMP=$$d $$t || exit 1; rm -rf $$d; done

test-valgrind: $(C_TESTS) sample
	@for t in $(C_TESTS); do echo "== valgrind $$t"; d=$$(mktemp -d); SSC_TEST_TMP=$$d SSC_UNDER_VALGRIND=1 $(VALGRIND) $$t || exit 1; rm -rf $$d; done

test-python: lib
	tests/python/run.sh

# The demo's online/offline run is a test too: the harness against a real origin and real content.
test-demo: build
	scripts/demo.sh

test: deps lib lint test-rust test-c test-valgrind test-python test-demo test-abi test-install test-pip
	@echo "make test: all passed"

# Installing: the library (soname libsmoothcache.so.MAJOR, with its links), libsmoothcache.a, the
# header, smoothcache.pc and the CLI under PREFIX; DESTDIR stages (scripts/install.sh says more).
PREFIX ?= /usr/local
.PHONY: install uninstall test-install test-abi test-pip

install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" CARGO="$(CARGO)" scripts/install.sh install

uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh uninstall

# Installs into a temporary prefix; a C program built with pkg-config, shared and static, runs.
test-install: lib
	tests/install/run.sh

# The exported symbols, constants and struct layouts against abi/ (docs/abi.md).
test-abi: lib
	python3 scripts/abi.py check

# pip install ./python into fresh venvs, offline; used from another directory.
test-pip: lib
	tests/install/pip.sh

clean:
	$(CARGO) clean
