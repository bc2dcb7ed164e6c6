# libFuzzer targets: the pure modules, both config parsers, and a stateful host session fed with
# fuzzed byte streams. `make fuzz` runs each for FUZZ_SECONDS; `make fuzz-smoke` (part of
# `make check`) replays the seed corpora plus a few thousand mutations; `make fuzz-ci` (CI) runs
# each for FUZZ_CI_SECONDS and keeps a summary of executions and coverage.
# Included by the top Makefile (BUILD, PURE_SRC, CHECK_TARGETS, DEPS_PKGS).

DEPS_PKGS += clang libclang-rt-14-dev llvm-14

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_RUNS ?= 2000
FUZZ_CI_SECONDS ?= 60
# Targets that link glib (and the agent modules they exercise).
FUZZ_GLIB_TARGETS := hostconf guestconf session domxml licence eventlog vmsjson control
# What avma-verify reads: keys, signed notes, minisign signatures, certificates (issue #18).
FUZZ_GLIB_TARGETS += signed
# The guest's kept receipts (issue #17: every file a guest agent loads is fuzzed).
FUZZ_GLIB_TARGETS += receipts
# Targets of the portable guest core (guest-agent/core): pure C11 like the common modules.
FUZZ_GCORE_TARGETS := xchg gstate jsonflat
FUZZ_TARGETS := frame kvp schema key $(FUZZ_GCORE_TARGETS) $(FUZZ_GLIB_TARGETS)
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz-%)
# Compiled from source with clang (not the gcc-built library) so coverage and sanitizers reach
# every pure module. UB aborts rather than just printing, so libFuzzer reports it as a crash.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
               -Wstrict-prototypes -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -I$(BUILD)/gen -Icommon \
               -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt
FUZZ_SRC := $(PURE_SRC) $(BUILD)/gen/kvp-schema.c
# Longest input worth trying per target: a maximum frame (16 412 bytes) plus a seed byte, a
# maximum payload, and short strings for keys.
FUZZ_MAXLEN_frame := 17000
FUZZ_MAXLEN_kvp := 17000
FUZZ_MAXLEN_schema := 17000
FUZZ_MAXLEN_key := 512
FUZZ_MAXLEN_hostconf := 4096
FUZZ_MAXLEN_guestconf := 4096
FUZZ_MAXLEN_session := 40000
FUZZ_MAXLEN_domxml := 16384
FUZZ_MAXLEN_licence := 4096
FUZZ_MAXLEN_eventlog := 16384
FUZZ_MAXLEN_vmsjson := 16384
FUZZ_MAXLEN_xchg := 40000
FUZZ_MAXLEN_gstate := 16384
FUZZ_MAXLEN_jsonflat := 16384
FUZZ_MAXLEN_control := 5000
FUZZ_MAXLEN_signed := 16384
FUZZ_MAXLEN_receipts := 16384
FUZZ_OPTS = -max_len=$(FUZZ_MAXLEN_$(1)) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix=$(FUZZ_DIR)/artifacts/fuzz-$(1)- \
            $(if $(wildcard tests/fuzz/fuzz-$(1).dict),-dict=tests/fuzz/fuzz-$(1).dict)

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_SRC) $(BUILD)/gen/kvp-schema.h $(wildcard common/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC)

# The guest core targets: the pure sources plus the core's, still no glib.
FUZZ_GCORE_SRC := $(wildcard guest-agent/core/*.c)
define fuzz_gcore_rule
$(FUZZ_DIR)/fuzz-$(1): tests/fuzz/fuzz-$(1).c $(FUZZ_SRC) $(FUZZ_GCORE_SRC) $(BUILD)/gen/kvp-schema.h \
                       $(wildcard common/*.h guest-agent/core/*.h)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iguest-agent/core -o $$@ $$< $(FUZZ_SRC) $(FUZZ_GCORE_SRC)
endef
$(foreach t,$(FUZZ_GCORE_TARGETS),$(eval $(call fuzz_gcore_rule,$(t))))

# The glib targets: compiled from source with clang too (sanitizers and coverage reach the agent
# code), linked with the libraries pkg-config names.
# msg.c wraps the guest core's wire.c.
FUZZ_GLIB_SRC := $(FUZZ_SRC) $(GLIB_SRC) guest-agent/core/wire.c
FUZZ_SRC_hostconf := host-agent/host-config.c
FUZZ_SRC_guestconf := guest-agent/guest-config.c guest-agent/core/schedule.c
FUZZ_SRC_session := host-agent/session.c host-agent/host.c host-agent/host-config.c \
                    host-agent/licence.c host-agent/host-event.c host-agent/chainlog.c \
                    host-agent/hostkey.c
FUZZ_SRC_domxml := host-agent/domxml.c
# The guest's control requests and receipts list are read with the portable core's JSON reader
# (wire.c is in FUZZ_GLIB_SRC already).
FUZZ_GCORE_LINKED := $(filter-out guest-agent/core/wire.c,$(FUZZ_GCORE_SRC))
FUZZ_SRC_control := guest-agent/control-request.c $(FUZZ_GCORE_LINKED)
FUZZ_SRC_receipts := guest-agent/receipts.c guest-agent/receipts-view.c $(FUZZ_GCORE_LINKED)
FUZZ_SRC_licence := host-agent/licence.c host-agent/host-event.c host-agent/chainlog.c
FUZZ_SRC_vmsjson := host-agent/vmview.c host-agent/host.c host-agent/host-config.c \
                    host-agent/licence.c host-agent/session.c host-agent/host-event.c host-agent/chainlog.c \
                    host-agent/hostkey.c
FUZZ_PKGS_domxml := libxml-2.0
FUZZ_GLIB_CFLAGS = $(FUZZ_CFLAGS) -Ihost-agent -Iguest-agent -Iguest-agent/core -Itests/fuzz \
                   $(call pc_cflags,$(GLIB_PKGS) libxml-2.0)
define fuzz_glib_rule
$(FUZZ_DIR)/fuzz-$(1): tests/fuzz/fuzz-$(1).c $(FUZZ_GLIB_SRC) $(FUZZ_SRC_$(1)) \
                       $(BUILD)/gen/kvp-schema.h $(wildcard common/*.h host-agent/*.h guest-agent/*.h) tests/fuzz/fuzz-glib.h
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_GLIB_CFLAGS) -o $$@ $$< $(FUZZ_GLIB_SRC) $(FUZZ_SRC_$(1)) \
	  $(call pc_libs,$(GLIB_PKGS) $(FUZZ_PKGS_$(1)))
endef
$(foreach t,$(FUZZ_GLIB_TARGETS),$(eval $(call fuzz_glib_rule,$(t))))

# Regenerate the committed seed corpora (deterministic).
$(FUZZ_DIR)/make-seeds: tests/fuzz/make-seeds.c $(FUZZ_SRC) $(BUILD)/gen/kvp-schema.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -o $@ $< $(FUZZ_SRC)

# Line coverage the corpora reach: each target rebuilt with source-based coverage (no sanitizers)
# replays its working corpus (or the seeds) once; llvm-cov reports the files it is meant to
# exercise.
FUZZ_COV_DIR := $(FUZZ_DIR)/cov
FUZZ_COV_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer -fprofile-instr-generate \
                   -fcoverage-mapping -I$(BUILD)/gen -Icommon -Ihost-agent -Iguest-agent \
                   -Iguest-agent/core \
                   -Itests/fuzz $(call pc_cflags,$(GLIB_PKGS) libxml-2.0)
FUZZ_COVERS_frame := common/frame.c
FUZZ_COVERS_kvp := common/kvp.c
FUZZ_COVERS_schema := common/schema.c
FUZZ_COVERS_key := common/catalogue.c common/policy.c
FUZZ_COVERS_hostconf := host-agent/host-config.c
FUZZ_COVERS_guestconf := guest-agent/guest-config.c
FUZZ_COVERS_session := host-agent/session.c host-agent/host.c common/msg.c common/frame.c \
                       common/kvp.c common/schema.c
FUZZ_COVERS_domxml := host-agent/domxml.c
FUZZ_COVERS_licence := host-agent/licence.c
FUZZ_COVERS_eventlog := common/events.c
FUZZ_COVERS_vmsjson := host-agent/vmview.c
FUZZ_COVERS_xchg := guest-agent/core/xchg.c guest-agent/core/wire.c guest-agent/core/agent.c
FUZZ_COVERS_gstate := guest-agent/core/gstate.c guest-agent/core/rfc3339.c
FUZZ_COVERS_jsonflat := guest-agent/core/evline.c
FUZZ_COVERS_control := guest-agent/control-request.c
FUZZ_COVERS_signed := common/sign.c common/keycert.c
FUZZ_COVERS_receipts := guest-agent/receipts.c common/receipt.c
fuzz_empty :=
fuzz_space := $(fuzz_empty) $(fuzz_empty)
# target=file:file... for each target, for the shell loop below.
FUZZ_COVERS_TABLE = $(foreach t,$(FUZZ_TARGETS),$(t)=$(subst $(fuzz_space),:,$(strip $(FUZZ_COVERS_$(t)))))
fuzz_cov_src = $(if $(filter $(1),$(FUZZ_GLIB_TARGETS)),$(FUZZ_GLIB_SRC) $(FUZZ_SRC_$(1)),$(FUZZ_SRC) \
                 $(if $(filter $(1),$(FUZZ_GCORE_TARGETS)),$(FUZZ_GCORE_SRC)))
$(FUZZ_COV_DIR)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_GLIB_SRC) $(BUILD)/gen/kvp-schema.h \
                        $(wildcard common/*.h host-agent/*.h guest-agent/*.h host-agent/*.c guest-agent/*.c)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) -o $@ $< $(call fuzz_cov_src,$*) \
	  $(call pc_libs,$(GLIB_PKGS) $(FUZZ_PKGS_$*))

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-seeds fuzz-ci fuzz-coverage $(FUZZ_TARGETS:%=fuzz-ci-one-%)
fuzz-coverage: $(FUZZ_TARGETS:%=$(FUZZ_COV_DIR)/fuzz-%)
	@for t in $(FUZZ_TARGETS); do \
	  corpus=$(FUZZ_DIR)/work/$$t; [ -d $$corpus ] || corpus=tests/fuzz/corpus/$$t; \
	  rm -f $(FUZZ_COV_DIR)/$$t.profraw; \
	  LLVM_PROFILE_FILE=$(FUZZ_COV_DIR)/$$t.profraw $(FUZZ_COV_DIR)/fuzz-$$t -runs=0 \
	    -max_len=$$(case $$t in key) echo 512;; *conf|licence) echo 4096;; *) echo 40000;; esac) \
	    $$corpus >/dev/null 2>&1 || { echo "fuzz-coverage: $$t failed"; exit 1; }; \
	  llvm-profdata-14 merge -sparse -o $(FUZZ_COV_DIR)/$$t.profdata $(FUZZ_COV_DIR)/$$t.profraw; \
	  files=$$(printf '%s\n' $(FUZZ_COVERS_TABLE) | sed -n "s/^$$t=//p" | tr ':' ' '); \
	  llvm-cov-14 report $(FUZZ_COV_DIR)/fuzz-$$t -instr-profile=$(FUZZ_COV_DIR)/$$t.profdata \
	    $$files > $(FUZZ_COV_DIR)/$$t.txt; \
	  printf '%-16s lines %7s  branches %7s  (%s)\n' fuzz-$$t \
	    "$$(awk '$$1 == "TOTAL" {print $$10}' $(FUZZ_COV_DIR)/$$t.txt)" \
	    "$$(awk '$$1 == "TOTAL" {print $$13}' $(FUZZ_COV_DIR)/$$t.txt)" "$$files"; \
	done
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

# CI: every target for at least a minute; any crash, leak or timeout fails. The summary
# (executions, edge coverage and features per target) is kept in $(FUZZ_DIR)/summary.txt.
# Targets run FUZZ_CI_JOBS at a time (each libFuzzer process is single-threaded): one per core
# keeps every target's minute while the whole run takes half as long on two cores.
FUZZ_CI_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
$(FUZZ_TARGETS:%=fuzz-ci-one-%): fuzz-ci-one-%: $(FUZZ_DIR)/fuzz-%
	@echo "fuzz-$*: $(FUZZ_CI_SECONDS) s"
	@$(call fuzz_run,$*,-max_total_time=$(FUZZ_CI_SECONDS))

fuzz-ci: $(FUZZ_BINS)
	@$(MAKE) --no-print-directory -j$(FUZZ_CI_JOBS) $(FUZZ_TARGETS:%=fuzz-ci-one-%)
	@echo "fuzz-ci: all targets passed"; $(fuzz_summary) | tee $(FUZZ_DIR)/summary.txt
	@$(MAKE) --no-print-directory -j$(FUZZ_CI_JOBS) fuzz-coverage | tee -a $(FUZZ_DIR)/summary.txt

fuzz-smoke: $(FUZZ_BINS)
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),-runs=$(FUZZ_SMOKE_RUNS) -seed=1) &&) true
	@echo "fuzz-smoke: all targets passed"; $(fuzz_summary)

CHECK_TARGETS += fuzz-smoke
CHECK_PREBUILD += $(FUZZ_BINS)
