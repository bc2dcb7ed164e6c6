#!/usr/bin/env bash
# Hostile guests against the real daemon: garbage floods, endless partial frames, maximum-size
# frames at full speed, 10 000 distinct keys, invalid UTF-8, replayed and out-of-order sequence
# numbers, a reconnect storm, and a guest that never reads its replies. In each, a well-behaved
# guest on the same host still activates, and at the end the agent's peak RSS is within a bound
# computed from the configured caps.
. "$(dirname "$0")/lib.sh"

MODES="garbage partial maxframes keys utf8 seq storm noread"
# Limits of this host (the rest are the defaults: 10 requests/s, burst 20, 64 records per pool).
MAX_QUEUED=65536
MAX_RECORDS=64
cat >"$T/host.conf" <<EOF
[host]
journal=no
[limits]
frame_deadline_ms=1000
max_queued_bytes=$MAX_QUEUED
reconnect_max_ms=2000
EOF
export HOSTD_CONF=$T/host.conf
licence 2022 Datacenter yes
port good
guest good ipk "$KEY_2022_STD" >/dev/null

# Every hostile guest waits for its turn (SIGUSR1), so the host is connected to all of them from
# the start and each abuse runs alone.
declare -A TOOL
for m in $MODES; do
  secs=2; [[ $m == partial ]] && secs=3; [[ $m == keys || $m == noread ]] && secs=10
  "$B/avma-hostile" --socket "$T/$m.sock" --mode "$m" --seconds "$secs" --wait-signal \
    >"$T/$m.out" 2>"$T/$m.err" &
  TOOL[$m]=$!
  PIDS+=($!)
done
for m in $MODES; do
  for _ in $(seq 50); do [[ -e $T/$m.sock ]] && break; sleep 0.05; done
done
hostd good $MODES
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$HOSTD_PID/status"; }
sleep 0.5
BASE_KB=$(rss VmRSS)

jq_true() { jq -e "$@" >/dev/null; }
# res MODE KEY: a value from the tool's result line
res() { tr ' ' '\n' <"$T/$1.out" | sed -n "s/^$2=//p"; }
hevm() { hev | jq --arg vm "$1" "[.[] | select(.vm == \$vm)] $2"; }

for m in $MODES; do
  kill -USR1 "${TOOL[$m]}"
  sleep 0.7
  guest good ato >/dev/null; rc=$?
  eq "$m: a well-behaved guest on the same host activates meanwhile" "$rc" 0
  wait "${TOOL[$m]}"; trc=$?
  eq "$m: the hostile guest ran" "$trc" 0
  echo "# $m: $(cat "$T/$m.out")"
  check "$m: host agent still running" kill -0 "$HOSTD_PID"
  case $m in
  garbage)
    check "garbage: logged as Invalid Data" \
      test "$(hevm garbage '| map(select(.notification == "Invalid Data")) | length')" -ge 1 ;;
  partial)
    check "partial: frames that never finish are dropped at the deadline (logged)" \
      test "$(hevm partial '| map(select(.reason_code == "frame-deadline")) | length')" -ge 1 ;;
  maxframes)
    check "maxframes: every frame was answered or refused, none crashed the host" \
      test "$(res maxframes replies)" -gt 0
    check "maxframes: the flood was cut off (rate limit, then hang-up)" \
      grep -q "maxframes: closing channel: request flood" "$T/hostd.log" ;;
  keys)
    eq "keys: 10 000 distinct keys sent" "$(res keys keys_sent)" 10000
    eq "keys: all refused (not in the schema)" "$(res keys keys_refused)" 10000
    check "keys: guest pool within the cap" test "$(res keys stored_guest)" -le $MAX_RECORDS
    check "keys: auto pool within the cap" test "$(res keys stored_auto)" -le $MAX_RECORDS ;;
  utf8)
    eq "utf8: every bad record refused" "$(res utf8 utf8_refused)" "$(res utf8 utf8_sent)"
    check "utf8: twelve kinds tried" test "$(res utf8 utf8_sent)" -eq 12 ;;
  seq)
    eq "seq: no session, then replays and reordering refused, other session stale" \
      "$(res seq seq)" \
      "no-session,HELLO_REPLY,ACTIVATE_REPLY,bad-seq,bad-seq,ACTIVATE_REPLY,bad-seq,stale-session"
    eq "seq: only the two in-order activations were decided (12310)" \
      "$(hevm seq '| map(select(.notification != "Invalid Data")) | length')" 2 ;;
  storm)
    check "storm: the host came back after each hang-up" test "$(res storm connects)" -ge 2 ;;
  noread)
    eq "noread: a guest that never reads is disconnected" "$(res noread noread_hung_up)" 1
    check "noread: logged why" grep -q "noread: closing channel: peer is not reading" \
      "$T/hostd.log" ;;
  esac
done

guest good ato >/dev/null; rc=$?
eq "after all of it: the well-behaved guest activates" "$rc" 0
check "events --json still parses" jq_true 'type == "array"' <<<"$(hev)"

# Peak RSS against the caps: per channel one decoder (a maximum frame), the output queue
# (max_queued) and two guest-written pools of max_records records of the largest key and value;
# plus a fixed allowance for the allocator and glib. Timing plays no part.
HWM_KB=$(rss VmHWM)
NCHAN=$(($(wc -w <<<"$MODES") + 1))
PER_CHAN=$((16412 + MAX_QUEUED + 2 * MAX_RECORDS * (512 + 2048 + 64)))
BOUND_KB=$((BASE_KB + (NCHAN * PER_CHAN) / 1024 + 4096))
echo "# RSS: base ${BASE_KB} KiB, peak ${HWM_KB} KiB, bound ${BOUND_KB} KiB ($NCHAN channels x $((PER_CHAN / 1024)) KiB + 4 MiB)"
if [[ ${AVMA_SANITIZED:-}${AVMA_WRAP:-} ]]; then
  echo "# RSS bound not checked under sanitizers or valgrind (shadow memory and quarantine)"
else
  check "peak RSS within the bound derived from the caps" test "$HWM_KB" -le "$BOUND_KB"
fi
# --- records written before the text checks (or edited by hand) still reach the terminal safe ---
P=$T/planted; mkdir -p "$P"
printf '%s\n' '{"time":"2026-01-02T03:04:05Z","event_id":12310,"notification":"Invalid Data","reason":"bad key \u001b[2J\u001b[1;32mAVMA Success\r\u0007","reason_code":"bad-key","vm":"evil\u202evm\u009b","vm_uuid":"","guest_version":"","guest_edition":"","key_last5":"\u001b[0m","host_id":"x","granted_until":""}' >"$P/events.jsonl"
printf '%s\n' '{"version":1,"written":"2026-01-02T03:04:05Z","pid":1,"running":false,"vms":[{"name":"n\u001b]0;owned\u0007","uuid":"","state":"","channel_present":true,"channel_detail":"","connected":false,"notification":"AVMA Success","guest_version":"2022\u001b[8m","guest_edition":"","granted_until":"","intrinsic":{"FullyQualifiedDomainName":"h\u001b[31m\u202e","OSName\u0007":"x","bad":{"a":1}}}]}' >"$P/vms.json"
unsafe() { LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]\|\xe2\x80\xae\|\xc2\x9b'; }
out=$("$B/avma-host" --state-dir "$P" events 2>&1)
eq "display: events shows the planted record" "$(grep -c evil <<<"$out")" 1
eq "display: events prints no control or bidi characters" "$(unsafe <<<"$out")" 0
out=$("$B/avma-host" --state-dir "$P" vms 2>&1)
eq "display: vms shows the planted VM" "$(grep -c FullyQualifiedDomainName <<<"$out")" 1
eq "display: vms prints no control or bidi characters" "$(unsafe <<<"$out")" 0
exit $FAILED
