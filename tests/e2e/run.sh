#!/usr/bin/env bash
# tests/e2e/run.sh: end-to-end tests with real QEMU (TCG) guests under a private session libvirtd
# run by a throw-away unprivileged user. Needs root (creates the user), the packages of
# tests/e2e/e2e.mk (`make e2e-deps`) and, in the real mode, the four binaries in $BUILD.
#
# Usage: bash tests/e2e/run.sh [--plumbing|--real] [--keep] [SCENARIO...]
#   --plumbing  placeholder guests and a socat host side: initramfs, modules, port discovery,
#               session libvirtd, channel socket path from the live XML, console capture and the
#               virtio-port facts of brief §9a (no product binaries needed)
#   --real      the product: avma-hostd/avma-host on the host, avma-guestd/avma-guest in guests
#   --keep      keep the temporary directory (E2E_KEEP=1)
#   SCENARIO    run only these scenarios (names without the scenario_ prefix)
# Environment: BUILD (default build), E2E_MODE (plumbing|real), E2E_KEEP=1.
# Prints PASS/FAIL per scenario, timings, and "N passed, N failed"; exits non-zero on a failure.
set -uo pipefail
shopt -s extglob

# `make e2e` runs the product; --plumbing (make e2e-plumbing) tests the harness alone.
E2E_DEFAULT_MODE=real

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/e2e/lib.sh
source "$E2E_DIR/lib.sh"
ROOT=$(cd "$E2E_DIR/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
MODE=${E2E_MODE:-$E2E_DEFAULT_MODE}
ONLY=()
for a in "$@"; do
  case $a in
    --plumbing) MODE=plumbing ;;
    --real) MODE=real ;;
    --keep) E2E_KEEP=1 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) ONLY+=("$a") ;;
  esac
done
export E2E_KEEP=${E2E_KEEP:-0}

want() { # want NAME: selected on the command line (or no selection)
  ((${#ONLY[@]} == 0)) && return 0
  local n
  for n in "${ONLY[@]}"; do [[ $n == "$1" ]] && return 0; done
  return 1
}
maybe_run() { want "$1" && run_scenario "$1"; }

TIMINGS=()
timing() { TIMINGS+=("$(printf '%-44s %s' "$1" "$2")"); e2e_log "timing: $1 = $2"; }

preflight() {
  ((EUID == 0)) || e2e_die "run as root (it creates a throw-away user); try: sudo make e2e"
  local t
  for t in virsh libvirtd qemu-system-x86_64 busybox xmllint socat cpio gcc jq setpriv modprobe; do
    command -v "$t" >/dev/null || e2e_die "missing $t (make e2e-deps)"
  done
}

# each mode's scenarios (the two files use the same scenario names for the same ideas)
case $MODE in
  plumbing) source "$E2E_DIR/plumbing.sh" ;;
  real) source "$E2E_DIR/scenarios.sh" && source "$E2E_DIR/migration.sh" ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac

main() {
  preflight
  e2e_setup_tmp
  e2e_install_trap
  e2e_user_create
  e2e_log "mode $MODE, tmp $E2E_TMP, user $E2E_USER"
  local t0=$EPOCHREALTIME
  e2e_libvirtd_start
  timing "session libvirtd start" "$(e2e_since "$t0")s"
  case $MODE in
    plumbing) plumbing_main ;;
    real) real_main ;;
    *) e2e_die "unknown mode $MODE" ;;
  esac
  echo "==== timings"
  local l
  for l in "${TIMINGS[@]}"; do printf '%s\n' "$l"; done
  timing "whole run" "$(e2e_since "$E2E_T0")s"
  e2e_summary
}
main
