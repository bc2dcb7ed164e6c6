# AVMA for KVM/libvirt. `make demo` runs the main job, `make check` runs every test.
# Fragments (tests/*/*.mk, packaging/packaging.mk) add their own targets; this file owns the build.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config
VERSION := 0.1.0

# Debian packages the build and the tests need. Fragments append to DEPS_PKGS.
DEPS_PKGS := build-essential pkg-config libglib2.0-dev libjson-glib-dev libsystemd-dev \
             libvirt-dev libvirt-glib-1.0-dev libxml2-dev libsqlite3-dev libcmocka-dev \
             socat jq procps psmisc bc clang-format git
# sqlite3: the history tests read STATE/history.db as an auditor would.
DEPS_PKGS += sqlite3
# libsodium: Ed25519 signatures of the host's records (common/sign.c); minisign: the tests verify
# signed reports with the stock tool, as an auditor would.
DEPS_PKGS += libsodium-dev minisign
# The fleet collector (avma-fleet) stores into PostgreSQL 15; its tests start a throwaway server.
DEPS_PKGS += libpq-dev postgresql

PURE_PKGS :=
GLIB_PKGS := glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libsystemd libsodium
HOST_PKGS := $(GLIB_PKGS) libvirt libvirt-glib-1.0 libvirt-gconfig-1.0 libxml-2.0 sqlite3
TEST_PKGS := $(GLIB_PKGS) cmocka

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes
OPT ?= -O2 -g
SAN ?=
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(SAN) -fno-strict-aliasing \
               -DAVMA_VERSION='"$(VERSION)"' -I$(BUILD)/gen -Icommon
LDFLAGS_EXTRA ?= $(SAN)

include tests/deps.mk

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

# ---- generated schema ------------------------------------------------------------------------
GEN := $(BUILD)/gen/kvp-schema.c $(BUILD)/gen/kvp-schema.h
$(BUILD)/gen/kvp-schema.h: kvp-schema/avma-kvp.schema kvp-schema/gen-schema.awk
	@mkdir -p $(@D)
	awk -v out=$(BUILD)/gen/kvp-schema -f kvp-schema/gen-schema.awk $<
$(BUILD)/gen/kvp-schema.c: $(BUILD)/gen/kvp-schema.h

# ---- common ------------------------------------------------------------------------------------
# Pure modules: C11, no glib, no I/O (fuzzers and a future Windows agent link them alone).
PURE_SRC := common/crc32c.c common/frame.c common/kvp.c common/schema.c common/catalogue.c \
            common/policy.c
GLIB_SRC := $(filter-out $(PURE_SRC),$(wildcard common/*.c))
PURE_OBJ := $(PURE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/kvp-schema.o
GLIB_OBJ := $(GLIB_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/gen/kvp-schema.o: $(BUILD)/gen/kvp-schema.c $(BUILD)/gen/kvp-schema.h
	$(CC) $(BASE_CFLAGS) -c -o $@ $<
$(PURE_OBJ): CFLAGS_MOD :=
$(GLIB_OBJ): CFLAGS_MOD := $(call pc_cflags,$(GLIB_PKGS)) -Iguest-agent/core

$(BUILD)/libavma-pure.a: $(PURE_OBJ)
	ar rcs $@ $^
# msg.c wraps the core's wire.c, so the common library carries wire.o for the host agent too.
$(BUILD)/libavma-common.a: $(GLIB_OBJ) $(BUILD)/guest-agent/core/wire.o
	ar rcs $@ $^

# ---- portable guest core -----------------------------------------------------------------------
# Plain C11 without glib, like the pure modules: the Windows guest agent compiles the same files.
GCORE_SRC := $(wildcard guest-agent/core/*.c)
GCORE_OBJ := $(GCORE_SRC:%.c=$(BUILD)/%.o)
$(GCORE_OBJ): CFLAGS_MOD := -Iguest-agent/core
$(BUILD)/libavma-gcore.a: $(GCORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# ---- host agent --------------------------------------------------------------------------------
# Every host-agent module but the two mains and the CLI verbs goes into the library.
HOST_CLI_SRC := $(wildcard host-agent/cli-*.c)
HOST_LIB_SRC := $(filter-out host-agent/hostd.c host-agent/host-cli.c $(HOST_CLI_SRC), \
                  $(wildcard host-agent/*.c))
HOST_CLI_OBJ := $(HOST_CLI_SRC:%.c=$(BUILD)/%.o)
HOST_LIB_OBJ := $(HOST_LIB_SRC:%.c=$(BUILD)/%.o)
$(HOST_LIB_OBJ) $(HOST_CLI_OBJ) $(BUILD)/host-agent/hostd.o $(BUILD)/host-agent/host-cli.o: \
  CFLAGS_MOD := $(call pc_cflags,$(HOST_PKGS)) -Ihost-agent
$(BUILD)/libavma-host.a: $(HOST_LIB_OBJ)
	ar rcs $@ $^
HOST_LIBS := $(BUILD)/libavma-host.a $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a
$(BUILD)/avma-hostd: $(BUILD)/host-agent/hostd.o $(HOST_LIBS)
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(HOST_PKGS))
$(BUILD)/avma-host: $(BUILD)/host-agent/host-cli.o $(HOST_CLI_OBJ) $(HOST_LIBS)
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(HOST_PKGS))

# ---- offline verifier --------------------------------------------------------------------------
# avma-verify (issue #18), an auditor's tool: the common library with glib, json-glib and
# libsodium only; no libvirt, SQLite, systemd or agent library.
VERIFY_PKGS := glib-2.0 gio-2.0 json-glib-1.0 libsodium
VERIFY_SRC := $(wildcard host-agent/verify/*.c)
VERIFY_OBJ := $(VERIFY_SRC:%.c=$(BUILD)/%.o)
$(VERIFY_OBJ): CFLAGS_MOD := $(call pc_cflags,$(VERIFY_PKGS)) -Ihost-agent/verify
$(BUILD)/avma-verify: $(VERIFY_OBJ) $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(VERIFY_PKGS))

# ---- fleet collector --------------------------------------------------------------------------
# avma-fleet (issue #19) runs on a collector machine, never on a hypervisor: the common library
# with glib, json-glib, libsodium and libpq; no libvirt, SQLite or agent library.
FLEET_PKGS := glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libsodium libpq
FLEET_SRC := $(wildcard host-agent/fleet/*.c)
FLEET_OBJ := $(FLEET_SRC:%.c=$(BUILD)/%.o)
$(FLEET_OBJ): CFLAGS_MOD := $(call pc_cflags,$(FLEET_PKGS)) -Ihost-agent/fleet
$(BUILD)/avma-fleet: $(FLEET_OBJ) $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(FLEET_PKGS))

# ---- guest agent -------------------------------------------------------------------------------
# avma-guestd links glib, libsystemd (journal, sd_notify) and libsodium (receipt checks) only: its
# modules use the portable core's JSON and plain sockets, and guestd-ioerror.c stands in for the
# two gio functions behind G_IO_ERROR (issue #20: gio, gobject, json-glib and what they load were
# 2 MB of its 6.8 MB idle RSS). The archive holds every module; the daemon pulls in only those it calls, so a
# module it needs that uses gio or json-glib fails its link. avma-guest (short-lived) links all.
GUESTD_PKGS := glib-2.0 libsystemd libsodium
GUESTD_MAIN := guest-agent/guestd.c guest-agent/guestd-ioerror.c
GUEST_LIB_SRC := $(filter-out $(GUESTD_MAIN) guest-agent/guest-cli.c, \
                   $(wildcard guest-agent/*.c))
GUEST_LIB_OBJ := $(GUEST_LIB_SRC:%.c=$(BUILD)/%.o)
GUESTD_MAIN_OBJ := $(GUESTD_MAIN:%.c=$(BUILD)/%.o)
$(GUEST_LIB_OBJ) $(GUESTD_MAIN_OBJ) $(BUILD)/guest-agent/guest-cli.o: \
  CFLAGS_MOD := $(call pc_cflags,$(GLIB_PKGS)) -Iguest-agent -Iguest-agent/core
# Rebuilt from scratch: a module that moved to the core (activation.c) must not linger in it.
$(BUILD)/libavma-guest.a: $(GUEST_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
GUEST_LIBS := $(BUILD)/libavma-guest.a $(BUILD)/libavma-gcore.a $(BUILD)/libavma-common.a \
              $(BUILD)/libavma-pure.a
$(BUILD)/avma-guestd: $(GUESTD_MAIN_OBJ) $(GUEST_LIBS)
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(GUESTD_PKGS))
$(BUILD)/avma-guest: $(BUILD)/guest-agent/guest-cli.o $(GUEST_LIBS)
	$(CC) $(LDFLAGS_EXTRA) -o $@ $^ $(call pc_libs,$(GLIB_PKGS))

# ---- generic compile rule (dependency files track headers) -------------------------------------
$(BUILD)/%.o: %.c $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS_MOD) -MMD -MP -c -o $@ $<

BINS := $(BUILD)/avma-hostd $(BUILD)/avma-host $(BUILD)/avma-guestd $(BUILD)/avma-guest \
        $(BUILD)/avma-verify $(BUILD)/avma-fleet

.PHONY: all deps build demo check clean format
# `make` and `make build` only build (no apt); `make demo` and `make check` install what they need.
all: build
build: $(BINS)

# Test fragments: each adds to CHECK_TARGETS and its own rules, and to CHECK_PREBUILD what its
# suite compiles (built for all suites at once, JOBS at a time, before the first one runs).
CHECK_TARGETS :=
CHECK_PREBUILD :=
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
include tests/unit/unit.mk
include tests/integration/integration.mk
include tests/lint.mk
include tests/fleet/fleet.mk
-include tests/fuzz/fuzz.mk
-include tests/sanitizers/sanitizers.mk
-include tests/e2e/e2e.mk
-include tests/bench/bench.mk
-include packaging/packaging.mk
-include guest-agent/win32/windows.mk

demo: deps
	$(MAKE) build $(BUILD)/avma-portsim
	BUILD=$(BUILD) bash tests/demo.sh

.PHONY: check-prebuild
check-prebuild: $(BINS) $(CHECK_PREBUILD)

# One suite at a time, each with its wall time (CI has a time budget; not a check).
check: deps
	$(MAKE) -j$(JOBS) check-prebuild
	@for t in $(CHECK_TARGETS); do start=$$(date +%s); \
	  $(MAKE) --no-print-directory $$t || { echo "make check: $$t FAILED"; exit 1; }; \
	  echo "make check: $$t took $$(( $$(date +%s) - start )) s"; done
	@echo "make check: all suites passed"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-*

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
