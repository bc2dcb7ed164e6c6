# Unit tests (cmocka), one binary per module: `make unit` builds and runs them all.
# Included by the top Makefile (BUILD, CC, BASE_CFLAGS, LDFLAGS_EXTRA, pc_cflags/pc_libs, HOST_PKGS).

# Tests of the pure modules link only libavma-pure.a and cmocka, so they build without glib or the
# agents.
UNIT_PURE := frame kvp schema catalogue policy
# Tests of the glib modules and agent libraries.
UNIT_GLIB :=
# host agent: libvirt domain XML and metadata (issue #3)
UNIT_GLIB += domxml metadata
UNIT_GLIB += activation exchange channel
# the portable guest core's guest.state text against GKeyFile, both ways (issue #20)
UNIT_GLIB += gstate-compat
# both daemons: main-loop life cycle and sd_notify (issue #7)
UNIT_GLIB += daemon
# host agent: per-guest limits (issue #9)
UNIT_GLIB += session
# host agent: compliance history store and monthly report (issue #11)
UNIT_GLIB += history report
# durable writes: modes, symlinks, temp names (issue #17)
UNIT_GLIB += fsutil
# guest agent: control-socket requests (issue #17)
UNIT_GLIB += control
# host agent: typed host events, removable observers, one VM identity (issue #16)
UNIT_GLIB += host-event
# host agent: the hash-chained record log and its verifier (issue #18)
UNIT_GLIB += chainlog
# Ed25519 keys, minisign signatures and signed notes (issue #18)
UNIT_GLIB += sign keycert hostkey
# signed activation receipts (issue #18 item 4)
UNIT_GLIB += receipt

UNIT_DIR := $(BUILD)/tests/unit
UNIT_PURE_BINS := $(UNIT_PURE:%=$(UNIT_DIR)/test-%)
UNIT_GLIB_BINS := $(UNIT_GLIB:%=$(UNIT_DIR)/test-%)
UNIT_GLIB_LIBS := $(BUILD)/libavma-guest.a $(BUILD)/libavma-gcore.a $(BUILD)/libavma-host.a \
                  $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a

$(UNIT_PURE_BINS): $(UNIT_DIR)/test-%: tests/unit/test-%.c $(BUILD)/libavma-pure.a \
                   $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,cmocka) -MMD -MP -o $@ $< $(BUILD)/libavma-pure.a \
	  $(LDFLAGS_EXTRA) $(call pc_libs,cmocka)

$(UNIT_GLIB_BINS): $(UNIT_DIR)/test-%: tests/unit/test-%.c $(UNIT_GLIB_LIBS) \
                   $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(HOST_PKGS) cmocka) -Ihost-agent -Iguest-agent \
	  -Iguest-agent/core -MMD -MP -o $@ $< $(UNIT_GLIB_LIBS) $(LDFLAGS_EXTRA) $(call pc_libs,$(HOST_PKGS) cmocka)

# The portable guest core (issue #20): pure like the common modules, so its test links only
# libavma-gcore.a, libavma-pure.a and cmocka.
UNIT_GCORE_BINS := $(UNIT_DIR)/test-gcore
$(UNIT_GCORE_BINS): $(UNIT_DIR)/test-%: tests/unit/test-%.c $(BUILD)/libavma-gcore.a \
                    $(BUILD)/libavma-pure.a $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,cmocka) -Iguest-agent/core -MMD -MP -o $@ $< \
	  $(BUILD)/libavma-gcore.a $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA) $(call pc_libs,cmocka)

# Windows guest agent: registry values to the declared product, a pure file built here too (#20)
UNIT_WIN_BINS := $(UNIT_DIR)/test-product-map
$(UNIT_DIR)/test-product-map: tests/unit/test-product-map.c guest-agent/win32/product-map.c \
                              $(BUILD)/libavma-pure.a $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,cmocka) -Iguest-agent/core -Iguest-agent/win32 -o $@ \
	  $(filter %.c,$^) $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA) $(call pc_libs,cmocka)

# The fleet collector's bundle checks (issue #19): fleet-bundle.o with the common libraries; the
# host library only for the checkpoint text the test signs.
UNIT_FLEET_BINS := $(UNIT_DIR)/test-fleet-bundle
$(UNIT_DIR)/test-fleet-bundle: tests/unit/test-fleet-bundle.c $(BUILD)/host-agent/fleet/fleet-bundle.o \
                               $(UNIT_GLIB_LIBS) $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(HOST_PKGS) cmocka) -Ihost-agent -Ihost-agent/fleet \
	  -MMD -MP -o $@ $< $(BUILD)/host-agent/fleet/fleet-bundle.o $(UNIT_GLIB_LIBS) $(LDFLAGS_EXTRA) \
	  $(call pc_libs,$(HOST_PKGS) cmocka)

# Run every binary even after a failure, then fail if any did.
.PHONY: unit
unit: $(UNIT_PURE_BINS) $(UNIT_GCORE_BINS) $(UNIT_GLIB_BINS) $(UNIT_WIN_BINS) $(UNIT_FLEET_BINS)
	@failed=""; \
	for t in $^; do \
	  echo "== $$t"; \
	  $$t || failed="$$failed $${t##*/}"; \
	done; \
	if [ -n "$$failed" ]; then echo "unit: FAILED:$$failed"; exit 1; fi; \
	echo "unit: all $(words $^) test binaries passed"

CHECK_TARGETS += unit
CHECK_PREBUILD += $(UNIT_PURE_BINS) $(UNIT_GCORE_BINS) $(UNIT_GLIB_BINS) $(UNIT_WIN_BINS) \
                  $(UNIT_FLEET_BINS)
