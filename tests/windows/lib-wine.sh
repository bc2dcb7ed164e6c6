# lib-wine: helpers for the Windows agent's tests under Wine (sourced by wine-agent.sh): one
# template prefix per build (cached in $BUILD/windows), copied per test; a persistent wineserver
# started as a non-leader; every wine command under timeout; the Linux host agent and port
# stand-in as in tests/integration/lib.sh; full teardown.
set -u
B=${BUILD:-build}
B=$(cd "$B" && pwd)
W=$B/windows
T=$(mktemp -d /tmp/avmwXXXXXX)
PIDS=()
FAILED=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILED=1; }
check() {
  local desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
wait_for() {
  local s=$1; shift
  local end=$((SECONDS + s))
  while ((SECONDS <= end)); do eval "$*" && return 0; sleep 0.2; done
  return 1
}

# Wine without a display, Mono, Gecko or menu entries; HOME and TMPDIR inside the test folder
# (TMPDIR must be the same for every command of a prefix: the server socket lives there).
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
export HOME=$T/home TMPDIR=$T/tmp
unset DISPLAY
mkdir -p "$HOME" "$TMPDIR"
WINE_TIMEOUT=${WINE_TIMEOUT:-60}
w() { timeout "$WINE_TIMEOUT" wine "$@"; }

# The template: a booted prefix with no identity yet, made once per build folder.
template() {
  local tpl=$W/prefix-template
  [[ -f $tpl/.avma-ready ]] && return 0
  rm -rf "$tpl"
  mkdir -p "$W/tpl-tmp"
  (export WINEPREFIX=$tpl TMPDIR=$W/tpl-tmp
   timeout 180 wine wineboot -i >/dev/null 2>&1
   timeout 60 wineserver -w) || return 1
  rm -rf "$W/tpl-tmp"
  touch "$tpl/.avma-ready"
}

WS_PID=
# new_prefix NAME: a copy of the template with its own wineserver; services' stderr (the
# session's first process, with +eventlog) goes to $T/NAME.session.
new_prefix() {
  stop_prefix
  export WINEPREFIX=$T/$1
  cp -a "$W/prefix-template" "$WINEPREFIX"
  SESSION=$T/$1.session
  # Our child, not a session leader: a PTY it opens never becomes its controlling terminal, so
  # a hang-up does not make it dump its object table (wine-notes.md).
  wineserver -f -p >>"$T/$1.wineserver" 2>&1 &
  WS_PID=$!
  sleep 0.2
  WINEDEBUG=-all,+eventlog,fixme+advapi w cmd /c exit 2>>"$SESSION" </dev/null
  mkdir -p "$WINEPREFIX/drive_c/avma" "$WINEPREFIX/drive_c/t" "$WINEPREFIX/dosdevices/global"
  cp "$W/avma-guestd.exe" "$W/avma-guest.exe" "$WINEPREFIX/drive_c/avma/"
}
stop_prefix() {
  [[ $WS_PID ]] || return 0
  timeout 20 wineserver -k 2>/dev/null
  timeout 20 wineserver -w 2>/dev/null
  kill "$WS_PID" 2>/dev/null
  wait "$WS_PID" 2>/dev/null
  WS_PID=
}

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  stop_prefix
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ ${KEEP_TMP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT

# ---- registry identity ------------------------------------------------------------------------
CV='HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
# seed BUILD EDITIONID [INSTALLATIONTYPE] [PRODUCTNAME]; "-" deletes a value
seed() {
  local b=$1 e=$2 t=${3:-Server} n=${4:-Windows Server}
  set_value CurrentBuildNumber "$b"
  set_value EditionID "$e"
  set_value InstallationType "$t"
  set_value ProductName "$n"
}
set_value() {
  if [[ $2 == - ]]; then w reg delete "$CV" /v "$1" /f >/dev/null 2>&1
  else w reg add "$CV" /v "$1" /d "$2" /f >/dev/null 2>&1; fi
}

# ---- the host side (as tests/integration/lib.sh) --------------------------------------------
host() { "$B/avma-host" --state-dir "$T/host" "$@"; }
licence() { host license set --version "$1" --edition "$2" --activated "$3" >/dev/null; }
# port NAME [--corrupt N]: portsim PTY $T/NAME.pty, host socket $T/NAME.sock; the agent's
# \\.\Global\org.avma.kvp.0 is mapped to the PTY (dosdevices/global, as vioserial names it).
port() {
  local name=$1; shift
  "$B/avma-portsim" --pty "$T/$name.pty" --socket "$T/$name.sock" "$@" &
  PIDS+=($!)
  eval "PORT_PID_$name=$!"
  for _ in $(seq 50); do [[ -e $T/$name.sock && -e $T/$name.pty ]] && break; sleep 0.05; done
  ln -sfn "$T/$name.pty" "$WINEPREFIX/dosdevices/global/org.avma.kvp.0"
}
stop_port() { local v=PORT_PID_$1; kill "${!v}" 2>/dev/null; wait "${!v}" 2>/dev/null; }
HOSTD_PID=
hostd() {
  local args=()
  for vm in "$@"; do args+=(--channel "$vm=$T/$vm.sock"); done
  local n0 want
  n0=$(grep -c ': connected to ' "$T/hostd.log" 2>/dev/null)
  want=$((${n0:-0} + $#))
  "$B/avma-hostd" --state-dir "$T/host" --config "$T/host.conf" "${args[@]}" >>"$T/hostd.log" 2>&1 &
  HOSTD_PID=$!
  PIDS+=($HOSTD_PID)
  wait_for 5 '[ "$(grep -c ": connected to " "$T/hostd.log")" -ge $want ]'
  sleep 0.3
}
stop_hostd() { kill "$HOSTD_PID" 2>/dev/null; wait "$HOSTD_PID" 2>/dev/null; }
hev() { host events --json; }

# ---- the Windows agent ------------------------------------------------------------------------
# conf NAME [lines...]: C:\t\NAME.conf with short timings; state in C:\t\NAME, sink C:\t\NAME.sink
conf() {
  local name=$1; shift
  {
    echo "[guest]"
    echo "state_dir=C:\\t\\$name"
    echo "event_sink=C:\\t\\$name.sink"
    for l in "$@"; do [[ $l == \[* ]] || echo "$l"; done
    echo "[timing]"
    echo "request_timeout=${REQ_TIMEOUT:-3}"
    echo "renew_interval=${RENEW:-3600}"
    echo "retry_initial=1"
    echo "retry_max=${RETRY_MAX:-2}"
    echo "presence_interval=1"
  } | sed 's/$/\r/' >"$WINEPREFIX/drive_c/t/$name.conf"
}
# guest NAME ARGS...: avma-guest.exe with NAME's config; output without CRs
guest() {
  local name=$1; shift
  w 'C:\avma\avma-guest.exe' --config "C:\\t\\$name.conf" "$@" </dev/null | tr -d '\r'
  return "${PIPESTATUS[0]}"
}
# agent NAME: avma-guestd.exe --console in the background, its stderr (with +eventlog) in
# $T/NAME.log; AGENT_PID is the Wine process running it.
agent() {
  local name=$1; shift
  # timeout directly (not the w function, whose subshell would sit between): its child is the
  # Wine process running avma-guestd.exe.
  WINEDEBUG=-all,+eventlog,fixme+advapi timeout 600 wine 'C:\avma\avma-guestd.exe' --console \
    --config "C:\\t\\$name.conf" "$@" </dev/null >>"$T/$name.log" 2>&1 &
  AGENT_TIMEOUT_PID=$!
  PIDS+=($AGENT_TIMEOUT_PID)
  AGENT_PID=
  for _ in $(seq 100); do
    AGENT_PID=$(pgrep -P "$AGENT_TIMEOUT_PID" | head -1)
    [[ $AGENT_PID ]] && grep -q 'started: port' "$T/$name.log" 2>/dev/null && break
    sleep 0.1
  done
}
# Ctrl+C (Wine turns SIGINT into CTRL_C_EVENT): the agent's console handler stops it cleanly.
stop_agent() {
  kill -INT "$AGENT_PID" 2>/dev/null
  wait_for 5 '! kill -0 "$AGENT_PID" 2>/dev/null'
  kill "$AGENT_TIMEOUT_PID" 2>/dev/null
  wait "$AGENT_TIMEOUT_PID" 2>/dev/null
}
# once NAME: avma-guestd.exe --console in the foreground (for the ones that must refuse to
# start): output in $OUT, exit code returned.
once() {
  WINE_TIMEOUT=20 w 'C:\avma\avma-guestd.exe' --console --config "C:\\t\\$1.conf" \
    </dev/null >"$T/once.out" 2>&1
  local rc=$?
  OUT=$(tr -d '\r' <"$T/once.out")
  return $rc
}
sink() { tr -d '\r' 2>/dev/null <"$WINEPREFIX/drive_c/t/$1.sink"; }
# count of 12309 events with a notification in NAME's own log (events --json)
gcount() { guest "$1" events --json | jq --arg n "$2" '[.[] | select(.notification == $n)] | length'; }

KEY_2022_STD=YDFWN-MJ9JR-3DYRK-FXXRW-78VHK
KEY_2022_DC=W3GNR-8DDXR-2TFRP-H8P33-DV9BG
KEY_2025_DC=YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67
KEY_2019_STD=TNK62-RXVTB-4P47B-2D623-4GF74
