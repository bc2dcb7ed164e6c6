# Helpers for the libvirt integration tests (test-libvirt*.sh), sourced after lib.sh: libvirt's
# test driver, a private libvirtd for an unprivileged user (session mode, as in
# /work/shared/e2e-notes.md), and the host agent run as that user.
#
# As root, a temporary user owns $LV (its HOME, XDG_RUNTIME_DIR, the agent's state, the sockets)
# and is removed at exit; as any other user the tests run as that user. Every process is ended by
# its PID: libvirtd and virtlogd through their pid files, the rest as started.

LV=$T/u                     # the user's directory (short: unix socket paths are capped at 107)
LV_SOCK=$LV/r/libvirt/libvirt-sock
LV_TEST_URI="test+unix:///default?socket=$LV_SOCK"  # the test driver inside the private libvirtd
LV_QEMU_URI="qemu+unix:///session?socket=$LV_SOCK"  # real QEMU domains, same libvirtd
LV_USER=
LV_CREATED=
LV_LIBVIRTD_PID=
LV_HOLD_PID=
NS=http://avma.invalid/xmlns/activation/1            # kvp-schema @metadata-ns
CH=org.avma.kvp.0                                    # kvp-schema @channel

# lv_wait SECONDS CMD...: poll CMD (run as given, no eval: arguments may hold spaces) until it
# succeeds.
lv_wait() {
  local s=$1; shift
  local end=$((SECONDS + s))
  while ((SECONDS <= end)); do "$@" && return 0; sleep 0.2; done
  return 1
}

lv_cleanup() {
  local p
  [[ -n $LV_LIBVIRTD_PID ]] && kill -0 "$LV_LIBVIRTD_PID" 2>/dev/null && {
    for d in $(lv_virsh "$LV_QEMU_URI" list --name 2>/dev/null); do
      lv_virsh "$LV_QEMU_URI" destroy "$d" >/dev/null 2>&1
    done
  }
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n $LV_HOLD_PID ]] && kill "$LV_HOLD_PID" 2>/dev/null
  lv_libvirtd_stop
  p=$(cat "$LV/r/libvirt/virtlogd.pid" 2>/dev/null) && [[ -n $p ]] && kill "$p" 2>/dev/null
  if [[ -n $LV_CREATED ]]; then
    # Every process of this run's own user was started by this test (QEMU, helpers).
    for p in $(ps -o pid= -U "$LV_USER" 2>/dev/null); do kill "$p" 2>/dev/null; done
    sleep 0.3
    for p in $(ps -o pid= -U "$LV_USER" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    userdel "$LV_USER" 2>/dev/null
    getent group "$LV_USER" >/dev/null && groupdel "$LV_USER" 2>/dev/null
  fi
  cleanup
}
trap lv_cleanup EXIT

# lv_setup: the user and its directories. Returns 1 (with a reason on stdout) when impossible.
lv_setup() {
  chmod 0755 "$T"
  mkdir -p "$LV"/h/.config/libvirt "$LV"/h/.cache "$LV"/r "$LV"/st
  # Session-mode QEMU without virtlogd: one daemon less to start and stop.
  echo 'stdio_handler = "file"' >"$LV/h/.config/libvirt/qemu.conf"
  if ((EUID == 0)); then
    LV_USER=$(basename "$T" | tr 'A-Z' 'a-z')
    useradd -M -d "$LV/h" -s /usr/sbin/nologin -U "$LV_USER" || { echo "# useradd failed"; return 1; }
    LV_CREATED=1
    chown -R "$LV_USER:" "$LV"
  fi
  chmod 0700 "$LV/r"
}

# as_user CMD...: run CMD as the test user with its own HOME and XDG directories.
# In the background use `as_user_exec CMD &`: it replaces the forked shell, so $! is CMD's PID.
as_user_exec() {
  cd "$LV" || exit 1
  local env=(env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8
    HOME="$LV/h" XDG_RUNTIME_DIR="$LV/r" XDG_CONFIG_HOME="$LV/h/.config"
    XDG_CACHE_HOME="$LV/h/.cache" LIBVIRT_AUTOSTART=0)
  if [[ -n $LV_USER ]]; then
    exec setpriv --reuid="$LV_USER" --regid="$LV_USER" --init-groups "${env[@]}" "$@"
  else
    exec "${env[@]}" "$@"
  fi
}
as_user() { (as_user_exec "$@"); }

lv_virsh() { local uri=$1; shift; as_user virsh -q -c "$uri" "$@"; }

lv_libvirtd_start() {
  as_user_exec libvirtd >>"$LV/libvirtd.log" 2>&1 &
  LV_LIBVIRTD_PID=$!
  lv_wait 20 test -S "$LV_SOCK" && lv_wait 20 lv_virsh "$LV_TEST_URI" uri >/dev/null 2>&1
}
lv_libvirtd_stop() {
  [[ -n $LV_LIBVIRTD_PID ]] || return 0
  kill "$LV_LIBVIRTD_PID" 2>/dev/null
  lv_wait 10 lv_gone "$LV_LIBVIRTD_PID" || kill -KILL "$LV_LIBVIRTD_PID" 2>/dev/null
  wait "$LV_LIBVIRTD_PID" 2>/dev/null
  LV_LIBVIRTD_PID=
}
lv_gone() { ! kill -0 "$1" 2>/dev/null; }

# lv_hold: one connection to test:///default kept open, so that its shared state survives between
# virsh calls (the test driver frees it with the last connection).
lv_hold() {
  [[ -n $LV_HOLD_PID ]] && kill "$LV_HOLD_PID" 2>/dev/null
  as_user_exec virsh -q -c "$LV_TEST_URI" event --all --loop >/dev/null 2>&1 &
  LV_HOLD_PID=$!
  sleep 0.3
}

# uport NAME: a port stand-in owned by the user: guest side $LV/NAME.pty, host side $LV/NAME.sock
uport() {
  as_user_exec "$B/avma-portsim" --pty "$LV/$1.pty" --socket "$LV/$1.sock" &
  PIDS+=($!)
  lv_wait 5 test -S "$LV/$1.sock"
}
# uguest NAME ARGS...: avma-guest on $LV/NAME.pty (as the caller: it only needs the pty)
uguest() {
  local name=$1; shift
  [[ -e $T/$name.conf ]] || guest_conf "$name"
  "$B/avma-guest" --config "$T/$name.conf" --state-dir "$T/g-$name" --port "$LV/$name.pty" "$@"
}
# uhost ARGS...: avma-host as the user on its state dir and config
uhost() { as_user "$B/avma-host" --config "$LV/host.conf" --state-dir "$LV/st" "$@"; }
# uhostd: avma-hostd as the user (config $LV/host.conf), log in $LV/hostd.log; sets UHOSTD_PID
uhostd() {
  as_user_exec "$B/avma-hostd" --config "$LV/host.conf" --state-dir "$LV/st" -v "$@" \
    >>"$LV/hostd.log" 2>&1 &
  UHOSTD_PID=$!
  PIDS+=($UHOSTD_PID)
}
uhostd_stop() {
  kill "$UHOSTD_PID" 2>/dev/null
  lv_wait 10 lv_gone "$UHOSTD_PID"
  wait "$UHOSTD_PID" 2>/dev/null
}
# host_conf LINES...: $LV/host.conf with [host] journal=no, quick libvirt reconnects, and LINES
host_conf() {
  {
    echo "[host]"
    echo "journal=no"
    for l in "$@"; do echo "$l"; done
    echo "[limits]"
    echo "reconnect_max_ms=1000"
  } >"$LV/host.conf"
  chmod 0644 "$LV/host.conf"
}

# The daemon's view: vm NAME FIELD prints a member of NAME's entry in vms.json
view() { cat "$LV/st/vms.json" 2>/dev/null; }
vm() { view | jq -r --arg n "$1" ".vms[] | select(.name == \$n) | .$2"; }
vm_is() { [[ $(vm "$1" "$2") == "$3" ]]; }
has_vm() { [[ -n $(vm "$1" name) ]]; }
log_has() { grep -q -- "$1" "$LV/hostd.log"; }
# log_count PATTERN: lines of the daemon's log matching PATTERN
log_count() { grep -c -- "$1" "$LV/hostd.log"; }

# test_domain NAME UUID [CHANNEL-SOCKET]: a test-driver domain, with the project's channel on
# CHANNEL-SOCKET when given
test_domain() {
  local ch=""
  [[ -n ${3:-} ]] && ch="<channel type='unix'><source mode='bind' path='$3'/><target type='virtio' name='$CH'/></channel>"
  cat <<EOF
<domain type='test'>
  <name>$1</name>
  <uuid>$2</uuid>
  <memory>65536</memory>
  <os><type>hvm</type></os>
  <devices>$ch</devices>
</domain>
EOF
}
