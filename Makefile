# c8s build. `make` builds ./c8s; `make test` runs every test; `make asan`
# builds ./c8s-asan with AddressSanitizer and UndefinedBehaviorSanitizer.

.DEFAULT_GOAL := all

# Build directory (B=build-x keeps a second build apart in the same tree).
B ?= build
# Binaries: ./c8s and ./c8s-asan, or under $(B) for another build directory.
ifeq ($(B),build)
BIN := .
else
BIN := $(B)
endif

CC ?= gcc
PKGS := libmicrohttpd jansson gnutls sqlite3 libcurl libarchive libnftables zlib yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wshadow=local -Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -Isrc $(WARN) $(PKG_CFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS := $(shell find src -name '*.c' ! -name main.c | sort)
DATA := $(shell find src -name '*.def' | sort)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_HDRS := $(wildcard tests/unit/*.h tests/unit/fixtures/*.h)

# Two build flavours share the rules below: $(B)/rel and $(B)/asan.
define flavour
$(1)_OBJS := $$(patsubst src/%.c,$(B)/$(1)/%.o,$$(SRCS)) $(B)/$(1)/gen/data.o
$(B)/$(1)/%.o: src/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $(2) -MMD -MP -c $$< -o $$@
$(B)/$(1)/gen/data.o: $(B)/gen/data.S $$(DATA)
	@mkdir -p $$(dir $$@)
	$$(CC) -c $$< -o $$@
$(B)/$(1)/libc8s.a: $$($(1)_OBJS)
	@rm -f $$@
	ar rcs $$@ $$^
$(B)/$(1)/tests/%: tests/unit/%.c $$(TEST_HDRS) $(B)/$(1)/libc8s.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE_CFLAGS) $(2) -Itests/unit $$< $(B)/$(1)/libc8s.a -o $$@ $$(LIBS) -lcmocka $(3)
-include $$($(1)_OBJS:.o=.d)
endef

$(eval $(call flavour,rel,$(CFLAGS),))
$(eval $(call flavour,asan,$(SAN_FLAGS),-fsanitize=address,undefined))

.PHONY: all asan test unit unit-asan e2e bench clean format check-format deps

all: $(BIN)/c8s

$(BIN)/c8s: src/main.c $(B)/rel/libc8s.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $< $(B)/rel/libc8s.a -o $@ $(LIBS)

asan: $(BIN)/c8s-asan
$(BIN)/c8s-asan: src/main.c $(B)/asan/libc8s.a
	$(CC) $(BASE_CFLAGS) $(SAN_FLAGS) $< $(B)/asan/libc8s.a -o $@ $(LIBS) -fsanitize=address,undefined

# Embedded data files (API type descriptions) are linked in with .incbin.
$(B)/gen/data.S: $(DATA) Makefile
	@mkdir -p $(dir $@)
	@{ echo '.section .rodata'; \
	   echo '.global c8s_embedded_types'; echo 'c8s_embedded_types:'; \
	   for f in $(DATA); do echo ".incbin \"$(CURDIR)/$$f\""; done; \
	   echo '.byte 0'; echo '.section .note.GNU-stack,"",@progbits'; } > $@

UNIT_REL := $(patsubst tests/unit/%.c,$(B)/rel/tests/%,$(TEST_SRCS))
UNIT_ASAN := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(TEST_SRCS))

# Unit tests run under ASan/UBSan.
unit: $(UNIT_ASAN)
	@set -e; for t in $(UNIT_ASAN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

unit-rel: $(UNIT_REL)
	@set -e; for t in $(UNIT_REL); do echo "== $$t"; $$t; done

# End-to-end tests drive the real kubectl against real c8s processes.
# streaming.bats runs the agent's stream server from its unit test (a stub agent).
e2e: $(BIN)/c8s $(BIN)/c8s-asan $(B)/asan/tests/test_stream_server
	bats --timing tests/e2e

test: unit e2e

bench: $(BIN)/c8s
	bench/run-all

format:
	clang-format -i $$(find src tests bench -name '*.[ch]')

check-format:
	clang-format --dry-run --Werror $$(find src tests bench -name '*.[ch]')

deps:
	scripts/deps.sh

clean:
	rm -rf $(B) c8s c8s-asan
