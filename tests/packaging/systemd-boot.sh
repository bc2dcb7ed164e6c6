#!/usr/bin/env bash
# tests/packaging/systemd-boot.sh (`make check-systemd`, issue #7): do the .debs work under a real
# systemd? Boots a Debian 12 machine (QEMU, software emulation) whose root file system is a
# debootstrap of bookworm with systemd, udev, libvirt-daemon-system and the freshly built
# avma-host and avma-guest packages installed with dpkg, and nothing else set up by hand. In it,
# boot-probe.sh (a test-only unit) checks that systemd started avma-hostd and udev started
# avma-guestd, how confined their processes really are, that avma-hostd reaches the system
# libvirtd and a channel socket as user avma, and drives one activation through both units. See
# boot-probe.sh for the checks and for how the channel is wired.
#
# The debootstrap is cached as a tarball in $BOOT_CACHE (default $BUILD/boot-cache), keyed by the
# package list, so only the first run downloads (about 1 minute).
# The archive is the one this machine's apt uses for Debian $SUITE main, and no other (issue #21):
# a machine without one gets an error saying so.
# Environment: BUILD, BOOT_CACHE, BOOT_KEEP=1 keeps the work directory, BOOT_TIMEOUT (seconds,
# default 600).
set -eu # no pipefail: `cmd | grep -q` and `| head` end pipes early on purpose

BUILD=${BUILD:-build}
root_dir=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root_dir"
here=$root_dir/tests/packaging
# shellcheck source=../e2e/lib.sh
source "$root_dir/tests/e2e/lib.sh" # e2e_log, e2e_die, e2e_wait_for, kernel and module helpers
((EUID == 0)) || e2e_die "needs root (debootstrap, chroot, mkfs.ext4 -d with ownership)"

BOOT_CACHE=${BOOT_CACHE:-$BUILD/boot-cache}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-600}
SUITE=bookworm

host_deb=$(ls "$BUILD"/deb/avma-host_*_*.deb 2>/dev/null | head -1)
guest_deb=$(ls "$BUILD"/deb/avma-guest_*_*.deb 2>/dev/null | head -1)
[[ -n $host_deb && -n $guest_deb ]] || e2e_die "no packages in $BUILD/deb (make deb)"

# The archive this machine's apt takes Debian $SUITE main from: as apt itself reads its sources
# (deb822 and one-line formats, every sources file) once `apt-get update` has run, else from the
# sources files: a deb822 stanza or a "deb" line whose suites include $SUITE and components main.
apt_mirror() {
  apt-get indextargets --format '$(SITE) $(CODENAME) $(COMPONENT) $(TARGET_OF)' 2>/dev/null |
    awk -v s="$SUITE" '$2 == s && $3 == "main" && $4 == "deb" { print $1; exit }'
}
sources_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    # deb [options] URI SUITE COMPONENT...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v s="$SUITE" '$1 == "deb" && $3 == s { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk -v s="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && suites ~ "(^| )" s "( |$)" && comps ~ /(^| )main( |$)/ && enabled != "no") { split(uris, u, " "); print u[1]; found = 1; exit } types = suites = comps = uris = ""; enabled = "" }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ /, "")
        if (key == "types") types = $0; else if (key == "suites") suites = $0
        else if (key == "components") comps = $0; else if (key == "uris") uris = $0
        else if (key == "enabled") enabled = tolower($0) }
      END { if (!found) flush() }' "$f"
  done
}
mirror=$(apt_mirror)
[[ -n $mirror ]] || mirror=$(sources_mirror | head -1)
[[ -n $mirror ]] || e2e_die "no apt source of Debian $SUITE main on this machine (/etc/apt/sources.list, /etc/apt/sources.list.d/): add one; the boot test takes its archive from apt only"

# What the machine needs besides minbase: systemd as init with udev and the journal, libvirt's
# system daemon (and libpam-systemd, the logind its polkit wants), the relay's socat, and every
# package the two .debs depend on (first alternative, without versions). debootstrap's resolver
# is simple, so nothing here may rely on a virtual package.
base_pkgs=(systemd-sysv udev dbus kmod procps iproute2 socat libpam-systemd libvirt-daemon-system
  libvirt-clients qemu-system-x86)
mapfile -t deb_deps < <(for d in "$host_deb" "$guest_deb"; do dpkg-deb -f "$d" Depends; done |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^$' | sort -u)
include=$(printf '%s\n' "${base_pkgs[@]}" "${deb_deps[@]}" | sort -u | paste -sd, -)
key=$(printf '%s %s %s' "$SUITE" "$mirror" "$include" | sha256sum | cut -c1-16)
cache=$BOOT_CACHE/rootfs-$SUITE-$key.tar

tmp=$(mktemp -d /tmp/avmbXXXXXX) # short: QEMU's unix sockets live here
chmod 0755 "$tmp"
qemu_pid= relay_pid=
cleanup() {
  local rc=$?
  set +e
  [[ -n $relay_pid ]] && kill "$relay_pid" 2>/dev/null
  [[ -n $qemu_pid ]] && kill "$qemu_pid" 2>/dev/null
  mountpoint -q "$tmp/root/proc" 2>/dev/null && umount "$tmp/root/proc"
  if [[ ${BOOT_KEEP:-0} == 1 ]]; then e2e_log "kept $tmp"; else rm -rf "$tmp"; fi
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$tmp/root

# ---- 1. the root file system -----------------------------------------------------------------
if [[ ! -s $cache ]]; then
  e2e_log "debootstrap $SUITE from $mirror (cached afterwards in $cache)"
  debootstrap --variant=minbase --include="$include" "$SUITE" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" "$root/debootstrap/debootstrap.log" >&2 2>/dev/null; e2e_die "debootstrap failed"; }
  chroot "$root" apt-get clean
  mkdir -p "$BOOT_CACHE"
  tar -C "$root" --numeric-owner -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
else
  e2e_log "root file system from $cache"
  mkdir -p "$root"
  tar -C "$root" --numeric-owner -xpf "$cache"
fi

# ---- 2. the packages under test, installed as an administrator would -------------------------
# policy-rc.d forbids starting services in the chroot (as in any image build); the machine
# starts them at boot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp "$host_deb" "$guest_deb" "$root/tmp/"
mount -t proc proc "$root/proc"
chroot "$root" dpkg -i "/tmp/$(basename "$host_deb")" "/tmp/$(basename "$guest_deb")" >"$tmp/dpkg.log" 2>&1 ||
  { cat "$tmp/dpkg.log" >&2; e2e_die "dpkg -i of the packages failed in the new root"; }
umount "$root/proc"
rm -f "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/var/cache/avma-boot"
mv "$root"/tmp/*.deb "$root/var/cache/avma-boot/" # boot-probe.sh upgrades, removes, reinstalls
e2e_log "installed $(basename "$host_deb") $(basename "$guest_deb")"

# ---- 3. test-only configuration --------------------------------------------------------------
echo avma-boot >"$root/etc/hostname"
printf '/dev/vda / ext4 rw,noatime 0 0\n' >"$root/etc/fstab"
# The host agent serves the socket boot-probe.sh makes at libvirt's path as a fixed channel,
# and still watches libvirt (--connect): the package's own unit, with only ExecStart= changed.
mkdir -p "$root/etc/systemd/system/avma-hostd.service.d"
cat >"$root/etc/systemd/system/avma-hostd.service.d/boot-test.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/sbin/avma-hostd --config /etc/avma/host.conf --state-dir /var/lib/avma-host --connect qemu:///system --channel boot=/var/lib/libvirt/qemu/channel/target/domain-1-boot/org.avma.kvp.0
EOF
install -m 0755 "$here/boot-probe.sh" "$root/usr/local/sbin/avma-boot-probe"
cat >"$root/etc/systemd/system/avma-boot-probe.service" <<'EOF'
[Unit]
Description=AVMA packaging boot probe (test only)
After=multi-user.target
[Service]
Type=simple
ExecStart=/usr/local/sbin/avma-boot-probe
StandardOutput=journal
[Install]
WantedBy=multi-user.target
EOF
ln -sf ../avma-boot-probe.service "$root/etc/systemd/system/multi-user.target.wants/avma-boot-probe.service"
# No login on the console, no clock or network waits in a machine that has neither.
for u in serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$u"
done

# ---- 4. kernel, modules, a minimal initramfs that mounts /dev/vda and starts systemd ----------
kver=$(e2e_kernel_version)
e2e_prepare_kernel "$tmp" # E2E_KERNEL: the ELF vmlinux booted through PVH (faster under TCG)
# In the root: the modules udev loads itself (virtio_console for the ports) with depmod's index.
while read -r _ path _; do
  rel=${path#/lib/modules/$kver/}
  install -D -m 0644 "$path" "$root/lib/modules/$kver/$rel"
done < <(modprobe -a -S "$kver" --show-depends virtio_pci virtio_blk ext4 virtio_rng virtio_console | awk '$1=="insmod"')
cp /lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/"
depmod -b "$root" "$kver"

stage=$tmp/initramfs
mkdir -p "$stage"/{bin,dev,proc,sys,newroot}
install -m 0755 "$(command -v busybox)" "$stage/bin/busybox"
file "$stage/bin/busybox" | grep -q 'dynamically' && e2e_die "busybox is not static (install busybox-static)"
ln -s busybox "$stage/bin/sh"
mknod -m 0600 "$stage/dev/console" c 5 1
e2e_stage_modules "$stage" "$kver" virtio_pci virtio_blk ext4 virtio_rng
cat >"$stage/init" <<'EOF'
#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/lib/modules/e2e/$m" 2>/dev/null || echo "boot-init: insmod $m failed"; done </etc/e2e/modules
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "boot-init: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
EOF
chmod 0755 "$stage/init"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$tmp/initramfs.cpio"

size_mb=$(($(du -sm "$root" | cut -f1) + 512))
mkfs.ext4 -q -F -L avma-root -d "$root" "$tmp/root.img" "${size_mb}M" ||
  e2e_die "mkfs.ext4 -d failed"
rm -rf "$root"
e2e_log "image ${size_mb} MB, kernel $kver"

# ---- 5. boot -------------------------------------------------------------------------------------
: >"$tmp/console.log"
: >"$tmp/probe.log"
t0=$EPOCHREALTIME
qemu-system-x86_64 -machine pc -accel tcg -cpu max -smp 2 -m 1536 \
  -display none -monitor none -no-reboot -nodefaults \
  -kernel "$E2E_KERNEL" -initrd "$tmp/initramfs.cpio" \
  -append "console=ttyS0 panic=-1 random.trust_cpu=on net.ifnames=0 systemd.show_status=1" \
  -drive file="$tmp/root.img",if=virtio,format=raw \
  -device virtio-rng-pci \
  -device virtio-serial-pci \
  -chardev socket,id=kvp,path="$tmp/kvp.sock",server=on,wait=off \
  -device virtserialport,chardev=kvp,name=org.avma.kvp.0 \
  -chardev socket,id=relay,path="$tmp/relay.sock",server=on,wait=off \
  -device virtserialport,chardev=relay,name=org.e2e.relay \
  -serial file:"$tmp/console.log" -serial file:"$tmp/probe.log" >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!
e2e_wait_for 20 0.1 test -S "$tmp/relay.sock" || { cat "$tmp/qemu.log" >&2; e2e_die "QEMU did not start"; }
# The outer half of the relay: the machine's own org.avma.kvp.0 port to its org.e2e.relay port.
(
  while kill -0 "$qemu_pid" 2>/dev/null; do
    socat UNIX-CONNECT:"$tmp/kvp.sock" UNIX-CONNECT:"$tmp/relay.sock" 2>/dev/null
    sleep 0.2
  done
) &
relay_pid=$!
e2e_log "booting (QEMU pid $qemu_pid)"
deadline=$((SECONDS + BOOT_TIMEOUT))
while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 1; done
if kill -0 "$qemu_pid" 2>/dev/null; then
  e2e_log "no power-off within ${BOOT_TIMEOUT} s"
  kill "$qemu_pid"
fi
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
e2e_log "machine ran $(e2e_since "$t0") s"

# ---- 6. verdict ----------------------------------------------------------------------------------
tr -d '\r' <"$tmp/probe.log" | grep '^PROBE ' | sed 's/^PROBE //' >"$tmp/probe.txt" || true
sed 's/^/  /' "$tmp/probe.txt"
expected=(system-running hostd-enabled hostd-active hostd-notify guestd-notify hostd-wanted-by-libvirtd guestd-static guestd-wanted-by-port
  guestd-active avma-user hostd-confined hostd-readonly-system guestd-confined
  guestd-readonly-system hostd-userns guestd-userns hostd-group-libvirt hostd-group-libvirt-qemu hostd-statedir
  guestd-statedir hostd-libvirt license-set license-file license-show hostd-channel-open
  guest-ipk guest-ato guest-xpr journal-12309 journal-12310 host-events host-vms host-report
  libvirt-define libvirt-start-paused hostd-real-channel host-vms-real host-channel-add
  host-channel-add-persistent libvirt-destroy libvirt-undefine
  hostd-restart hostd-active-after-restart guestd-restart guestd-active-after-restart
  pkg-upgrade pkg-upgrade-restarts-hostd pkg-upgrade-restarts-guestd pkg-remove pkg-remove-stops
  pkg-remove-keeps-state pkg-install pkg-install-starts-hostd pkg-install-starts-guestd
  pkg-reinstall-still-licensed pkg-purge pkg-purge-deletes-state pkg-purge-stops)
fails=0
for n in "${expected[@]}"; do
  grep -Eq "^ok $n( |$)" "$tmp/probe.txt" || { echo "FAIL $n: not reported ok" >&2; fails=$((fails + 1)); }
done
grep -Eq '^FAIL ' "$tmp/probe.txt" && fails=$((fails + 1))
grep -q '^end fails=0$' "$tmp/probe.txt" || { echo "FAIL the probe did not finish cleanly" >&2; fails=$((fails + 1)); }
if ((fails > 0)); then
  echo "---- console (last 60 lines) ----" >&2
  tr -d '\r' <"$tmp/console.log" | tail -60 >&2
  if debugfs -R "dump /var/log/boot-probe-journal.txt $tmp/journal.txt" "$tmp/root.img" >/dev/null 2>&1 && [[ -s $tmp/journal.txt ]]; then
    echo "---- journal: avma and failures ----" >&2
    grep -Ei 'avma|fail|denied|error' "$tmp/journal.txt" | tail -80 >&2
  fi
  echo "systemd-boot: $fails failure(s)" >&2
  exit 1
fi
echo "systemd-boot: all ${#expected[@]} checks passed under systemd ($(e2e_since "$t0") s)"
