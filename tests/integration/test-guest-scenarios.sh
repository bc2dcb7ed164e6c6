#!/usr/bin/env bash
# The guest agent's shared scenarios (tests/scenarios/guest-scenarios.sh) against the Linux
# avma-guestd and avma-guest; tests/windows/wine-agent.sh runs the same list against the Windows
# agent under Wine.
. "$(dirname "$0")/lib.sh"

HOST_CONF=$T/host.conf
HOSTD_CONF=$HOST_CONF
printf '[host]\nvalidity=30\njournal=no\n' >"$HOST_CONF"
stop_hostd() { kill "$HOSTD_PID" 2>/dev/null; wait "$HOSTD_PID" 2>/dev/null; }
stop_port() { local v=PORT_PID_$1; kill "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; }

# The adapter.
PRODUCT=()
gproduct() { PRODUCT=("product_version=$1" "product_edition=$2"); }
gconf() { local name=$1; shift; guest_conf "$name" "${PRODUCT[@]}" "$@"; }
gstart() {
  guestd "$1"
  wait_for 5 "[ -S '$T/g-$1/control.sock' ]"
}
gpid() { local v=GUESTD_PID_$1; echo "${!v:-}"; }
gstop() { local p; p=$(gpid "$1"); kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }

. "$(dirname "$0")/../scenarios/guest-scenarios.sh"
run_guest_scenarios
exit $FAILED
