# Benchmarks (issue #8): `make bench` builds the load generator and runs the whole suite, writing
# tests/bench/RESULTS.md; `make bench-profile` runs one N with avma-hostd under `perf record` (one
# profile per mode: storm, renew, hostile, and renewals with the state on tmpfs) and prints the
# hottest functions. Neither is part of `make check`. Re-run on a quiet machine for final figures.
# Included by the top Makefile (BUILD, BASE_CFLAGS, GLIB_PKGS, pc_cflags/pc_libs, LDFLAGS_EXTRA).

BENCH_PKGS := qemu-guest-agent
BENCH_PROFILE_PKGS := linux-perf

BENCH_N ?= 1 100 1000 5000
BENCH_RATE ?= 300
BENCH_DURATION ?= 10
BENCH_IDLE ?= 10
BENCH_GUEST_IDLE ?= 60
BENCH_ECHO_ITERS ?= 20000
BENCH_STATE_BASE ?= /var/tmp
BENCH_TMPFS_N ?= 1000
BENCH_OUT ?= tests/bench/RESULTS.md
BENCH_ARGS ?=
BENCH_PROFILE_N ?= 1000
BENCH_PROFILE_OUT ?= $(BUILD)/bench/hostd.perf.data

BENCH_BIN := $(BUILD)/bench/avma-bench
BENCH_RUN = $(BENCH_BIN) --build $(BUILD) --rate $(BENCH_RATE) --duration $(BENCH_DURATION) \
            --idle $(BENCH_IDLE) --guest-idle $(BENCH_GUEST_IDLE) --echo-iters $(BENCH_ECHO_ITERS) \
            --state-base $(BENCH_STATE_BASE) --tmpfs-n $(BENCH_TMPFS_N)

$(BENCH_BIN): tests/bench/avma-bench.c $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a \
              $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(GLIB_PKGS)) -MMD -MP -o $@ $< \
	  $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA) \
	  $(call pc_libs,$(GLIB_PKGS)) -lm

.PHONY: bench bench-profile
bench: deps
	@bash tests/tools/install-deps.sh $(BENCH_PKGS)
	$(MAKE) build $(BENCH_BIN)
	$(BENCH_RUN) --n "$(BENCH_N)" --out $(BENCH_OUT) $(BENCH_ARGS)
	@# After avma-bench, which writes the whole file: bench-fleet adds its section to it.
	FLEET_RESULTS=$(abspath $(BENCH_OUT)) $(MAKE) --no-print-directory bench-fleet

bench-profile: deps
	@bash tests/tools/install-deps.sh $(BENCH_PROFILE_PKGS)
	$(MAKE) build $(BENCH_BIN)
	$(BENCH_RUN) --n "$(BENCH_PROFILE_N)" --tmpfs-n $(BENCH_PROFILE_N) --skip-guest \
	  --perf $(BENCH_PROFILE_OUT) --out $(BUILD)/bench/profile-results.md $(BENCH_ARGS)
	@for m in storm renew hostile tmpfs; do \
	  echo "== avma-hostd, $$m ($(BENCH_PROFILE_OUT).$$m)"; \
	  perf report -i $(BENCH_PROFILE_OUT).$$m --stdio --no-children --percent-limit 1.5 \
	    --sort dso,symbol -g none 2>/dev/null | grep -E '^ +[0-9]' | head -25; \
	done

# History store (issue #11): `make history-bench` fills a store with HISTORY_EVENTS records over
# HISTORY_MONTHS months, prints its size per million events, the time of a monthly report (in
# process and through avma-host), and the latency of one durable insert. Not part of `make check`.
HISTORY_EVENTS ?= 1000000
HISTORY_MONTHS ?= 25
HISTORY_DIR ?= $(BENCH_STATE_BASE)/avma-history-bench
HISTORY_GEN := $(BUILD)/bench/history-gen
$(HISTORY_GEN): tests/bench/history-gen.c $(BUILD)/libavma-host.a $(BUILD)/libavma-common.a \
                $(BUILD)/libavma-pure.a $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(call pc_cflags,$(HOST_PKGS)) -Ihost-agent -MMD -MP -o $@ $< \
	  $(BUILD)/libavma-host.a $(BUILD)/libavma-common.a $(BUILD)/libavma-pure.a $(LDFLAGS_EXTRA) \
	  $(call pc_libs,$(HOST_PKGS))

.PHONY: history-bench
history-bench: deps
	$(MAKE) build $(HISTORY_GEN)
	$(HISTORY_GEN) --dir $(HISTORY_DIR) --events $(HISTORY_EVENTS) --months $(HISTORY_MONTHS) \
	  --latency 2000
	m=$$(date -u -d "$$(date -u +%Y-%m-01) -1 month" +%Y-%m); \
	  for f in text csv json; do \
	    TIMEFORMAT="avma-host report --month $$m --format $$f: %R s"; \
	    time $(BUILD)/avma-host --state-dir $(HISTORY_DIR) report --month $$m --format $$f >/dev/null; \
	  done
