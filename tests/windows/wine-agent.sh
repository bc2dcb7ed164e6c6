#!/usr/bin/env bash
# wine-agent: the Windows guest agent (avma-guestd.exe, avma-guest.exe, the MSI) under Wine
# against the real Linux avma-hostd: product detection from the registry; the shared guest
# scenarios the Linux agent passes too (tests/scenarios/guest-scenarios.sh: the four
# notifications, renewal, the CLI over the pipe, key replacement, host absent then back with CPU
# measured, back-pressure); then what only Windows has: the event sink and ReportEventW, the
# Win32 intrinsic items, a second instance, a vanished port, a hostile host, a corrupt state
# file, and the service through sc and through the MSI. Prints ok / not ok lines; fails on any
# not ok.
. "$(dirname "$0")/lib-wine.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

for f in avma-guestd.exe avma-guest.exe avma-guest.msi; do
  check "built: $f" test -s "$W/$f"
  echo "# $f: $(stat -c %s "$W/$f" 2>/dev/null) bytes"
done
check "template prefix (cached in $W)" template || exit 1

printf '[host]\nvalidity=30\njournal=no\n' >"$T/host.conf"
new_prefix p1

# --- product detection from the registry, every version and edition -------------------------
product() { w 'C:\avma\avma-guestd.exe' --print-product </dev/null | tr -d '\r' | sed -n "s/^$1: //p"; }
for b in 9600:2012R2 14393:2016 16299:2016 17134:2016 17763:2019 18362:2019 18363:2019 \
  20348:2022 26100:2025; do
  seed "${b%%:*}" ServerDatacenter
  eq "registry: build ${b%%:*} is ${b#*:}" "$(product version)" "${b#*:}"
done
for e in ServerDatacenter:Datacenter ServerStandard:Standard ServerSolution:Essentials \
  ServerTurbine:DatacenterAzure ServerDatacenterACor:Datacenter ServerStandardACor:Standard; do
  seed 20348 "${e%%:*}" "Server Core"
  eq "registry: EditionID ${e%%:*} is ${e#*:}" "$(product edition)" "${e#*:}"
done
seed 20348 -
eq "registry: EditionID missing: product unknown" "$(product version)" unknown
check "registry: says which value is missing" grep -q "EditionID missing" <<<"$(product product)"
seed 7601 ServerDatacenter Client "Microsoft Windows 7"
eq "registry: a client install is no server" "$(product version)" unknown

# --- the shared guest scenarios (tests/scenarios/guest-scenarios.sh), as for the Linux agent,
# with what only Windows has checked after the scenario that sets it up ----------------------
HOST_CONF=$T/host.conf
gproduct() {
  case "$1 $2" in
  "2022 Standard") seed 20348 ServerStandard Server "Windows Server 2022 Standard" ;;
  "2025 Datacenter") seed 26100 ServerDatacenter Server "Windows Server 2025 Datacenter" ;;
  *) echo "# gproduct: no registry seed for $1 $2"; return 1 ;;
  esac
}
gconf() { conf "$@"; }
gstart() { agent "$1"; }
gpid() { echo "$AGENT_PID"; }
gstop() { stop_agent; }

after_success() {
  check "event sink: 12309 success with the five insertion strings" \
    grep -qP '^12309\tsuccess\tAVMA Success\t[^\t]+\tok\t78VHK\t\S+$' <<<"$(sink vm1)"
  check "Wine +eventlog: ReportEventW id 12309 (0x3015)" grep -q 'ReportEventW (.*0x00003015' "$T/vm1.log"
  check "Wine +eventlog: insertion string AVMA Success" grep -q 'ReportEventW L"AVMA Success"' "$T/vm1.log"
  item() { jq -r --arg k "$1" '.vms[] | select(.name == "vm1") | .intrinsic[$k] // empty' "$T/host/vms.json" 2>/dev/null; }
  check "intrinsic: the host holds OSName from the registry" wait_for 5 '[ "$(item OSName)" = "Windows Server 2022 Standard" ]'
  eq "intrinsic: OSPlatformId 2" "$(item OSPlatformId)" 2
  eq "intrinsic: OSBuildNumber from RtlGetVersion" "$(item OSBuildNumber)" 20348
  eq "intrinsic: ProcessorArchitecture (AMD64 = 9)" "$(item ProcessorArchitecture)" 9
  check "intrinsic: FQDN from GetComputerNameExW" test -n "$(item FullyQualifiedDomainName)"
  local v4 rc
  v4=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
  if [[ $v4 ]]; then
    check "intrinsic: IPv4 addresses from GetAdaptersAddresses ($v4)" \
      grep -qw "$v4" <<<"$(item NetworkAddressIPv4 | tr ';' ' ')"
  fi
  # A second instance is refused.
  once vm1; rc=$?
  eq "second instance: exits 1" "$rc" 1
  check "second instance: names the other instance" grep -q "another avma-guestd is already running" <<<"$OUT"
  conf other pipe='\\.\pipe\avma-guest-other'
  once other; rc=$?
  eq "second instance on its own pipe: the port is exclusive" "$rc" 1
  check "second instance on its own pipe: says the port is busy" grep -q "is busy: another avma-guestd" <<<"$OUT"
}

# The port vanishes (driver reinstall) and comes back.
after_host_absent() {
  local c0 c1 n1
  stop_port vm1
  stop_hostd
  c0=$(cpu_ticks "$AGENT_PID"); sleep 5; c1=$(cpu_ticks "$AGENT_PID")
  echo "# port gone 5 s: agent CPU $((c1 - c0)) ticks"
  check "port gone: no spinning (under 0.3 s CPU in 5 s)" test $((c1 - c0)) -lt 30
  check "port gone: the agent says so once" test "$(grep -c 'is not there' "$T/vm1.log")" -ge 1
  kill -0 "$AGENT_PID" 2>/dev/null; eq "port gone: the agent keeps running" "$?" 0
  n1=$(gcount vm1 "AVMA Success")
  port vm1
  hostd vm1
  check "port back: reopened, activation succeeds" wait_for 15 '[ "$(gcount vm1 "AVMA Success")" -gt "$n1" ]'
  grep VmRSS "/proc/$AGENT_PID/status" | sed 's/^/# agent working set under Wine: /'
}

after_corrupted() {
  check "corrupted frame: 12309 Invalid Data in the sink" grep -qP '^12309\twarning\tInvalid Data\t' <<<"$(sink vm1)"
}

. "$HERE/../scenarios/guest-scenarios.sh"
run_guest_scenarios

# --- a hostile host: garbage and bad frames, never a usable reply -------------------------------
port vm1
python3 "$HERE/fake-host.py" "$T/vm1.sock" "$T/fake.log" &
FAKE=$!
PIDS+=($FAKE)
check "hostile host: connected to the port" wait_for 5 'grep -qs "^connected" "$T/fake.log"'
out=$(guest vm1 ato); rc=$?
eq "hostile host: ato exits 4 (Invalid Data)" "$rc" 4
check "hostile host: the fake host saw our HELLO" grep -q "guest frame type 1" "$T/fake.log" ||
  sed 's/^/# fake-host: /' "$T/fake.log"
kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null
hostd vm1
out=$(guest vm1 ato); rc=$?
eq "after the hostile host: a real one activates (exit 0)" "$rc" 0

# --- a corrupt state file is reported, never replaced ------------------------------------------
printf 'garbage [[[\n\x01\x02' >"$WINEPREFIX/drive_c/t/vm1/guest.state"
sum0=$(md5sum <"$WINEPREFIX/drive_c/t/vm1/guest.state")
out=$(guest vm1 dlv 2>&1); rc=$?
eq "corrupt state: dlv exits 1" "$rc" 1
check "corrupt state: names the file" grep -q 'guest.state' <<<"$out"
once vm1; rc=$?
eq "corrupt state: the service refuses to start" "$rc" 1
check "corrupt state: the service says which file" grep -q 'guest.state is unreadable' <<<"$OUT"
eq "corrupt state: the file is left as it was" "$(md5sum <"$WINEPREFIX/drive_c/t/vm1/guest.state")" "$sum0"
rm -f "$WINEPREFIX/drive_c/t/vm1/guest.state"

# --- the service through Wine's sc --------------------------------------------------------------
conf svc
guest svc ipk "$KEY_2022_STD" >/dev/null
w sc create avma-guestd binPath= 'C:\avma\avma-guestd.exe --config C:\t\svc.conf' start= auto >/dev/null
w sc start avma-guestd >/dev/null
check "sc: the service runs" wait_for 10 'w sc query avma-guestd | grep -q RUNNING'
check "sc: AVMA Success from the service" wait_for 10 'grep -qP "^12309\tsuccess\tAVMA Success" <<<"$(sink svc)"'
check "sc: the service's ReportEventW seen by Wine (+eventlog)" \
  wait_for 5 'grep -q "ReportEventW L\"AVMA Success\"" "$SESSION"'
eq "sc: CLI over the service's pipe" "$(guest svc --json dli | jq -r .license_status)" Licensed
out=$(guest svc ato); rc=$?
eq "sc: ato through the service: exit 0" "$rc" 0
w sc stop avma-guestd >/dev/null
check "sc: the service stops" wait_for 10 'w sc query avma-guestd | grep -q STOPPED'
check "sc: no avma-guestd process left" wait_for 5 '! pgrep -f "avma-guestd.exe" >/dev/null'
w sc delete avma-guestd >/dev/null
stop_hostd
stop_port vm1

# --- the MSI: installs the service, the event source and the data folder ----------------------
new_prefix p2
seed 20348 ServerStandard Server "Windows Server 2022 Standard"
port vm1
hostd vm1
mkdir -p "$WINEPREFIX/drive_c/ProgramData/AVMA"
printf '[guest]\r\nevent_sink=C:\\t\\msi.sink\r\n[timing]\r\nrequest_timeout=3\r\nretry_initial=1\r\nretry_max=2\r\npresence_interval=1\r\n' \
  >"$WINEPREFIX/drive_c/ProgramData/AVMA/guest.conf"
cp "$W/avma-guest.msi" "$T/avma-guest.msi"
w msiexec /i "$(winepath -w "$T/avma-guest.msi" 2>/dev/null)" /qn </dev/null; rc=$?
eq "msi: msiexec /i exits 0" "$rc" 0
check "msi: avma-guestd.exe in Program Files" test -f "$WINEPREFIX/drive_c/Program Files/AVMA Guest Agent/avma-guestd.exe"
check "msi: avma-guest.exe in Program Files" test -f "$WINEPREFIX/drive_c/Program Files/AVMA Guest Agent/avma-guest.exe"
check "msi: the service runs" wait_for 10 'w sc query avma-guestd | grep -q RUNNING'
svc=$(w reg query 'HKLM\System\CurrentControlSet\Services\avma-guestd' </dev/null | tr -d '\r')
check "msi: automatic start (Start 2)" grep -qE 'Start\s+REG_DWORD\s+0x2' <<<"$svc"
check "msi: runs as LocalSystem" grep -q 'LocalSystem' <<<"$svc"
src=$(w reg query 'HKLM\System\CurrentControlSet\Services\EventLog\Application\AVMA Guest Agent' </dev/null | tr -d '\r')
check "msi: event source registered with our message file" grep -q 'EventMessageFile.*avma-guestd.exe' <<<"$src"
check "msi: TypesSupported 7" grep -qE 'TypesSupported\s+REG_DWORD\s+0x7' <<<"$src"
check "msi: the data folder exists" test -d "$WINEPREFIX/drive_c/ProgramData/AVMA"
CLI='C:\Program Files\AVMA Guest Agent\avma-guest.exe'
out=$(w "$CLI" ipk "$KEY_2022_STD" </dev/null | tr -d '\r'); rc=$?
eq "msi: ipk through the installed CLI and the pipe" "$rc" 0
check "msi: the service activates (sink)" wait_for 10 'grep -qP "^12309\tsuccess\tAVMA Success" <<<"$(tr -d "\r" 2>/dev/null <"$WINEPREFIX/drive_c/t/msi.sink")"'
check "msi: state in ProgramData\\AVMA" test -f "$WINEPREFIX/drive_c/ProgramData/AVMA/guest.state"
eq "msi: dli" "$(w "$CLI" --json dli </dev/null | tr -d '\r' | jq -r .license_status)" Licensed
w msiexec /x "$(winepath -w "$T/avma-guest.msi" 2>/dev/null)" /qn </dev/null; rc=$?
eq "msi: msiexec /x exits 0" "$rc" 0
check "msi: the service is removed" wait_for 10 '! w sc query avma-guestd >/dev/null 2>&1'
check "msi: the programs are removed" test ! -e "$WINEPREFIX/drive_c/Program Files/AVMA Guest Agent/avma-guestd.exe"
stop_hostd
exit $FAILED
