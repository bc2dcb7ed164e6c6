#!/usr/bin/env bash
# avma-host cluster check: each host's licence against every VM's product, by the decision table.
# Hosts are libvirt test-driver node files (in-process, no libvirtd); each host's licence is read
# by a licence command that runs the real avma-host on that host's own state directory.
. "$(dirname "$0")/lib.sh"

NS=http://avma.invalid/xmlns/activation/1 # kvp-schema @metadata-ns
# node FILE DOMAINS...: a test-driver node; a domain is NAME:UUID-SUFFIX[:VERSION:EDITION]
node() {
  local f=$1 d name suffix ver ed
  shift
  {
    echo '<node>'
    for d in "$@"; do
      IFS=: read -r name suffix ver ed <<<"$d"
      echo "<domain type='test'><name>$name</name>"
      echo "<uuid>6c2d0e5a-0d0e-4b8e-9a61-0a0a0a0a$suffix</uuid><memory>65536</memory>"
      echo "<os><type>hvm</type></os><devices/>"
      [[ -n $ver ]] && echo "<metadata><activation xmlns='$NS'><time>2026-12-01T00:00:00Z</time>" \
        "<guest-version>$ver</guest-version><guest-edition>$ed</guest-edition></activation></metadata>"
      echo '</domain>'
    done
    echo '</node>'
  } >"$f"
}
node "$T/n1.xml" web:0001:2025:Datacenter
node "$T/n2.xml" db:0002:2019:Standard
node "$T/n3.xml" new:0003 'esc:0004:2022:Datacenter'
# A C1 CSI and a bidi override (XML allows them, unlike ESC): a terminal would act on them.
sed -i "s|<name>esc</name>|<name>e\&#x9b;2J\&#x202e;vil</name>|" "$T/n3.xml"
lic() { # lic DIR VERSION EDITION ACTIVATED
  mkdir -p "$1"
  "$B/avma-host" --state-dir "$1" license set --version "$2" --edition "$3" --activated "$4" >/dev/null
}
lic "$T/s1" 2025 Datacenter yes
lic "$T/s2" 2022 Datacenter yes
mkdir -p "$T/s3" # never licensed
cmd() { echo "$B/avma-host --state-dir $T/$1 license show --json"; }
cat >"$T/hosts" <<H
# the cluster: URI, then how to read that host's licence
test://$T/n1.xml $(cmd s1)
test://$T/n2.xml $(cmd s2)

test://$T/n3.xml $(cmd s3)
H
cc() { "$B/avma-host" --state-dir "$T/local" cluster check "$@"; }
mkdir -p "$T/local"

cc --hosts "$T/hosts" >"$T/out" 2>"$T/err"
eq "mixed cluster: exit 1" "$?" 1
cc --hosts "$T/hosts" --json >"$T/j" 2>/dev/null
loss() { # VM URI-FILE: the notification of VM's loss on that host, or "none"
  jq -r --arg v "$1" --arg u "test://$T/$2" \
    '[.vms[] | select(.name == $v) | .loses_activation_on[] | select(.uri == $u)][0].answer // "none"' "$T/j"
}
eq "2025 guest on a 2022 host: Activation Denied" "$(loss web n2.xml)" "Activation Denied"
eq "2025 guest on an unlicensed host: Invalid Host" "$(loss web n3.xml)" "Invalid Host"
eq "2025 guest on its own 2025 host: no loss" "$(loss web n1.xml)" none
eq "2019 Standard guest on a 2022 host: no loss" "$(loss db n2.xml)" none
eq "2019 Standard guest on an unlicensed host: Invalid Host" "$(loss db n3.xml)" "Invalid Host"
eq "VM without activation metadata: not judged" \
  "$(jq -r '.vms[] | select(.name == "new") | "\(.version)/\(.loses_activation_on | length)"' "$T/j")" "/0"
eq "problems counted: the unlicensed host, and 4 losses" "$(jq .problems "$T/j")" 5
eq "host licence read by its command" \
  "$(jq -r '.hosts[1] | "\(.licence_version) \(.licence_edition) \(.licence_activated)"' "$T/j")" \
  "2022 Datacenter true"
check "text: the loss is named with host and reason" \
  grep -q "test://$T/n2.xml): Activation Denied (guest Windows Server 2025 is newer than host Windows Server 2022)" "$T/out"
check "text: the unlicensed host activates no guest" grep -q "ACTIVATES NO GUEST" "$T/out"
check "text: the VM without metadata is said not checked" grep -q "new .*not checked" "$T/out"
check "text: a guest's escape sequence never reaches the terminal" \
  bash -c "! LC_ALL=C grep -qE \$'\\xc2\\x9b|\\xe2\\x80\\xae' '$T/out'"
check "text: the hostile name is shown made safe" grep -q 'e?2J?vil' "$T/out"

lic "$T/s2" 2025 Datacenter yes
lic "$T/s3" 2025 Datacenter yes
cc --hosts "$T/hosts" >"$T/out" 2>&1
eq "every host licensed 2025 Datacenter: exit 0" "$?" 0
check "all well: said so" grep -q "every VM activates on every host" "$T/out"

lic "$T/s3" 2025 Datacenter no
eq "a host not activated: exit 1" "$(cc --hosts "$T/hosts" >/dev/null 2>&1; echo $?)" 1
lic "$T/s3" 2025 Standard yes
cc --hosts "$T/hosts" --json >"$T/j" 2>/dev/null
eq "a Standard host: Invalid Host for the Datacenter guest" "$(loss web n3.xml)" "Invalid Host"
lic "$T/s3" 2025 Datacenter yes

cc --hosts "$T/hosts" "test://$T/n1.xml" >"$T/out" 2>"$T/err"
eq "a URI listed twice: still exit 0" "$?" 0
check "a URI listed twice: warned" grep -q "listed twice: checked once" "$T/err"
check "a URI listed twice: three hosts, not four" grep -q "^Hosts (3)" "$T/out"

cc --hosts "$T/hosts" "test://$T/missing.xml" >"$T/out" 2>&1
eq "an unreachable URI: exit 1" "$?" 1
check "an unreachable URI: UNREACHABLE with libvirt's reason" grep -q "missing.xml: UNREACHABLE: " "$T/out"

echo "test://$T/n1.xml false" >"$T/hosts2"
cc --hosts "$T/hosts2" >"$T/out" 2>&1
eq "a failing licence command: exit 1" "$?" 1
check "a failing licence command: LICENCE UNKNOWN, the command named" \
  grep -q "LICENCE UNKNOWN: 'false' failed: exit status 1" "$T/out"
echo "test://$T/n1.xml echo not-json" >"$T/hosts2"
cc --hosts "$T/hosts2" >"$T/out" 2>&1
eq "a licence command printing garbage: exit 1" "$?" 1
check "a licence command printing garbage: LICENCE UNKNOWN" grep -q "LICENCE UNKNOWN: 'echo not-json' failed" "$T/out"
cc "test://$T/n1.xml" --licence-command "$(cmd s1)" >"$T/out" 2>&1
eq "--licence-command for URIs on the command line: exit 0" "$?" 0
cc "test://$T/n1.xml" --licence-command "echo {uri}" >"$T/out" 2>&1
check "--licence-command: {uri} replaced" grep -q "'echo test://$T/n1.xml' failed" "$T/out"

lic "$T/local" 2012R2 Datacenter yes
cc "test:///default" >"$T/out" 2>&1
check "a local URI without command: this host's own licence" grep -q "2012R2 Datacenter, activated" "$T/out"

eq "no hosts: usage, exit 2" "$(cc >/dev/null 2>&1; echo $?)" 2
eq "a missing hosts file: exit 2" "$(cc --hosts "$T/nope" >/dev/null 2>&1; echo $?)" 2
check "a missing hosts file: named" bash -c "'$B/avma-host' --state-dir '$T/local' cluster check --hosts '$T/nope' 2>&1 | grep -q nope"
printf 'test://x\xff\n' >"$T/bad"
eq "a hosts file that is not UTF-8: exit 2" "$(cc --hosts "$T/bad" >/dev/null 2>&1; echo $?)" 2
check "cluster check --help describes it" bash -c "'$B/avma-host' cluster check --help | grep -q 'same host UUID'"
exit $FAILED
