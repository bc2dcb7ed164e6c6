# Shared helpers for integration tests. Each test script sources this file.
set -u
B=${BUILD:-build}
B=$(cd "$B" && pwd)
T=$(mktemp -d /tmp/avmitXXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ ${KEEP_TMP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
FAILED=0
# check DESC CMD...: ok when CMD succeeds
check() {
  local desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
# eq DESC GOT WANT
eq() {
  if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi
}

# port NAME [--corrupt N]: a virtio-port stand-in at $T/NAME.pty (guest) / $T/NAME.sock (host)
port() {
  local name=$1; shift
  "$B/avma-portsim" --pty "$T/$name.pty" --socket "$T/$name.sock" "$@" &
  PIDS+=($!)
  eval "PORT_PID_$name=$!"
  for _ in $(seq 50); do [[ -e $T/$name.sock && -e $T/$name.pty ]] && return 0; sleep 0.05; done
  echo "# port $name did not come up"; return 1
}

host() { "$B/avma-host" --state-dir "$T/host" "$@"; }
licence() { host license set --version "$1" --edition "$2" --activated "$3" >/dev/null; }

# hostd VM...: serve $T/VM.sock for each VM; sets HOSTD_PID
hostd() {
  local args=()
  for vm in "$@"; do args+=(--channel "$vm=$T/$vm.sock"); done
  [[ ${HOSTD_CONF:-} ]] && args+=(--config "$HOSTD_CONF")
  local n0; n0=$(grep -c ': connected to ' "$T/hostd.log" 2>/dev/null)
  ${AVMA_WRAP:-} "$B/avma-hostd" --state-dir "$T/host" "${args[@]}" >>"$T/hostd.log" 2>&1 &
  HOSTD_PID=$!
  PIDS+=($HOSTD_PID)
  # Until it has connected to every channel that exists (under valgrind that takes seconds), at
  # most 3 s (30 s wrapped); then a little longer, as before.
  local i n tries=60
  [[ ${AVMA_WRAP:-} ]] && tries=600
  for ((i = 0; i < tries; i++)); do
    n=$(grep -c ': connected to ' "$T/hostd.log" 2>/dev/null)
    ((n >= ${n0:-0} + $#)) && break
    kill -0 "$HOSTD_PID" 2>/dev/null || break
    sleep 0.05
  done
  sleep 0.3
}

# guest config with short timings: guest_conf NAME [extra lines...]
guest_conf() {
  local name=$1; shift
  {
    echo "[guest]"
    echo "journal=no"
    for l in "$@"; do [[ $l == \[* ]] || echo "$l"; done
    echo "[timing]"
    echo "request_timeout=${REQ_TIMEOUT:-3}"
    echo "renew_interval=${RENEW:-3600}"
    echo "retry_initial=1"
    echo "retry_max=2"
    echo "presence_interval=1"
  } >"$T/$name.conf"
}
guest() {
  local name=$1; shift
  [[ -e $T/$name.conf ]] || guest_conf "$name"
  "$B/avma-guest" --config "$T/$name.conf" --state-dir "$T/g-$name" --port "$T/$name.pty" "$@"
}
guestd() {
  local name=$1; shift
  [[ -e $T/$name.conf ]] || guest_conf "$name"
  ${AVMA_WRAP:-} "$B/avma-guestd" --config "$T/$name.conf" --state-dir "$T/g-$name" --port "$T/$name.pty" "$@" \
    >>"$T/guestd-$name.log" 2>&1 &
  eval "GUESTD_PID_$name=$!"
  PIDS+=($!)
}
# events of a guest / the host as JSON
gev() { guest "$1" events --json; }
hev() { host events --json; }
# wait_for SECONDS 'SHELL CONDITION': poll until the condition (evaluated afresh each time) holds
wait_for() {
  local s=$1; shift
  local end=$((SECONDS + s))
  while ((SECONDS <= end)); do eval "$*" && return 0; sleep 0.2; done
  # Said, not failed: some callers expect the timeout; an unexpected one costs CI its budget.
  echo "# wait_for: ${s} s ran out: $*"
  return 1
}
# count of guest events with a notification
gcount() { gev "$1" | jq --arg n "$2" '[.[] | select(.notification == $n)] | length'; }

KEY_2022_STD=YDFWN-MJ9JR-3DYRK-FXXRW-78VHK
KEY_2012R2_DC=Y4TGP-NPTV9-HTC2H-7MGQ3-DV4TW
KEY_2025_DC=YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67
KEY_2019_STD=TNK62-RXVTB-4P47B-2D623-4GF74
