#!/usr/bin/env bash
# make demo: one host agent and five guest agents on local stand-in channels (socat PTY bridged
# to a unix socket, as a virtio port: the guest opens a character device, the host connects to a
# socket). Keys and channels are chosen to show all four notifications.
set -euo pipefail
B=$(cd "${BUILD:-build}" && pwd)
T=$(mktemp -d /tmp/avmdemoXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say "Host: Windows Server 2022 Datacenter, activated"
"$B/avma-host" --state-dir "$T/host" license set --version 2022 --edition Datacenter --activated yes

# name | key | how its channel is wired
guests=(
  "web-2022|YDFWN-MJ9JR-3DYRK-FXXRW-78VHK|socat"
  "legacy-2012r2|Y4TGP-NPTV9-HTC2H-7MGQ3-DV4TW|socat"
  "new-2025|YQB4H-NKHHJ-Q6K4R-4VMY6-VCH67|socat"
  "noisy-line|W3GNR-8DDXR-2TFRP-H8P33-DV9BG|corrupt"
  "orphan|TMJ3Y-NTRTM-FJYXT-T22BY-CWG3J|nohost"
)
channels=()
for g in "${guests[@]}"; do
  IFS='|' read -r name key wire <<<"$g"
  if [[ $wire == corrupt ]]; then
    # A line that flips a bit in transit (socat cannot): the host sees a bad frame check.
    "$B/avma-portsim" --pty "$T/$name.pty" --socket "$T/$name.sock" --corrupt 40 & pids+=($!)
  else
    socat PTY,link="$T/$name.pty",raw,echo=0 UNIX-LISTEN:"$T/$name.sock" & pids+=($!)
  fi
  [[ $wire == nohost ]] || channels+=(--channel "$name=$T/$name.sock")
done
sleep 0.5
say "Starting avma-hostd serving $((${#channels[@]} / 2)) of ${#guests[@]} channels (orphan's channel has no host agent)"
"$B/avma-hostd" --state-dir "$T/host" "${channels[@]}" 2>"$T/hostd.log" & pids+=($!)
sleep 0.3

for g in "${guests[@]}"; do
  IFS='|' read -r name key wire <<<"$g"
  printf '[guest]\njournal=no\n[timing]\nrequest_timeout=3\nretry_initial=600\n' >"$T/$name.conf"
  "$B/avma-guest" --config "$T/$name.conf" --state-dir "$T/g-$name" --port "$T/$name.pty" ipk "$key" \
    | sed "s/^/  $name: /"
  "$B/avma-guestd" --config "$T/$name.conf" --state-dir "$T/g-$name" --port "$T/$name.pty" \
    2>"$T/guestd-$name.log" & pids+=($!)
done

say "Waiting for every guest agent's first activation attempt..."
for g in "${guests[@]}"; do
  IFS='|' read -r name _ _ <<<"$g"
  for _ in $(seq 60); do
    [[ -s $T/g-$name/events.jsonl ]] && break
    sleep 0.1
  done
done

say "Event 12309 logged by each guest (avma-guest events)"
for g in "${guests[@]}"; do
  IFS='|' read -r name _ _ <<<"$g"
  "$B/avma-guest" --config "$T/$name.conf" --state-dir "$T/g-$name" events | sed "s/^/  $name: /"
done

say "One guest's licence, slmgr /dlv style (avma-guest dlv)"
"$B/avma-guest" --config "$T/web-2022.conf" --state-dir "$T/g-web-2022" dlv | sed 's/^/  /'

say "Event 12310 history on the host (avma-host events)"
"$B/avma-host" --state-dir "$T/host" events | sed 's/^/  /'
say "Demo done: AVMA Success (2022, 2012 R2), Activation Denied (2025 key on a 2022 host), Invalid Data (corrupted line), Invalid Host (no host agent)."
