#!/usr/bin/env bash
# Intrinsic items: the guest publishes FQDN, OS, kernel, architecture and addresses, and
# republishes them when its network changes (glib's netlink monitor, not polling). The guest
# agent runs in a private network namespace; an address is added to a veth interface there
# whose peer stays in the same namespace (192.0.2.0/24 is a documentation range; nothing is sent
# anywhere).
. "$(dirname "$0")/lib.sh"

if [[ $EUID -ne 0 ]] || ! command -v ip >/dev/null || ! ip netns add "avmat$$" 2>/dev/null; then
  echo "ok - # SKIP needs root and ip netns"
  exit 0
fi
NS=avmat$$
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
licence 2022 Datacenter yes
port net1
hostd net1
guest net1 ipk "$KEY_2022_STD" >/dev/null
guest_conf net1
ip netns exec "$NS" "$B/avma-guestd" --config "$T/net1.conf" --state-dir "$T/g-net1" \
  --port "$T/net1.pty" >>"$T/guestd-net1.log" 2>&1 &
PIDS+=($!)
item() { jq -r --arg k "$1" '.vms[] | select(.name == "net1") | .intrinsic[$k] // empty' \
  "$T/host/vms.json" 2>/dev/null; }
check "published: the host holds the guest's OS name" wait_for 10 '[ -n "$(item OSName)" ]'
eq "published: kernel release" "$(item OSKernelVersion)" "$(uname -r)"
eq "published: architecture" "$(item ProcessorArchitecture)" "$(uname -m)"
eq "published: no address yet in the empty namespace" "$(item NetworkAddressIPv4)" ""
ip -n "$NS" link add avmav0 type veth peer name avmav1
ip -n "$NS" addr add 192.0.2.17/24 dev avmav0
ip -n "$NS" link set avmav0 up
ip -n "$NS" link set avmav1 up
check "network change: the new address reaches the host without a command" \
  wait_for 15 '[ "$(item NetworkAddressIPv4)" = 192.0.2.17 ]'
check "network change: republished by the guest, not polled (one renewal logged)" \
  test "$(gcount net1 "AVMA Success")" -ge 2
exit $FAILED
