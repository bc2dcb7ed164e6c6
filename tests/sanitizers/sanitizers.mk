# Sanitizers and valgrind over the whole test suite.
#   make check-asan       builds everything again with ASan+UBSan in $(BUILD)-asan and runs the unit
#                         and integration tests there; part of `make check`.
#   make check-valgrind   runs the integration suite with the daemons under valgrind memcheck (zero
#                         errors, zero definite leaks); CI only, it takes minutes.
# A report from any process, including a daemon no test waits for, fails the target: reports go
# to per-process files that are checked at the end.
# Included by the top Makefile (BUILD, CHECK_TARGETS, DEPS_PKGS).

DEPS_PKGS += valgrind

ASAN_BUILD := $(BUILD)-asan
ASAN_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_LOGS = $(abspath $(ASAN_BUILD))/san-logs
# halt_on_error: the first error stops the process, so the test that caused it fails too.
# fast_unwind_on_malloc=0: glib has no frame pointers, and without it a leak report stops at
# g_malloc instead of naming our code.
# G_SLICE=always-malloc: glib's slice allocator would hide blocks from ASan and valgrind.
san_env = G_SLICE=always-malloc G_DEBUG=gc-friendly AVMA_SANITIZED=1 \
  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:log_path=$(ASAN_LOGS)/asan \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(ASAN_LOGS)/ubsan \
  LSAN_OPTIONS=suppressions=$(abspath tests/sanitizers/lsan.supp):print_suppressions=0

# Show and fail on any report file (one per process that had an error).
san_reports = if ls $(1) >/dev/null 2>&1; then \
	  for f in $(1); do echo "== $$f"; head -n 60 "$$f"; done; \
	  echo "$(2): FAILED (reports above)"; exit 1; fi

.PHONY: check-asan check-valgrind asan-prebuild
# What the sanitized unit and integration runs compile, built in parallel first (BUILD is the
# sanitized one in that make).
asan-prebuild: $(BINS) $(UNIT_PURE_BINS) $(UNIT_GCORE_BINS) $(UNIT_GLIB_BINS) $(UNIT_WIN_BINS) \
               $(UNIT_FLEET_BINS) $(PORTSIM) $(HOSTILE)
# The sub-make builds only unit and integration, so it never comes back here; -k runs both even
# when one fails.
check-asan:
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=$(ASAN_BUILD) SAN='$(ASAN_SAN)' OPT='-O1 -g' \
	  asan-prebuild
	@$(san_env) $(MAKE) -k --no-print-directory BUILD=$(ASAN_BUILD) SAN='$(ASAN_SAN)' \
	  OPT='-O1 -g' unit integration; rc=$$?; \
	  $(call san_reports,$(ASAN_LOGS)/*,check-asan); \
	  if [ $$rc -ne 0 ]; then echo "check-asan: FAILED"; exit $$rc; fi
	@echo "check-asan: unit and integration passed under ASan+UBSan, no reports"

VG_LOGS = $(abspath $(BUILD))/valgrind-logs
VALGRIND = valgrind --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --error-exitcode=99 --track-origins=yes \
  --suppressions=$(abspath tests/sanitizers/valgrind.supp) --log-file=$(VG_LOGS)/vg.%p
# Every daemon that exits writes an ERROR SUMMARY (definite leaks count as errors); one killed
# by a test (kill -9) writes none and is only counted.
check-valgrind: $(BINS) $(PORTSIM) $(HOSTILE)
	@rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	@G_SLICE=always-malloc G_DEBUG=gc-friendly AVMA_WRAP='$(VALGRIND)' BUILD=$(BUILD) \
	  bash tests/integration/run.sh $(INTEGRATION_TESTS); rc=$$?; \
	  bad=$$(grep -lE 'ERROR SUMMARY: [1-9]' $(VG_LOGS)/vg.* 2>/dev/null); \
	  n=$$(ls $(VG_LOGS) | wc -l); done=$$(grep -l 'ERROR SUMMARY' $(VG_LOGS)/vg.* | wc -l); \
	  if [ -n "$$bad" ]; then for f in $$bad; do echo "== $$f"; head -n 80 "$$f"; done; \
	    echo "check-valgrind: FAILED: memcheck errors (logs above)"; exit 1; fi; \
	  if [ $$rc -ne 0 ]; then echo "check-valgrind: FAILED: tests failed under valgrind"; exit $$rc; fi; \
	  echo "check-valgrind: $$n daemon runs under memcheck ($$done ran to exit): 0 errors," \
	    "0 definite leaks"

CHECK_TARGETS += check-asan
