# libFuzzer targets for the pure modules. `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke`
# (part of `make check`) replays the seed corpora plus a few thousand mutations.
# Included by the top Makefile (BUILD, PURE_SRC, CHECK_TARGETS, DEPS_PKGS).

DEPS_PKGS += clang libclang-rt-14-dev

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 2000
FUZZ_TARGETS := frame kvp schema key
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)
# Compiled from source with clang (not the gcc-built library) so coverage and sanitizers reach
# every pure module. UB aborts rather than just printing, so libFuzzer reports it as a crash.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
               -Wstrict-prototypes -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -I$(BUILD)/gen -Icommon
FUZZ_SRC := $(PURE_SRC) $(BUILD)/gen/kvp-schema.c
# Longest input worth trying per target: a maximum frame (16 412 bytes) plus a seed byte, a
# maximum payload, and short strings for keys.
FUZZ_MAXLEN_frame := 17000
FUZZ_MAXLEN_kvp := 17000
FUZZ_MAXLEN_schema := 17000
FUZZ_MAXLEN_key := 512
FUZZ_OPTS = -max_len=$(FUZZ_MAXLEN_$(1)) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=$(FUZZ_DIR)/artifacts/fuzz-$(1)-

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_SRC) $(BUILD)/gen/kvp-schema.h $(wildcard common/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC)

# Regenerate the committed seed corpora (deterministic).
$(FUZZ_DIR)/make-seeds: tests/fuzz/make-seeds.c $(FUZZ_SRC) $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(FUZZ_SRC)

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds
fuzz-build: $(FUZZ_BINS)

fuzz-seeds: $(FUZZ_DIR)/make-seeds
	$(FUZZ_DIR)/make-seeds tests/fuzz/corpus

# Each target works on a scratch copy of its corpus, so new inputs never land in the repository.
# A crash, leak, timeout or out-of-memory makes libFuzzer exit non-zero: the log tail is shown.
fuzz_run = rm -rf $(FUZZ_DIR)/work/$(1) && mkdir -p $(FUZZ_DIR)/work/$(1) $(FUZZ_DIR)/artifacts && \
	cp tests/fuzz/corpus/$(1)/* $(FUZZ_DIR)/work/$(1)/ && \
	{ $(FUZZ_DIR)/fuzz-$(1) $(call FUZZ_OPTS,$(1)) $(2) $(FUZZ_DIR)/work/$(1) \
	    > $(FUZZ_DIR)/fuzz-$(1).log 2>&1 || \
	  { tail -n 40 $(FUZZ_DIR)/fuzz-$(1).log; \
	    echo "fuzz-$(1): FAILED (log: $(FUZZ_DIR)/fuzz-$(1).log)"; exit 1; }; }

fuzz_summary = for t in $(FUZZ_TARGETS); do \
	  runs=$$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' $(FUZZ_DIR)/fuzz-$$t.log | tail -n 1); \
	  cov=$$(grep -E '^\#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/fuzz-$$t.log | tail -n 1 | \
	         sed 's/.*DONE *//'); \
	  printf '%-12s %10s runs  %s\n' fuzz-$$t "$$runs" "$$cov"; \
	done

fuzz: $(FUZZ_BINS)
	@$(foreach t,$(FUZZ_TARGETS),echo "fuzz-$(t): $(FUZZ_SECONDS) s"; \
	  $(call fuzz_run,$(t),-max_total_time=$(FUZZ_SECONDS)) &&) true
	@echo "fuzz: all targets passed"; $(fuzz_summary)

fuzz-smoke: $(FUZZ_BINS)
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),-runs=$(FUZZ_SMOKE_RUNS) -seed=1) &&) true
	@echo "fuzz-smoke: all targets passed"; $(fuzz_summary)

CHECK_TARGETS += fuzz-smoke
