# attestchain: library, tool, tests, benchmarks, fuzzing.
#
#   make            build the library (static and shared), the tool and the
#                   Python package (build/python) in build/
#   make demo       install missing packages, build, run the tool on a demo chain
#   make check      every test, also under AddressSanitizer and UBSan
#   make install    PREFIX=/usr/local (DESTDIR honoured)
#   make bench      the benchmark table (bench/)
#   make stress     the long crash, fault and concurrency runs
#   make fuzz       libFuzzer targets for FUZZ_SECONDS each

PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
SAN ?=
# The version is written once, in the header.
VERSION := $(shell sed -n 's/^\#define AC_VERSION_STRING "\([^"]*\)".*/\1/p' include/attestchain.h)
SOVERSION := $(firstword $(subst ., ,$(VERSION)))

PKGS := libsodium libcrypto libcbor jansson
# Packages are checked (and installed, as root) only for goals that build.
NODEPS_GOALS := clean uninstall deps help
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
DEPS_OK := $(shell scripts/deps.sh >&2 && echo yes)
ifneq ($(DEPS_OK),yes)
$(error missing packages (see the message above))
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)
# HTTP for mirror and witness (tools/fetch.c): the tool's alone, not the library's.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl)
CURL_LIBS := $(shell pkg-config --libs libcurl)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wpointer-arith
OPT ?= -O2 -g
SANFLAGS :=
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
OPT := -O1 -g -fno-omit-frame-pointer $(SANFLAGS)
endif
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -fPIC $(OPT) $(WARN) -Iinclude -Isrc $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

LIB_SRC := $(wildcard src/*.c)
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(TOOL_SRC:tools/%.c=$(BUILD)/obj/tools/%.o)
TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC := $(filter-out tests/helpers/fault_shim.c,$(wildcard tests/helpers/*.c))
HELPER_BIN := $(TEST_HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/%) $(BUILD)/tests/fault_shim.so
# bench is a harness and its phases; bench_tlog a program of its own.
BENCH_SRC := $(filter-out bench/bench_tlog.c,$(wildcard bench/*.c))

STATIC := $(BUILD)/libattestchain.a
SHARED := $(BUILD)/libattestchain.so.$(VERSION)
TOOL := $(BUILD)/attestchain

.PHONY: all deps demo check check-fast check-asan test install uninstall clean bench stress fuzz memcheck
all: $(STATIC) $(SHARED) $(TOOL) $(BUILD)/attestchain.pc $(BUILD)/web_assets.h

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: src/%.c src/internal.h include/attestchain.h | $(BUILD)/obj
	$(CC) $(CFLAGS_ALL) -I$(BUILD) -fvisibility=hidden -DAC_BUILDING -c $< -o $@

# export.c writes the page: it embeds web/ through the generated header.
$(BUILD)/obj/export.o: $(BUILD)/web_assets.h

$(BUILD)/obj/tools/%.o: tools/%.c include/attestchain.h $(wildcard tools/*.h) | $(BUILD)/obj/tools
	$(CC) $(CFLAGS_ALL) $(CURL_CFLAGS) -c $< -o $@

$(BUILD)/obj $(BUILD)/obj/tools $(BUILD)/tests:
	@mkdir -p $@

# The static library exports only the ac_ names: its objects are linked into
# one, whose hidden (internal) symbols are then made local, so that a user's
# own read_span or fold_step cannot clash with ours.
$(STATIC): $(LIB_OBJ)
	@rm -f $@
	$(LD) -r -o $(BUILD)/obj/libattestchain.o $^
	objcopy --localize-hidden $(BUILD)/obj/libattestchain.o
	ar rcs $@ $(BUILD)/obj/libattestchain.o

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libattestchain.so.$(SOVERSION) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)
	ln -sf libattestchain.so.$(VERSION) $(BUILD)/libattestchain.so.$(SOVERSION)
	ln -sf libattestchain.so.$(VERSION) $(BUILD)/libattestchain.so

$(TOOL): $(TOOL_OBJ) $(STATIC)
	$(CC) -o $@ $(TOOL_OBJ) $(STATIC) $(LDFLAGS_ALL) $(PKG_LIBS) $(CURL_LIBS)

# The export's page (web/) as a C header of {name, bytes, size} for `export`.
WEB_SRC := $(sort $(wildcard web/*))
$(BUILD)/web_assets.h: $(WEB_SRC) scripts/embed.sh
	@mkdir -p $(BUILD)
	scripts/embed.sh $@ $(WEB_SRC)

$(BUILD)/attestchain.pc: attestchain.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# The Python package (python/, a CPython extension): built against this
# build's static library (with its sanitizers under SAN=1) into $(BUILD)/python,
# as part of `all`; `make install` puts it in Python's site directory for
# PREFIX; `make bench` runs its rows (bench/bench_python.py) first.
.PHONY: python bench-python install-python uninstall-python
all: python
install: install-python
uninstall: uninstall-python
bench: bench-python
PYTHON ?= /usr/bin/python3
PYTHON_SITE ?= $(shell $(PYTHON) scripts/python-site.py $(PREFIX))
PY_SRC := python/setup.py $(wildcard python/src/*.c python/attestchain/*.py python/attestchain/*.pyi \
          python/attestchain/py.typed python/attestchain/compat/*.py \
          python/attestchain/compat/*/*.py python/attestchain/compat/*/*/*.py)
python: $(BUILD)/python/.built
$(BUILD)/python/.built: $(STATIC) $(PY_SRC)
	@rm -rf $(BUILD)/python
	cd python && AC_LIB_BUILD=$(abspath $(BUILD)) AC_SAN=$(SAN) $(PYTHON) setup.py -q build \
	    --build-base $(abspath $(BUILD))/pybuild --build-lib $(abspath $(BUILD))/python >/dev/null
	@touch $@
install-python: python
	install -d $(DESTDIR)$(PYTHON_SITE)
	rm -rf $(DESTDIR)$(PYTHON_SITE)/attestchain
	tar -C $(BUILD)/python --exclude=__pycache__ -cf - attestchain | tar -C $(DESTDIR)$(PYTHON_SITE) -xf -
uninstall-python:
	rm -rf $(DESTDIR)$(PYTHON_SITE)/attestchain
bench-python: all
	@$(PYTHON) bench/bench_python.py --build $(BUILD) $(filter --quick --markdown,$(BENCH_ARGS))

# Unit tests link the static library's objects directly so they can reach
# internal functions; each tests/unit/test_X.c mirrors src/X.c.
$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/testutil.h $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(LIB_OBJ) $(LDFLAGS_ALL) $(PKG_LIBS) $(CMOCKA_LIBS)

$(BUILD)/tests/%: tests/helpers/%.c $(STATIC) | $(BUILD)/tests
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(PKG_LIBS)

# The fault-injection shim is LD_PRELOADed into the tool (tests/e2e/t_faults.py):
# a shared object of its own, without sanitizers, not linked with the library.
$(BUILD)/tests/fault_shim.so: tests/helpers/fault_shim.c | $(BUILD)/tests
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared -O2 -g $(WARN) -o $@ $< -ldl

# check: the whole suite, then again under AddressSanitizer and UBSan.
check: check-fast check-asan

check-fast: all $(TEST_BIN) $(HELPER_BIN)
	@BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

check-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check-fast

test: check

demo: all
	@scripts/demo.sh $(TOOL)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 include/attestchain.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libattestchain.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libattestchain.so.$(SOVERSION)
	ln -sf libattestchain.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libattestchain.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' attestchain.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/attestchain.pc
	install -m 0755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/attestchain.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 completion/attestchain.bash \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/attestchain

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/attestchain.h $(DESTDIR)$(PREFIX)/lib/libattestchain.* \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig/attestchain.pc $(DESTDIR)$(PREFIX)/bin/attestchain \
	    $(DESTDIR)$(PREFIX)/share/man/man1/attestchain.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/attestchain

$(BUILD)/bench/bench: $(BENCH_SRC) bench/bench.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -O2 -o $@ $(BENCH_SRC) $(STATIC) $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/bench/bench_tlog: bench/bench_tlog.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -O2 -o $@ $< $(STATIC) $(LDFLAGS_ALL) $(PKG_LIBS)

# Both tables, even when the first misses a target; the worse exit status.
bench: all $(BUILD)/bench/bench $(BUILD)/bench/bench_tlog
	@rc=0; $(BUILD)/bench/bench $(BENCH_ARGS) || rc=$$?; \
	$(BUILD)/bench/bench_tlog $(filter --quick,$(BENCH_ARGS)) || { st=$$?; [ $$st -gt $$rc ] && rc=$$st; }; \
	/usr/bin/python3 bench/bench_federation.py --tool $(TOOL) $(filter --quick,$(BENCH_ARGS)) || \
	    { st=$$?; [ $$st -gt $$rc ] && rc=$$st; }; \
	exit $$rc

stress: all $(HELPER_BIN)
	@BUILD=$(BUILD) AC_STRESS=1 tests/stress.sh

FUZZ_SECONDS ?= 60
fuzz:
	@AC_DEPS_EXTRA=1 scripts/deps.sh
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

memcheck: all $(TEST_BIN) $(HELPER_BIN)
	@BUILD=$(BUILD) AC_MEMCHECK=1 tests/run.sh

clean:
	rm -rf build
