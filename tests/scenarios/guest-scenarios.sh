# guest-scenarios: the guest agent's behaviour as one list of scenarios, run against both agents
# with the same checks: tests/integration/test-guest-scenarios.sh (Linux avma-guestd) and
# tests/windows/wine-agent.sh (avma-guestd.exe under Wine), each against the real avma-hostd.
#
# A runner sources its own helpers (lib.sh or lib-wine.sh: check, eq, wait_for, port, stop_port,
# hostd, stop_hostd, licence, hev, gcount, the KEY_* constants), defines the adapter and
# HOST_CONF (the file its hostd reads), sources this file and calls run_guest_scenarios:
#   gproduct VERSION EDITION  the image's declared product (Linux: the configuration; Windows:
#                             the registry), for the configurations written after it
#   gconf NAME [LINE...]      NAME's configuration, short timings (RENEW: renewal seconds)
#   guest NAME ARGS...        the CLI, output without CRs, its exit status kept
#   gstart NAME, gstop NAME   the agent's service in the background / stopped cleanly
#   gpid NAME                 the agent's process, for its CPU time
# The guest NAME uses the port NAME (port NAME), the host serves it (hostd NAME). Scenarios run
# in order; each leaves the host agent and the service as it found them unless it says so. A
# runner's after_NAME, when defined, runs right after scenario NAME (checks only one agent has,
# in the state that scenario leaves).

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The image declares 2022 Standard: ipk of another product's AVMA key names the right one.
gs_bound_product() {
  gproduct 2022 Standard
  gconf bound
  local out rc
  out=$(guest bound ipk "$KEY_2025_DC" 2>&1); rc=$?
  eq "ipk of another product's key: refused" "$rc" 1
  check "ipk of another product's key: names this image's AVMA key" grep -q "$KEY_2022_STD" <<<"$out"
}

# AVMA Success at start with nobody typing, renewal, and every CLI verb through the service.
# Leaves vm1's port, the host agent and the service running.
gs_success() {
  licence 2022 Datacenter yes
  port vm1
  hostd vm1
  RENEW=2 gconf vm1
  local out rc
  out=$(guest vm1 ipk "$KEY_2022_STD"); rc=$?
  eq "ipk without the service: exit 0" "$rc" 0
  check "ipk: says what it installed" grep -q "Installed AVMA key for Windows Server 2022 Standard" <<<"$out"
  gstart vm1
  check "service: started" test -n "$(gpid vm1)"
  check "success: AVMA Success at start, nobody typing" wait_for 10 '[ "$(gcount vm1 "AVMA Success")" -ge 1 ]'
  check "renewal: renews on the configured interval" wait_for 15 '[ "$(gcount vm1 "AVMA Success")" -ge 3 ]'
  check "host: 12310 AVMA Success for vm1" \
    test "$(hev | jq '[.[] | select(.vm == "vm1" and .notification == "AVMA Success")] | length')" -ge 1
  eq "dli through the service: Licensed" "$(guest vm1 --json dli | jq -r .license_status)" Licensed
  eq "xpr --json: licensed" "$(guest vm1 --json xpr | jq -r .licensed)" true
  check "dlv: slmgr's AVMA client block" grep -q "Host Digital PID2" <<<"$(guest vm1 dlv)"
  check "dlv: Guest IAID label" grep -q "Guest IAID: " <<<"$(guest vm1 dlv)"
  out=$(guest vm1 ato); rc=$?
  eq "ato through the service (it holds the port): exit 0" "$rc" 0
  check "ato: prints the notification" grep -q "^AVMA Success: " <<<"$out"
  eq "ato --json: exit_code 0" "$(guest vm1 --json ato | jq -r .exit_code)" 0
  eq "events --json: one JSON array" "$(guest vm1 events --json | jq -r 'type')" array
}

# doctor, with the service running and the host answering: every check ok, in the fix order.
gs_doctor() {
  local rc
  guest vm1 doctor >/dev/null; rc=$?
  eq "doctor, all well: exit 0" "$rc" 0
  eq "doctor --json: the checks in the order they must be fixed" \
    "$(guest vm1 --json doctor | jq -r '[.[].check] | join(",")')" \
    "port present,port owned by the agent,host side connected,key installed,last outcome"
  eq "doctor --json: each ok" "$(guest vm1 --json doctor | jq -r '[.[].status] | unique | join(",")')" ok
  check "doctor: the key's product named" grep -q "AVMA key for Windows Server 2022 Standard" <<<"$(guest vm1 doctor)"
}

gs_invalid_host() {
  licence 2022 Datacenter no
  local out rc
  out=$(guest vm1 ato); rc=$?
  eq "host not activated: ato exits 3 (Invalid Host)" "$rc" 3
  check "host not activated: the reason says so" grep -qi "activated" <<<"$out"
  licence 2022 Datacenter yes
}

# A non-AVMA key stops AVMA and removes what the guest published; the AVMA key brings it back.
gs_key_replacement() {
  local out rc
  out=$(guest vm1 ipk WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY); rc=$?
  eq "ipk of a non-AVMA key through the service: exit 0" "$rc" 0
  check "ipk of a non-AVMA key: says AVMA stops" grep -q "not an AVMA key" <<<"$out"
  check "key replacement: the host dropped the guest's KVP data" \
    wait_for 10 'grep -q "vm1: guest removed all the KVP data" "$T/hostd.log"'
  check "key replacement: nothing left to clear" \
    wait_for 5 '[ "$(guest vm1 --json dlv | jq -r .kvp_clear_pending)" = false ]'
  guest vm1 ipk "$KEY_2022_STD" >/dev/null
  check "key reinstalled: activates again" \
    wait_for 10 '[ "$(guest vm1 --json dli | jq -r .license_status)" = Licensed ]'
}

# The host agent goes away: Invalid Host once the retries run out, no spinning meanwhile, and the
# next retry succeeds once it is back.
gs_host_absent() {
  stop_hostd
  local n0 n1 c0 c1 pid
  n0=$(gcount vm1 "Invalid Host")
  check "host absent: Invalid Host logged" wait_for 15 '[ "$(gcount vm1 "Invalid Host")" -gt "$n0" ]'
  pid=$(gpid vm1)
  c0=$(cpu_ticks "$pid"); sleep 5; c1=$(cpu_ticks "$pid")
  echo "# host absent 5 s: agent CPU $((c1 - c0)) ticks ($(getconf CLK_TCK)/s)"
  check "host absent: agent used under 0.25 s CPU in 5 s" test $((c1 - c0)) -lt 25
  n1=$(gcount vm1 "AVMA Success")
  hostd vm1
  check "host back: the retry succeeds" wait_for 15 '[ "$(gcount vm1 "AVMA Success")" -gt "$n1" ]'
}

# A throttling host is back-pressure (brief section 6): the guest waits and retries; nothing
# fails and nothing is Invalid Data. Stops the service and the host agent.
gs_throttled() {
  stop_hostd
  cp "$HOST_CONF" "$HOST_CONF.orig"
  printf '[limits]\nactivation_burst=1\nactivations_per_minute=60\n' >>"$HOST_CONF"
  hostd vm1
  local fails=0 i
  for i in 1 2 3 4 5 6; do guest vm1 ato >/dev/null || fails=$((fails + 1)); done
  eq "throttled: 6 back-to-back ato, none fails" "$fails" 0
  check "throttled: the host did refuse (rate-limited)" \
    test "$(hev | jq '[.[] | select(.vm == "vm1" and .reason_code == "rate-limited")] | length')" -ge 1
  eq "throttled: no Invalid Data in the agent's log" "$(gcount vm1 "Invalid Data")" 0
  mv "$HOST_CONF.orig" "$HOST_CONF"
  gstop vm1
  stop_hostd
}

# Nothing answers on the port: Invalid Host, reason no-answer (no service: the CLI uses the port).
gs_no_host() {
  port nohost
  gconf nohost
  guest nohost ipk "$KEY_2022_STD" >/dev/null
  local rc
  guest nohost ato >/dev/null; rc=$?
  eq "no host: ato exits 3 (Invalid Host)" "$rc" 3
  eq "no host: the event says no answer" "$(guest nohost events --json | jq -r '.[-1].reason_code')" no-answer
  guest nohost doctor >/dev/null; rc=$?
  eq "doctor without the service: exit 1" "$rc" 1
  eq "doctor without the service: the owner check is a problem" \
    "$(guest nohost --json doctor | jq -r '.[] | select(.check == "port owned by the agent") | .status')" problem
  eq "doctor without the service: the last outcome is a problem" \
    "$(guest nohost --json doctor | jq -r '.[] | select(.check == "last outcome") | .status')" problem
  check "doctor without the service: a fix is given" \
    test "$(guest nohost --json doctor | jq -r '[.[] | select(.status == "problem") | .fix | strings] | length')" -ge 1
  stop_port nohost
}

# A bit flipped on the way: Invalid Data.
gs_corrupted() {
  stop_port vm1
  port vm1 --corrupt 30
  hostd vm1
  local rc
  guest vm1 ato >/dev/null; rc=$?
  eq "corrupted frame: ato exits 4 (Invalid Data)" "$rc" 4
  eq "corrupted frame: 12309 Invalid Data logged" \
    "$(guest vm1 events --json | jq -r '.[-1].notification')" "Invalid Data"
  stop_hostd
  stop_port vm1
}

# A 2025 Datacenter image on a 2022 host: Activation Denied.
gs_denied() {
  gproduct 2025 Datacenter
  port deny
  hostd deny
  gconf deny
  guest deny ipk "$KEY_2025_DC" >/dev/null
  local out rc
  out=$(guest deny ato); rc=$?
  eq "2025 guest on a 2022 host: ato exits 5 (Activation Denied)" "$rc" 5
  check "denied: the reason names the versions" grep -q "2025" <<<"$out"
  stop_hostd
  stop_port deny
  gproduct 2022 Standard
}

GUEST_SCENARIOS=(bound_product success doctor invalid_host key_replacement host_absent throttled no_host
  corrupted denied)
run_guest_scenarios() {
  local s
  for s in "${GUEST_SCENARIOS[@]}"; do
    echo "# scenario $s"
    "gs_$s"
    if declare -F "after_$s" >/dev/null; then "after_$s"; fi
  done
}
