# tests/e2e/lib.sh: building blocks for the end-to-end tests with real QEMU guests under a
# private, unprivileged libvirt session daemon (see /work/shared/e2e-notes.md). Sourced by run.sh.
#
# Layout of the temporary directory (short, unix socket paths are limited to 107 bytes):
#   $E2E_TMP            /tmp/avmXXXXXX, 0755, root
#   $E2E_TMP/h          the test user's HOME (XDG_CONFIG_HOME=$E2E_TMP/h/.config: channel sockets)
#   $E2E_TMP/r          XDG_RUNTIME_DIR (0700, user): libvirt-sock, pid files
#   $E2E_TMP/w          user-owned work dir: console logs, agent state, configs, saved images
#   $E2E_TMP/img        root-built, world-readable images (initramfs, guest-probe)
#   $E2E_TMP/b/h, b/r   "host B" (migration scenarios only): the second libvirtd's HOME and
#                       XDG_RUNTIME_DIR (its own libvirt tree, socket, host_uuid, ports)
# Everything that talks to libvirt or to a channel socket runs as the test user (e2e_as_user).
# Requires root (useradd, mknod for the initramfs), bash >= 5.

E2E_DIR=${E2E_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
E2E_URI=${E2E_URI:-qemu:///session}
E2E_CHANNEL=${E2E_CHANNEL:-org.avma.kvp.0} # the product's channel (kvp-schema @channel)
E2E_CTL_CHANNEL=${E2E_CTL_CHANNEL:-org.e2e.ctl} # test-only: command executor in the guest
E2E_T0=${E2E_T0:-$EPOCHREALTIME}
E2E_DOMAINS=() # domains this run defined (cleanup destroys and undefines them)
E2E_BG_PIDS=() # background host-side processes started by the harness

# ---- small utilities ---------------------------------------------------------------------------
e2e_log() { printf '[%6.1fs] %s\n' "$(e2e_since "$E2E_T0")" "$*" >&2; }
e2e_die() {
  e2e_log "FATAL: $*"
  exit 2
}
e2e_now() { printf '%s' "$EPOCHREALTIME"; }
# e2e_since T: seconds (float) elapsed since EPOCHREALTIME value T
e2e_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }
# e2e_sleep S: a sleep that a TERM/INT interrupts (bash runs a trap only after the foreground
# command ends, so a plain long sleep would delay the cleanup by as long)
e2e_sleep() {
  sleep "$1" &
  E2E_SLEEP_PID=$!
  wait "$E2E_SLEEP_PID"
  E2E_SLEEP_PID=
}
# e2e_wait_for TIMEOUT_S INTERVAL_S CMD...: poll CMD until it succeeds; rc 1 on timeout
e2e_wait_for() {
  local timeout=$1 interval=$2 t0=$EPOCHREALTIME
  shift 2
  while :; do
    "$@" && return 0
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN{exit !(b-a>=t)}' && return 1
    sleep "$interval"
  done
}

# ---- (a) temporary directory -------------------------------------------------------------------
e2e_setup_tmp() {
  E2E_TMP=$(mktemp -d /tmp/avmXXXXXX) || e2e_die "mktemp"
  chmod 0755 "$E2E_TMP"
  mkdir -p "$E2E_TMP/img"
  E2E_HOME=$E2E_TMP/h E2E_XDG_RUNTIME=$E2E_TMP/r E2E_WORK=$E2E_TMP/w E2E_IMG=$E2E_TMP/img
  export E2E_TMP E2E_HOME E2E_XDG_RUNTIME E2E_WORK E2E_IMG
}

# ---- (b) unprivileged test user ----------------------------------------------------------------
e2e_user_create() {
  [[ -n ${E2E_TMP:-} ]] || e2e_die "e2e_setup_tmp first"
  local base
  base=$(basename "$E2E_TMP" | tr 'A-Z' 'a-z')
  E2E_USER=${E2E_USER:-$base}
  id "$E2E_USER" &>/dev/null && e2e_die "user $E2E_USER exists already"
  useradd -m -d "$E2E_HOME" -s /bin/sh -U "$E2E_USER" || e2e_die "useradd $E2E_USER"
  E2E_USER_CREATED=1
  E2E_UID=$(id -u "$E2E_USER") E2E_GID=$(id -g "$E2E_USER")
  install -d -m 0700 -o "$E2E_UID" -g "$E2E_GID" "$E2E_XDG_RUNTIME"
  install -d -m 0755 -o "$E2E_UID" -g "$E2E_GID" "$E2E_WORK" "$E2E_WORK/log" \
    "$E2E_HOME/.config" "$E2E_HOME/.cache"
  export E2E_USER E2E_UID E2E_GID
  e2e_libvirt_conf "$E2E_HOME/.config" "$E2E_A_HOST_UUID" 49200 49209
}

# Host UUIDs: libvirt refuses a migration between daemons with the same one, and without one
# set this machine (no readable DMI) gets a random UUID at every libvirtd start.
E2E_A_HOST_UUID=11111111-aaaa-4aaa-8aaa-000000000001
E2E_B_HOST_UUID=22222222-bbbb-4bbb-8bbb-000000000002
# e2e_libvirt_conf XDG_CONFIG_HOME HOST_UUID PORT_MIN PORT_MAX: the session libvirtd's own
# libvirtd.conf and qemu.conf (read from XDG_CONFIG_HOME/libvirt). migration_address = 127.0.0.1
# is refused by libvirtd: loopback is asked for per migration (--migrateuri, --listen-address).
e2e_libvirt_conf() {
  local d=$1/libvirt
  install -d -m 0755 -o "$E2E_UID" -g "$E2E_GID" "$d"
  printf 'host_uuid = "%s"\n' "$2" >"$d/libvirtd.conf"
  printf 'migration_port_min = %s\nmigration_port_max = %s\n' "$3" "$4" >"$d/qemu.conf"
  chown "$E2E_UID:$E2E_GID" "$d/libvirtd.conf" "$d/qemu.conf"
}

# ---- (c) run as the test user ------------------------------------------------------------------
# e2e_user_argv ARRAY CMD...: fill ARRAY with the command line that runs CMD as the test user with
# a clean environment whose HOME and XDG directories point into the temporary directory.
# setpriv and env exec, so `"${ARRAY[@]}" &` gives $! = the PID of CMD itself (use this for
# daemons that must be stopped by PID; a backgrounded shell function would be a wrapper).
e2e_user_argv() {
  local -n _argv=$1
  shift
  _argv=(setpriv --reuid="$E2E_UID" --regid="$E2E_GID" --init-groups
    env -i -C "$E2E_HOME" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    HOME="$E2E_HOME" USER="$E2E_USER" LOGNAME="$E2E_USER" LANG=C.UTF-8
    XDG_RUNTIME_DIR="$E2E_XDG_RUNTIME" XDG_CONFIG_HOME="$E2E_HOME/.config"
    XDG_CACHE_HOME="$E2E_HOME/.cache" XDG_DATA_HOME="$E2E_HOME/.local/share"
    ${E2E_USER_ENV:-} "$@")
}
# e2e_as_user CMD...: run CMD (in the foreground) as the test user, see e2e_user_argv.
e2e_as_user() {
  local _a
  e2e_user_argv _a "$@"
  "${_a[@]}"
}
e2e_virsh() { e2e_as_user virsh -q -c "$E2E_URI" "$@"; }

# ---- (f) the private session libvirtd ----------------------------------------------------------
# Started explicitly (no --timeout) so that a scenario can kill and restart it; virsh would also
# autostart one with --timeout=120 if none runs.
E2E_LIBVIRTD_PID=
e2e_libvirtd_start() {
  local n=${E2E_LIBVIRTD_STARTS:-0}
  E2E_LIBVIRTD_STARTS=$((n + 1))
  local argv
  e2e_user_argv argv libvirtd
  "${argv[@]}" >>"$E2E_WORK/log/libvirtd.log" 2>&1 &
  E2E_LIBVIRTD_PID=$!
  e2e_wait_for 20 0.1 test -S "$E2E_XDG_RUNTIME/libvirt/libvirt-sock" ||
    e2e_die "libvirtd socket did not appear (see $E2E_WORK/log/libvirtd.log)"
  e2e_wait_for 20 0.2 e2e_virsh uri >/dev/null 2>&1 || e2e_die "libvirtd does not answer"
}
# e2e_libvirtd_stop [SIGNAL]: stop the libvirtd this harness started (running guests survive).
e2e_libvirtd_stop() {
  local sig=${1:-TERM} pid=$E2E_LIBVIRTD_PID
  [[ -z $pid ]] && pid=$(cat "$E2E_XDG_RUNTIME/libvirt/libvirtd.pid" 2>/dev/null)
  [[ -n $pid ]] || return 0
  kill -"$sig" "$pid" 2>/dev/null
  e2e_wait_for 15 0.1 e2e_pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  E2E_LIBVIRTD_PID=
}
e2e_pid_gone() { ! kill -0 "$1" 2>/dev/null; }
# PIDs of every process of the test user (libvirtd, virtlogd, qemu, agents, socat).
# (zombies are skipped: the harness' own children, e.g. libvirtd, linger as zombies until reaped)
e2e_user_pids() { [[ -n ${E2E_UID:-} ]] && ps -o pid=,stat= -U "$E2E_UID" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}'; }
e2e_no_user_pids() { [[ -z $(e2e_user_pids) ]]; }
e2e_kill_user_procs() {
  local pids p
  pids=$(e2e_user_pids)
  [[ -z $pids ]] && return 0
  for p in $pids; do kill -TERM "$p" 2>/dev/null; done
  e2e_wait_for 5 0.1 e2e_no_user_pids && return 0
  for p in $(e2e_user_pids); do kill -KILL "$p" 2>/dev/null; done
  e2e_wait_for 5 0.1 e2e_no_user_pids
}

# ---- (i) a second session libvirtd, "host B" (the migration scenarios) -------------------------
# The same test user with another HOME and XDG tree ($E2E_TMP/b/h, XDG_RUNTIME_DIR $E2E_TMP/b/r):
# its own domains, channel sockets, libvirt-sock and virtlogd, host_uuid and migration ports.
# Both daemons running as one user lets the source's libvirtd reach the destination's 0700
# socket (--p2p). Started only by the scenarios that need it.
E2E_B_PID=
e2e_b_setup() {
  E2E_B_HOME=$E2E_TMP/b/h E2E_B_RUNTIME=$E2E_TMP/b/r
  E2E_B_URI="qemu+unix:///session?socket=$E2E_B_RUNTIME/libvirt/libvirt-sock"
  install -d -m 0755 -o "$E2E_UID" -g "$E2E_GID" "$E2E_TMP/b" "$E2E_B_HOME" \
    "$E2E_B_HOME/.config" "$E2E_B_HOME/.cache"
  install -d -m 0700 -o "$E2E_UID" -g "$E2E_GID" "$E2E_B_RUNTIME"
  e2e_libvirt_conf "$E2E_B_HOME/.config" "$E2E_B_HOST_UUID" 49300 49309
  export E2E_B_HOME E2E_B_RUNTIME E2E_B_URI
}
e2e_virsh_b() { e2e_as_user virsh -q -c "$E2E_B_URI" "$@"; }
e2e_libvirtd_b_start() {
  [[ -n ${E2E_B_URI:-} ]] || e2e_b_setup
  # B's HOME and XDG directories for the daemon (and the virtlogd it starts)
  local argv E2E_HOME=$E2E_B_HOME E2E_XDG_RUNTIME=$E2E_B_RUNTIME
  e2e_user_argv argv libvirtd
  "${argv[@]}" >>"$E2E_WORK/log/libvirtd-b.log" 2>&1 &
  E2E_B_PID=$!
  e2e_wait_for 20 0.1 test -S "$E2E_B_RUNTIME/libvirt/libvirt-sock" ||
    e2e_die "host B's libvirtd socket did not appear (see $E2E_WORK/log/libvirtd-b.log)"
  e2e_wait_for 20 0.2 e2e_virsh_b uri >/dev/null 2>&1 || e2e_die "host B's libvirtd does not answer"
}
e2e_libvirtd_b_stop() {
  [[ -n $E2E_B_PID ]] || return 0
  kill -TERM "$E2E_B_PID" 2>/dev/null
  e2e_wait_for 15 0.1 e2e_pid_gone "$E2E_B_PID" || kill -KILL "$E2E_B_PID" 2>/dev/null
  wait "$E2E_B_PID" 2>/dev/null
  E2E_B_PID=
}
# e2e_host_uuid URI: the host UUID a libvirtd reports (virsh capabilities)
e2e_host_uuid() {
  e2e_as_user virsh -q -c "$1" capabilities 2>/dev/null | xmllint --xpath 'string(//host/uuid)' - 2>/dev/null
}

# ---- (h) cleanup -------------------------------------------------------------------------------
e2e_cleanup() {
  local rc=$? d p
  trap - EXIT
  trap '' INT TERM # finish the cleanup even when interrupted again
  [[ -n ${E2E_SLEEP_PID:-} ]] && kill "$E2E_SLEEP_PID" 2>/dev/null
  [[ -n ${E2E_TMP:-} ]] || return "$rc"
  if [[ -n ${E2E_UID:-} ]]; then
    if [[ -S $E2E_XDG_RUNTIME/libvirt/libvirt-sock ]]; then
      local dpids=()
      for d in $(e2e_as_user timeout 10 virsh -q -c "$E2E_URI" list --name 2>/dev/null); do
        e2e_as_user timeout 10 virsh -q -c "$E2E_URI" destroy "$d" &>/dev/null &
        dpids+=($!)
      done
      ((${#dpids[@]})) && wait "${dpids[@]}"
    fi
    if [[ -n ${E2E_B_RUNTIME:-} && -S $E2E_B_RUNTIME/libvirt/libvirt-sock ]]; then
      for d in $(e2e_as_user timeout 10 virsh -q -c "$E2E_B_URI" list --name 2>/dev/null); do
        e2e_as_user timeout 10 virsh -q -c "$E2E_B_URI" destroy "$d" &>/dev/null
      done
    fi
    for p in "${E2E_BG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    [[ ${E2E_DEBUG_CLEANUP:-0} == 1 ]] && { e2e_log "cleanup: domains destroyed"; ps -o pid,etime,args -U "$E2E_UID" >&2; }
    e2e_kill_user_procs
    [[ ${E2E_DEBUG_CLEANUP:-0} == 1 ]] && e2e_log "cleanup: processes ended"
  fi
  if [[ ${E2E_USER_CREATED:-} == 1 ]]; then
    userdel -f "$E2E_USER" 2>/dev/null
    getent group "$E2E_USER" >/dev/null && groupdel "$E2E_USER" 2>/dev/null
  fi
  if [[ ${E2E_KEEP:-0} == 1 ]]; then
    e2e_log "kept $E2E_TMP (E2E_KEEP=1)"
  else
    rm -rf "$E2E_TMP"
  fi
  return "$rc"
}
e2e_install_trap() {
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# ---- (d) guest initramfs -----------------------------------------------------------------------
# The kernel: newest /boot/vmlinuz-* with modules installed (Debian's linux-image-amd64).
e2e_kernel_version() {
  local k v best=
  for k in /boot/vmlinuz-*; do
    v=${k#/boot/vmlinuz-}
    [[ -d /lib/modules/$v ]] && best=$v
  done
  [[ -n $best ]] || e2e_die "no /boot/vmlinuz-* with /lib/modules (install linux-image-amd64)"
  printf '%s\n' "$best"
}

# e2e_prepare_kernel OUTDIR: sets E2E_KERNEL. Under TCG the bzImage's own xz decompression costs
# ~3 s per boot, so extract the ELF vmlinux once and boot it through its PVH entry point (QEMU
# loads an ELF kernel with a PVH note directly): domain start -> init ~2.7 s instead of ~5.5 s.
# Falls back to the bzImage when extraction fails or the ELF has no PVH note (E2E_PVH=0 forces it).
e2e_prepare_kernel() {
  local out=$1/vmlinux kver bz off
  kver=${E2E_KVER:-$(e2e_kernel_version)}
  bz=/boot/vmlinuz-$kver
  E2E_KERNEL=$bz
  [[ ${E2E_PVH:-1} == 1 ]] || return 0
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" 2>/dev/null | head -1 | cut -d: -f1)
  if [[ -n $off ]]; then
    tail -c +$((off + 1)) "$bz" | xz -dcq --single-stream >"$out" 2>/dev/null
  else
    off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$bz" 2>/dev/null | head -1 | cut -d: -f1)
    [[ -n $off ]] && tail -c +$((off + 1)) "$bz" | zstd -dcq >"$out" 2>/dev/null
  fi
  if [[ -s $out && $(head -c 4 "$out" | od -An -c | tr -d ' ') == 177ELF ]] &&
    readelf -n "$out" 2>/dev/null | grep -q 'Xen.*0x00000012\|Unknown note type: (0x00000012)'; then
    chmod 0644 "$out"
    E2E_KERNEL=$out
  else
    rm -f "$out"
  fi
}

# e2e_copy_with_libs STAGE FILE...: copy executables to STAGE at the same path, plus exactly the
# shared libraries ldd lists for them (and the dynamic loader), resolving symlinks.
e2e_copy_with_libs() {
  local stage=$1 f lib
  shift
  for f in "$@"; do
    [[ -x $f ]] || e2e_die "not an executable: $f"
    install -D -m 0755 "$f" "$stage/usr/bin/$(basename "$f")"
    while read -r lib; do
      [[ -n $lib && ! -e $stage$lib ]] || continue
      install -D -m 0755 "$(readlink -f "$lib")" "$stage$lib"
    done < <(ldd "$f" 2>/dev/null | awk '/=> \//{print $3; next} /^[[:space:]]*\//{print $1}')
  done
}

# e2e_stage_modules STAGE KVER [MODULE...]: the modules (default: the virtio ones the e2e guests
# need) and their dependencies in load order, decompressed, listed in STAGE/etc/e2e/modules
# (Debian 12 ships plain .ko; .ko.xz/.ko.zst/.ko.gz are handled too).
e2e_stage_modules() {
  local stage=$1 kver=$2 path name
  shift 2
  (($# > 0)) || set -- virtio_pci virtio_console virtio_rng
  local -A seen=()
  mkdir -p "$stage/lib/modules/e2e" "$stage/etc/e2e"
  : >"$stage/etc/e2e/modules"
  while read -r _ path _; do
    [[ -n $path && -z ${seen[$path]:-} ]] || continue
    seen[$path]=1
    name=$(basename "$path")
    case $path in
      *.ko.xz) name=${name%.xz}; xz -dc "$path" >"$stage/lib/modules/e2e/$name" ;;
      *.ko.zst) name=${name%.zst}; zstd -qdc "$path" >"$stage/lib/modules/e2e/$name" ;;
      *.ko.gz) name=${name%.gz}; gzip -dc "$path" >"$stage/lib/modules/e2e/$name" ;;
      *) cp "$path" "$stage/lib/modules/e2e/$name" ;;
    esac
    echo "$name" >>"$stage/etc/e2e/modules"
  done < <(modprobe -a -S "$kver" --show-depends "$@" | awk '$1=="insmod"')
  [[ -s $stage/etc/e2e/modules ]] || e2e_die "no modules ($*) for $kver"
}

# e2e_build_base_initramfs OUT [EXECUTABLE...]: busybox (static), /init (busybox init), the
# virtio modules, guest-probe (static) and the given executables with their libraries, as an
# uncompressed newc cpio (faster to unpack under TCG than a compressed one).
# The guest's /init: mounts proc/sys/devtmpfs, loads the modules, waits up to 20 s for the
# ports named in /etc/e2e/ports (the product channel and the test control channel) and links
# /dev/virtio-ports/NAME, starts the control executor on org.e2e.ctl, then runs /e2e/guest.sh
# (from the per-guest overlay, e2e_guest_initramfs). Console lines start with "E2E-".
e2e_build_base_initramfs() {
  local out=$1 kver stage
  shift
  kver=$(e2e_kernel_version)
  stage=$(mktemp -d "$E2E_TMP/stage.XXXX")
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc/e2e,e2e,var/lib,var/tmp,root}
  chmod 1777 "$stage/tmp" "$stage/var/tmp"
  install -m 0755 "$(command -v busybox)" "$stage/bin/busybox"
  file "$stage/bin/busybox" 2>/dev/null | grep -q 'dynamically' && e2e_die "busybox is not static (install busybox-static)"
  ln -s busybox "$stage/bin/sh"
  ln -s bin/busybox "$stage/init"
  ln -s ../bin/busybox "$stage/sbin/init"
  mknod -m 0600 "$stage/dev/console" c 5 1
  mknod -m 0666 "$stage/dev/null" c 1 3
  e2e_stage_modules "$stage" "$kver"
  gcc -static -O2 -Wall -o "$stage/usr/bin/guest-probe" "$E2E_DIR/guest-probe.c" || e2e_die "guest-probe"
  (($# > 0)) && e2e_copy_with_libs "$stage" "$@"
  [[ -e /etc/os-release ]] && cp -L /etc/os-release "$stage/etc/os-release"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
  printf 'root:x:0:\n' >"$stage/etc/group"
  printf '%s\n%s\n' "$E2E_CHANNEL" "$E2E_CTL_CHANNEL" >"$stage/etc/e2e/ports"
  cat >"$stage/etc/inittab" <<'EOF'
::sysinit:/bin/sh /etc/e2e/rc
::once:/bin/sh /etc/e2e/run-guest
::ctrlaltdel:/bin/poweroff -f
EOF
  cat >"$stage/etc/e2e/rc" <<'EOF'
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs -o mode=0755 tmpfs /dev
mkdir -p /dev/pts /dev/virtio-ports
[ -e /dev/null ] || mknod -m 0666 /dev/null c 1 3
ip link set lo up 2>/dev/null
hostname e2e-guest
echo "E2E-BOOT uptime=$(cut -d' ' -f1 /proc/uptime)"
while read -r m; do insmod "/lib/modules/e2e/$m" 2>/dev/null || echo "E2E-ERROR insmod $m"; done < /etc/e2e/modules
link_ports() {
  for d in /sys/class/virtio-ports/vport*; do
    [ -r "$d/name" ] || continue
    n=$(cat "$d/name"); v=${d##*/}
    [ -n "$n" ] || continue
    if [ ! -e "/dev/$v" ] && [ -r "$d/dev" ]; then
      mm=$(cat "$d/dev"); mknod "/dev/$v" c "${mm%%:*}" "${mm##*:}"
    fi
    [ -e "/dev/virtio-ports/$n" ] || ln -s "../$v" "/dev/virtio-ports/$n"
  done
}
i=0
while :; do
  link_ports
  missing=0
  while read -r p; do [ -e "/dev/virtio-ports/$p" ] || missing=1; done < /etc/e2e/ports
  [ $missing = 0 ] && break
  i=$((i + 1)); [ $i -ge 200 ] && break
  sleep 0.1
done
echo "E2E-PORTS uptime=$(cut -d' ' -f1 /proc/uptime) $(cd /dev/virtio-ports && echo *)"
EOF
  cat >"$stage/etc/e2e/run-guest" <<'EOF'
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
if [ -e /dev/virtio-ports/org.e2e.ctl ]; then
  guest-probe ctl /dev/virtio-ports/org.e2e.ctl </dev/null >/dev/console 2>&1 &
fi
echo "E2E-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -f /e2e/guest.sh ]; then
  sh /e2e/guest.sh </dev/null
  echo "E2E-GUEST-EXIT rc=$?"
fi
# stays up (the control executor keeps serving) unless guest.sh powered off
EOF
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out" ||
    e2e_die "cpio"
  chmod 0644 "$out"
  rm -rf "$stage"
  E2E_KVER=$kver
}

# e2e_guest_initramfs OUT BASE SCRIPT [NAME=FILE...]: BASE followed by a second cpio archive with
# /e2e/guest.sh = SCRIPT (the kernel unpacks concatenated archives) and extra files at /NAME.
e2e_guest_initramfs() {
  local out=$1 base=$2 script=$3 stage kv
  shift 3
  stage=$(mktemp -d "$E2E_TMP/ov.XXXX")
  mkdir -p "$stage/e2e"
  install -m 0755 "$script" "$stage/e2e/guest.sh"
  for kv in "$@"; do install -D -m 0644 "${kv#*=}" "$stage/${kv%%=*}"; done
  local tmp=$out.tmp
  cp "$base" "$tmp"
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >>"$tmp" ||
    e2e_die "cpio overlay"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$out"
  rm -rf "$stage"
}

# ---- (e) domains -------------------------------------------------------------------------------
# e2e_domain_xml NAME INITRD CONSOLE_LOG [MEMORY_MIB]: TCG domain booting the Debian kernel with
# INITRD, serial console to a file, a virtio rng, the test control channel, and NO product
# channel (`avma-host channel add` or e2e_add_channel_fallback adds it).
e2e_domain_xml() {
  local name=$1 initrd=$2 log=$3 mem=${4:-256}
  cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${E2E_KERNEL:-/boot/vmlinuz-${E2E_KVER:-$(e2e_kernel_version)}}</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <serial type='file'>
      <source path='$log' append='on'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='$E2E_CTL_CHANNEL'/>
    </channel>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# e2e_define NAME INITRD [MEMORY_MIB]: define (persistent) the domain; console log at
# $E2E_WORK/log/NAME.console.
e2e_define() {
  local name=$1 initrd=$2 mem=${3:-256} xml=$E2E_WORK/$1.xml
  e2e_domain_xml "$name" "$initrd" "$E2E_WORK/log/$name.console" "$mem" >"$xml"
  chown "$E2E_UID:$E2E_GID" "$xml"
  e2e_virsh define "$xml" >/dev/null || e2e_die "define $name"
  E2E_DOMAINS+=("$name")
}

# e2e_add_channel_fallback NAME [CHANNEL]: add the product channel to the persistent config
# directly (what `avma-host channel add` is meant to do), for testing the plumbing without it.
e2e_add_channel_fallback() {
  local name=$1 ch=${2:-$E2E_CHANNEL} f=$E2E_WORK/$1.channel.xml
  printf "<channel type='unix'><source mode='bind'/><target type='virtio' name='%s'/></channel>\n" \
    "$ch" >"$f"
  chown "$E2E_UID:$E2E_GID" "$f"
  e2e_virsh attach-device "$name" "$f" --config >/dev/null
}

# e2e_has_channel NAME [CHANNEL] [--inactive]: does the domain XML have the channel?
e2e_has_channel() {
  local name=$1 ch=${2:-$E2E_CHANNEL}
  shift 2 2>/dev/null || shift $#
  [[ $(e2e_virsh dumpxml "$name" "$@" | xmllint --xpath \
    "count(//devices/channel[@type='unix'][target/@type='virtio'][target/@name='$ch'])" - 2>/dev/null) -ge 1 ]]
}

# ---- (g) channel socket path from the live XML ------------------------------------------------
# e2e_channel_path NAME [CHANNEL]: the unix socket libvirt chose for CHANNEL of the running domain.
# Changes at every start: never cache it.
e2e_channel_path() {
  local name=$1 ch=${2:-$E2E_CHANNEL} p
  p=$(e2e_virsh dumpxml "$name" | xmllint --xpath \
    "string(//devices/channel[target/@name='$ch']/source/@path)" - 2>/dev/null)
  [[ -n $p ]] || return 1
  printf '%s\n' "$p"
}

e2e_start() { e2e_virsh start "$1" >/dev/null; }
e2e_destroy() { e2e_virsh destroy "$1" >/dev/null 2>&1; }
e2e_is_running() { [[ $(e2e_virsh domstate "$1" 2>/dev/null) == running ]]; }
e2e_console() { cat "$E2E_WORK/log/$1.console" 2>/dev/null; }
# e2e_console_has NAME REGEX: grep -E the console log
e2e_console_has() { grep -qaE "$2" "$E2E_WORK/log/$1.console" 2>/dev/null; }
# e2e_console_mark NAME: current size of the console log, to look only at newer lines later
e2e_console_mark() { stat -c %s "$E2E_WORK/log/$1.console" 2>/dev/null || echo 0; }
# e2e_console_since NAME OFFSET: console output after OFFSET bytes
e2e_console_since() { tail -c +"$(($2 + 1))" "$E2E_WORK/log/$1.console" 2>/dev/null; }

# ---- host side of a channel: a socat coprocess as the test user --------------------------------
# e2e_chan_open NAME CHANNEL: connect to the channel socket; sets E2E_CHAN_IN (fd to read from),
# E2E_CHAN_OUT (fd to write to) and E2E_CHAN_PID. One open channel per shell (subshells may each
# have their own). e2e_chan_close closes it.
e2e_chan_open() {
  local sock
  sock=$(e2e_channel_path "$1" "$2") || return 1
  local argv
  e2e_user_argv argv socat -t 0.2 - UNIX-CONNECT:"$sock"
  coproc E2E_CHAN { exec "${argv[@]}" 2>/dev/null; }
  exec {E2E_CHAN_IN}<&"${E2E_CHAN[0]}" {E2E_CHAN_OUT}>&"${E2E_CHAN[1]}"
  eval "exec ${E2E_CHAN[0]}<&- ${E2E_CHAN[1]}>&-"
}
e2e_chan_close() {
  [[ -n ${E2E_CHAN_OUT:-} ]] && exec {E2E_CHAN_OUT}>&-
  [[ -n ${E2E_CHAN_IN:-} ]] && exec {E2E_CHAN_IN}<&-
  E2E_CHAN_IN= E2E_CHAN_OUT=
  # socat sees EOF on stdin and exits after -t 0.2 s; make sure within 3 s
  local pid=${E2E_CHAN_PID:-}
  if [[ -n $pid ]]; then
    if ! e2e_wait_for 3 0.05 e2e_pid_gone "$pid"; then
      pkill -TERM -P "$pid" 2>/dev/null
      kill -TERM "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
  fi
  E2E_CHAN_PID=
}

# e2e_guest_exec NAME TIMEOUT_S COMMAND: run COMMAND (one line, /bin/sh -c) in the guest through
# the control channel; prints its output, returns its exit status (124 on timeout, 125 when the
# channel cannot be reached).
e2e_guest_exec() {
  local name=$1 timeout=$2 cmd=$3 id line on=0 rc=124 t0=$EPOCHREALTIME left
  id=$RANDOM$RANDOM
  e2e_chan_open "$name" "$E2E_CTL_CHANNEL" || return 125
  printf '%s %s\n' "$id" "$cmd" >&"$E2E_CHAN_OUT"
  while :; do
    left=$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN{l=t-(b-a); printf "%.2f", (l>0.01?l:0.01)}')
    IFS= read -r -t "$left" line <&"$E2E_CHAN_IN" || break
    line=${line%$'\r'}
    case $line in
      "E2E-BEGIN $id") on=1 ;;
      "E2E-RC $id "*) rc=${line##* }; break ;;
      *) ((on)) && printf '%s\n' "$line" ;;
    esac
  done
  e2e_chan_close
  return "$rc"
}

# ---- scenario framework ------------------------------------------------------------------------
E2E_PASSED=0 E2E_FAILED=0 E2E_SKIPPED=0
E2E_RESULTS=()
pass() { E2E_SCEN_RESULT=PASS E2E_SCEN_REASON="$*"; }
fail() { E2E_SCEN_RESULT=FAIL E2E_SCEN_REASON="$*"; }
skip() { E2E_SCEN_RESULT=SKIP E2E_SCEN_REASON="$*"; }
# run_scenario NAME: runs function scenario_NAME, which must call pass/fail/skip (the last call
# wins; a scenario that returns non-zero without a verdict fails).
run_scenario() {
  local name=$1 t0=$EPOCHREALTIME rc
  E2E_SCEN_RESULT= E2E_SCEN_REASON=
  e2e_log "--- scenario $name"
  "scenario_$name"
  rc=$?
  if [[ -z $E2E_SCEN_RESULT ]]; then
    if ((rc == 0)); then E2E_SCEN_RESULT=PASS; else E2E_SCEN_RESULT=FAIL E2E_SCEN_REASON="returned $rc without a verdict"; fi
  fi
  local line
  line=$(printf '%-4s %-34s %6ss  %s' "$E2E_SCEN_RESULT" "$name" "$(e2e_since "$t0")" "$E2E_SCEN_REASON")
  printf '%s\n' "$line"
  E2E_RESULTS+=("$line")
  case $E2E_SCEN_RESULT in
    PASS) E2E_PASSED=$((E2E_PASSED + 1)) ;;
    SKIP) E2E_SKIPPED=$((E2E_SKIPPED + 1)) ;;
    *) E2E_FAILED=$((E2E_FAILED + 1)) ;;
  esac
}
e2e_summary() {
  local l
  echo "==== e2e summary"
  for l in "${E2E_RESULTS[@]}"; do printf '%s\n' "$l"; done
  echo "$E2E_PASSED passed, $E2E_FAILED failed$( ((E2E_SKIPPED)) && echo ", $E2E_SKIPPED skipped")"
  ((E2E_FAILED == 0))
}
