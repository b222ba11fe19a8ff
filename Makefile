# cfstorage — build, test and demo. See README.md.
# `make test` and `make demo` install what is missing first (scripts/deps.sh).

VERSION   := 0.1.0
CC        ?= cc
PKGS      := yaml-0.1 libcurl libcjson openssl libmicrohttpd sqlite3
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -DCFS_VERSION='"$(VERSION)"' \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Everything under pkg/ is one library; each cmd/X/main.c is a binary bin/X.
# EXCLUDE (patterns) leaves modules out, e.g. EXCLUDE='pkg/emu/% cmd/cfemu/%'.
EXCLUDE   ?=
PKG_SRC   := $(filter-out $(EXCLUDE),$(sort $(wildcard pkg/*/*.c pkg/*/*/*.c)))
CMDS      := $(notdir $(patsubst %/,%,$(dir $(filter-out $(EXCLUDE),$(wildcard cmd/*/main.c)))))
UNIT_SRC  := $(filter-out $(EXCLUDE),$(sort $(wildcard tests/unit/test_*.c)))
UNITS     := $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
# Fuzz targets: tests/fuzz/fuzz_<target>.c, each also linked with a plain
# replay main (tests/fuzz/replay.c) in every flavour.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

# Two flavours: plain (bin/) and sanitized (build/asan/bin/).
define flavour
$(1)_OBJ   := $$(patsubst %.c,build/$(1)/obj/%.o,$$(PKG_SRC))
$(1)_LIB   := build/$(1)/libcfstorage.a
$(1)_BINS  := $$(addprefix $(2)/,$$(CMDS))
$(1)_TESTS := $$(addprefix build/$(1)/tests/,$$(UNITS))
$(1)_REPLAY := $$(addprefix build/$(1)/fuzz/replay_,$$(FUZZ_TARGETS))

build/$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS_COMMON) $(3) -MMD -MP -c $$< -o $$@

$$($(1)_LIB): $$($(1)_OBJ)
	@rm -f $$@
	ar rcs $$@ $$^

$(2)/%: build/$(1)/obj/cmd/%/main.o $$($(1)_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(LIBS)

build/$(1)/tests/%: build/$(1)/obj/tests/unit/%.o $$($(1)_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(TEST_LIBS) $$(LIBS)

build/$(1)/fuzz/replay_%: build/$(1)/obj/tests/fuzz/fuzz_%.o build/$(1)/obj/tests/fuzz/replay.o $$($(1)_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $(3) -o $$@ $$^ $$(LIBS)

-include $$($(1)_OBJ:.o=.d) $$(patsubst %,build/$(1)/obj/tests/unit/%.d,$$(UNITS)) \
         $$(patsubst %,build/$(1)/obj/cmd/%/main.d,$$(CMDS)) \
         $$(wildcard build/$(1)/obj/tests/fuzz/*.d)
endef

$(eval $(call flavour,plain,bin,))
$(eval $(call flavour,asan,build/asan/bin,$(SAN)))

# libFuzzer builds of the fuzz targets (clang, ASan+UBSan): `make fuzz`, and
# a short run of each inside `make test` when clang is installed.
FUZZ_CC           ?= clang
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 15
HAVE_FUZZ_CC      := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && echo yes)
FUZZ_SAN          := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
fuzz_OBJ          := $(patsubst %.c,build/fuzz/obj/%.o,$(PKG_SRC))
FUZZ_BINS         := $(addprefix build/fuzz/bin/fuzz_,$(FUZZ_TARGETS))

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_COMMON) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build/fuzz/libcfstorage.a: $(fuzz_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/bin/fuzz_%: build/fuzz/obj/tests/fuzz/fuzz_%.o build/fuzz/libcfstorage.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

-include $(fuzz_OBJ:.o=.d) $(wildcard build/fuzz/obj/tests/fuzz/*.d)

.PHONY: all deps test test-plain test-asan unit fixtures e2e demo install update-golden clean fuzz fuzz-build
.SECONDARY:

all: $(plain_BINS)

deps:
	@bash scripts/deps.sh

# The whole suite: unit tests and fixtures with the plain build, then all of it
# again under AddressSanitizer + UBSan.
# The long, mostly idle scripts (tests/e2e/*.bg.sh) run beside both flavours:
# started once the plain binaries exist, collected after the sanitizer pass.
test: deps
	@$(MAKE) --no-print-directory $(plain_BINS)
	@bash tests/bg.sh start bin; \
	  CFS_BG=outside $(MAKE) --no-print-directory test-plain; p=$$?; \
	  $(MAKE) --no-print-directory test-asan; a=$$?; \
	  bash tests/bg.sh wait; b=$$?; \
	  cat build/plain/summary build/asan/summary build/bg/summary | \
	  awk '{p+=$$1; f+=$$2} END {printf "suites: %d passed, %d failed\n", p, f}'; \
	  [ $$p = 0 ] && [ $$a = 0 ] && [ $$b = 0 ]

test-plain: $(plain_BINS) $(plain_TESTS) $(plain_REPLAY)
	@bash tests/run.sh plain bin build/plain/tests

# With clang, the asan pass also fuzzes each target for FUZZ_TEST_SECONDS.
test-asan: $(asan_BINS) $(asan_TESTS) $(asan_REPLAY) $(if $(HAVE_FUZZ_CC),$(FUZZ_BINS))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  FUZZ_TEST_SECONDS=$(if $(HAVE_FUZZ_CC),$(FUZZ_TEST_SECONDS),0) \
	  bash tests/run.sh asan build/asan/bin build/asan/tests

# Every fuzz target for FUZZ_SECONDS each, one after the other, growing the
# working corpus under build/fuzz/corpus (tests/fuzz/README.md).
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@bash tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BINS)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: both binaries, their man pages
# (each binary writes its own with --man, from the texts of its --help) and the
# bash and zsh completion. INSTALL_FROM=DIR installs binaries built elsewhere
# (the tests install build/asan/bin) instead of building bin/.
PREFIX       ?= /usr/local
INSTALL_FROM ?= bin
install: $(if $(filter bin,$(INSTALL_FROM)),$(plain_BINS))
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 755 $(INSTALL_FROM)/cfstorage $(INSTALL_FROM)/cfemu $(DESTDIR)$(PREFIX)/bin/
	$(INSTALL_FROM)/cfstorage --man > $(DESTDIR)$(PREFIX)/share/man/man1/cfstorage.1
	$(INSTALL_FROM)/cfemu --man > $(DESTDIR)$(PREFIX)/share/man/man1/cfemu.1
	chmod 644 $(DESTDIR)$(PREFIX)/share/man/man1/cfstorage.1 $(DESTDIR)$(PREFIX)/share/man/man1/cfemu.1
	install -m 644 deploy/completion/cfstorage.bash \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cfstorage
	install -m 644 deploy/completion/_cfstorage $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_cfstorage

update-golden: $(plain_BINS)
	@bash tests/fixtures.sh bin --update

clean:
	rm -rf build bin
