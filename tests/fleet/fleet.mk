# The fleet collector's tests (issue #19): tests/fleet/test-fleet.sh runs avma-fleet against a
# throwaway PostgreSQL 15 server (unix socket only) with bundles from bundle-gen, a generator
# that writes real chains and signatures with the host agent's own code; test-fleet-hosts.sh with
# bundles that real avma-hostd instances export. `make fleet-test` is part
# of `make check`; `make bench-fleet` (in `make bench`'s neighbourhood, not in check) and
# `make demo-fleet` use the same pieces.
# Included by the top Makefile (BUILD, BASE_CFLAGS, HOST_PKGS, pc_cflags/pc_libs, LDFLAGS_EXTRA).

FLEET_GEN := $(BUILD)/tests/fleet/bundle-gen
$(FLEET_GEN): tests/fleet/bundle-gen.c $(BUILD)/libavma-host.a $(BUILD)/libavma-common.a \
              $(BUILD)/libavma-pure.a $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(HOST_PKGS)) -Ihost-agent -MMD -MP -o $@ $< \
	  $(BUILD)/libavma-host.a $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA) \
	  $(call pc_libs,$(HOST_PKGS))

.PHONY: fleet-test bench-fleet demo-fleet
# test-fleet-hosts.sh runs real avma-hostd and avma-guest over the integration tests' port
# stand-ins (avma-portsim).
fleet-test: $(BUILD)/avma-fleet $(FLEET_GEN) $(BINS) $(PORTSIM)
	BUILD=$(BUILD) bash tests/fleet/test-fleet.sh
	BUILD=$(BUILD) bash tests/fleet/test-fleet-hosts.sh
CHECK_TARGETS += fleet-test
CHECK_PREBUILD += $(FLEET_GEN)

# 2 000 hosts x 100 VMs for a month by default; FLEET_BENCH_HOSTS etc. scale it down.
FLEET_BENCH_HOSTS ?= 2000
FLEET_BENCH_VMS ?= 100
FLEET_BENCH_DAYS ?= 30
bench-fleet: $(BUILD)/avma-fleet $(FLEET_GEN)
	BUILD=$(BUILD) HOSTS=$(FLEET_BENCH_HOSTS) VMS=$(FLEET_BENCH_VMS) DAYS=$(FLEET_BENCH_DAYS) \
	  bash tests/fleet/bench-fleet.sh

demo-fleet: deps
	$(MAKE) $(BUILD)/avma-fleet $(FLEET_GEN)
	BUILD=$(BUILD) bash tests/fleet/demo-fleet.sh
