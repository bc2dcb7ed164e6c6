# tests/e2e/migration.sh: the migration scenarios (issue 21 item 1), sourced by run.sh in --real
# mode and run after scenarios.sh's, on the guests those booted. A second session libvirtd
# ("host B", lib.sh section i) runs beside the harness' own ("host A"), each with an avma-hostd
# (own state dir and licence). A stays 2022 Datacenter, activated; B's licence is set per
# scenario. libvirt refuses a same-host migration only by host UUID, so live migration works on
# loopback between the two (/work/shared/migration-notes.md).
#
#   live_migrate_to_licensed     ga (2022 Standard) A -> B (2025 Datacenter): validity kept across
#                                the move, metadata on B's live and persistent definition, A's run
#                                closed and B's opened, B serves at its new socket; renewal: Success
#                                decided by B
#   live_migrate_back            ga B -> A (A holds no definition): A serves; renewal: Success by A
#   live_migrate_to_older_host   ga A -> B (2019 Datacenter): renewal Activation Denied by B,
#                                validity kept
#   live_migrate_to_unactivated_host  ga A -> B (2025 Datacenter, not activated): Invalid Host
#   save_restore_across_hosts    `virsh save` on B, `restore` on A: transient on A, B keeps its
#                                shut-off definition; A serves
#   metadata_during_migration    a decision on A while a throttled migration runs: the guest's
#                                reply is prompt, the write waits; back on A, it is written
#   metadata_newer_kept          the same, but B decides before the domain comes back: A's older
#                                write must not replace B's newer metadata
#   offline_migration            gc (2025 Datacenter, denied by A) shut off, `migrate --offline`
#                                A -> B: B learns it, A's periodic listing notices it left; started
#                                on B: Success
# Each scenario first moves its guest to where it needs it, so any one runs alone too.

MIG_SCENARIOS=(live_migrate_to_licensed live_migrate_back live_migrate_to_older_host
  live_migrate_to_unactivated_host save_restore_across_hosts metadata_during_migration
  metadata_newer_kept offline_migration)
# virsh's URI for each host (explicit sockets: qemu:///session would autostart a daemon)
declare -A VURI=()
HSTATE_B= HCONF_B= HOSTD_B_PID=

# ---- the two hosts ------------------------------------------------------------------------------
# at HOST CMD...: run CMD with virsh (e2e_virsh, e2e_channel_path, e2e_guest_exec, gcli) talking
# to HOST's libvirtd (a or b).
at() {
  local E2E_URI=${VURI[$1]}
  shift
  "$@"
}
hstate() { [[ $1 == a ]] && echo "$HSTATE" || echo "$HSTATE_B"; }
hlog() { [[ $1 == a ]] && echo "$E2E_WORK/log/hostd.log" || echo "$E2E_WORK/log/hostd-b.log"; }
hostb_cli() { e2e_as_user "$BIN/avma-host" --connect "$E2E_B_URI" --state-dir "$HSTATE_B" --config "$HCONF_B" "$@"; }
# licence_b VERSION yes|no: B's licence (Datacenter); the running agent picks it up
licence_b() {
  hostb_cli license set --version "$1" --edition Datacenter --activated "$2" >>"$E2E_WORK/log/host-cli.log" 2>&1
}
hostd_b_start() {
  echo "=== avma-hostd (host B) start at $(date -u +%T.%N)" >>"$(hlog b)"
  local argv
  e2e_user_argv argv "$BIN/avma-hostd" --connect "$E2E_B_URI" --state-dir "$HSTATE_B" --config "$HCONF_B" -v
  "${argv[@]}" >>"$(hlog b)" 2>&1 &
  HOSTD_B_PID=$!
  E2E_BG_PIDS+=("$HOSTD_B_PID")
  e2e_wait_for 10 0.1 grep -aq 'libvirt: connected to' "$(hlog b)"
}
hostd_b_stop() {
  [[ -n $HOSTD_B_PID ]] || return 0
  kill -TERM "$HOSTD_B_PID" 2>/dev/null
  e2e_wait_for 10 0.1 e2e_pid_gone "$HOSTD_B_PID" || kill -KILL "$HOSTD_B_PID" 2>/dev/null
  wait "$HOSTD_B_PID" 2>/dev/null
  HOSTD_B_PID=
}
need_agents() {
  hostd_alive || { fail "host A's avma-hostd is not running"; return 1; }
  [[ -n $HOSTD_B_PID ]] && kill -0 "$HOSTD_B_PID" 2>/dev/null && return 0
  fail "host B's avma-hostd is not running ($(tail -1 "$(hlog b)"))"
  return 1
}

# where DOM: the host (a or b) where DOM runs, empty when it runs on neither
where() {
  local h
  for h in a b; do
    [[ $(at "$h" e2e_virsh domstate "$1" 2>/dev/null) == running ]] && { echo "$h"; return; }
  done
}
other() { [[ $1 == a ]] && echo b || echo a; }

# migrate DOM FROM TO [ARGS...]: virsh migrate on loopback (default --live --persistent
# --undefinesource --p2p; ARGS are added); sets MIG_S, the wall time of the command
migrate() {
  local d=$1 from=$2 to=$3 t0=$EPOCHREALTIME
  shift 3
  echo "=== $(date -u +%T.%N) migrate $d $from -> $to $*" >>"$E2E_WORK/log/migrate.log"
  e2e_as_user virsh -q -c "${VURI[$from]}" migrate --live --persistent --undefinesource --p2p "$@" \
    "$d" "${VURI[$to]}" --migrateuri tcp://127.0.0.1 --listen-address 127.0.0.1 \
    >>"$E2E_WORK/log/migrate.log" 2>&1 || return 1
  MIG_S=$(e2e_since "$t0")
  MIG_TIMES+="$MIG_S "
}
# place DOM HOST: make DOM run on HOST (a plain live migration when it runs on the other)
place() {
  local w
  w=$(where "$1")
  [[ $w == "$2" ]] && return 0
  [[ -n $w ]] || return 1
  migrate "$1" "$w" "$2"
}

# ---- what each side recorded --------------------------------------------------------------------
# mark HOST: the size of HOST's events.jsonl and agent log, to look at newer lines only
declare -A EV_MARK=() LOG_MARK=()
mark() {
  local h
  for h in "$@"; do
    EV_MARK[$h]=$(stat -c %s "$(hstate "$h")/events.jsonl" 2>/dev/null || echo 0)
    LOG_MARK[$h]=$(stat -c %s "$(hlog "$h")" 2>/dev/null || echo 0)
  done
}
# new_records HOST: HOST's records since mark, one JSON object a line
new_records() { tail -c +"$((${EV_MARK[$1]} + 1))" "$(hstate "$1")/events.jsonl" 2>/dev/null; }
new_log() { tail -c +"$((${LOG_MARK[$1]} + 1))" "$(hlog "$1")" 2>/dev/null; }
# (grep -q would end the pipe early: a SIGPIPE status under pipefail)
new_log_has() { new_log "$1" | grep -aE -- "$2" >/dev/null; }
# edges HOST VM: VM's run edges (12312) since mark: "true domain-migrated-in" ...
edges() {
  new_records "$1" | jq -r --arg vm "$2" \
    'select(.event_id == 12312 and .vm == $vm) | "\(.running) \(.reason)"' 2>/dev/null | tr '\n' ',' | sed 's/,$//'
}
edges_are() { [[ $(edges "$1" "$2") == "$3" ]]; }
# decisions HOST VM: VM's decisions (12310) since mark, one JSON object a line
decisions() { new_records "$1" | jq -c --arg vm "$2" 'select(.event_id == 12310 and .vm == $vm)' 2>/dev/null; }
has_decision() { [[ $(decisions "$1" "$2" | jq -r .notification | tail -1) == "$3" ]]; }
# meta_xml DOM [--config]: the activation metadata as XML without layout (libvirt re-indents the
# persistent copy: compare as XML, not as text)
meta_xml() { e2e_virsh metadata "$1" "$NS" ${2:-} 2>/dev/null | xmllint --noblanks - 2>/dev/null | sed 1d; }
# meta_of DOM FIELD [--config]: one element of it (notification, host-id, time, ...)
meta_of() { meta_xml "$1" "${3:-}" | xmllint --xpath "string(/*/*[local-name()='$2'])" - 2>/dev/null; }
meta_field_is() { [[ $(meta_of "$1" "$2" "${4:-}") == "$3" ]]; }
# meta_settled STATE DOM: both copies of DOM's metadata (on the host E2E_URI names) are the last
# decision in STATE/events.jsonl (metadata is written after the decision, off its path)
meta_settled() {
  local r t h
  r=$(jq -c --arg vm "$2" 'select(.event_id == 12310 and .vm == $vm)' "$1/events.jsonl" 2>/dev/null | tail -1)
  t=$(jf time "$r") h=$(jf host_id "$r")
  [[ -n $t ]] && meta_field_is "$2" time "$t" && meta_field_is "$2" host-id "$h" &&
    { [[ $(persistent "$2") != yes ]] ||
      { meta_field_is "$2" time "$t" --config && meta_field_is "$2" host-id "$h" --config; }; }
}
dlv() { gcli "$1" 20 dlv --json 2>/dev/null; }
# persistent DOM: yes or no (virsh dominfo, on the host E2E_URI names)
persistent() { e2e_virsh dominfo "$1" 2>/dev/null | awk '/^Persistent:/ {print $2}'; }
jf() { jq -r ".$1 // empty" <<<"$2" 2>/dev/null; } # jf FIELD JSON
served_at() { # served_at HOST DOM: HOST's agent logged serving DOM's channel at its live path
  local p
  p=$(at "$1" e2e_channel_path "$2") || return 1
  new_log "$1" | grep -aF -- "$2: serving channel $E2E_CHANNEL at $p" >/dev/null
}

# check_moved DOM FROM TO: appends to WHY what is wrong with DOM having moved FROM -> TO live
# with --persistent --undefinesource: runs and is persistent on TO, gone from FROM, TO's agent
# serves the new socket, FROM closed the run and TO opened one.
check_moved() {
  local d=$1 from=$2 to=$3
  [[ $(at "$to" e2e_virsh domstate "$d" 2>/dev/null) == running ]] || WHY+="not running on $to; "
  [[ $(at "$to" persistent "$d") == yes ]] || WHY+="not persistent on $to; "
  at "$from" e2e_virsh dominfo "$d" &>/dev/null && WHY+="still defined on $from; "
  e2e_wait_for 10 0.2 served_at "$to" "$d" || WHY+="$to's agent did not log serving $d at $(at "$to" e2e_channel_path "$d"); "
  e2e_wait_for 10 0.2 edges_are "$from" "$d" "false domain-migrated-out" ||
    WHY+="$from's run edges for $d: '$(edges "$from" "$d")', want 'false domain-migrated-out'; "
  e2e_wait_for 10 0.2 edges_are "$to" "$d" "true domain-migrated-in" ||
    WHY+="$to's run edges for $d: '$(edges "$to" "$d")', want 'true domain-migrated-in'; "
}

# move_and_renew FROM TO B_VERSION B_ACTIVATED WANT_RC WANT_NOTIFICATION: the live scenarios.
# ga gets a fresh grant on FROM (so that no timer renewal falls into the checks), moves, keeps its
# validity, then renews (ato) and TO decides. Sets WHY and SUMMARY.
move_and_renew() {
  local from=$1 to=$2 d=ga rc d0 d1 d2 m0 m0c m1 m1c hid
  WHY= SUMMARY=
  place "$d" "$from" || { WHY="cannot place $d on $from"; return; }
  [[ $to == b ]] && { licence_b "$3" "$4" || { WHY="license set on B failed"; return; }; }
  at "$from" gcli "$d" 30 ato >/dev/null || { WHY="ato on $from before the move: exit $?"; return; }
  d0=$(at "$from" dlv "$d")
  e2e_wait_for 10 0.2 at "$from" meta_settled "$(hstate "$from")" "$d" ||
    WHY+="$from's metadata is not its last decision before the move; "
  m0=$(at "$from" meta_xml "$d") m0c=$(at "$from" meta_xml "$d" --config)
  mark a b
  migrate "$d" "$from" "$to" || { WHY="virsh migrate failed: $(tail -2 "$E2E_WORK/log/migrate.log" | tr '\n' ' ')"; return; }
  check_moved "$d" "$from" "$to"
  # validity kept: the guest's state is the grant from FROM, untouched by the move
  d1=$(at "$to" dlv "$d")
  [[ -n $(jf expires "$d0") && $(jf expires "$d1") == "$(jf expires "$d0")" && $(jf host_id "$d1") == "$(jf host_id "$d0")" &&
    $(jf license_status "$d1") == "$(jf license_status "$d0")" ]] ||
    WHY+="guest state changed by the move: before $(jq -c '{license_status,expires,host_id}' <<<"$d0") after $(jq -c '{license_status,expires,host_id}' <<<"$d1"); "
  # the metadata came along: the live copy to TO's live definition, the persistent one to TO's
  m1=$(at "$to" meta_xml "$d") m1c=$(at "$to" meta_xml "$d" --config)
  [[ -n $m0 && $m1 == "$m0" ]] || WHY+="live metadata on $to differs from $from's: '$m1' vs '$m0'; "
  [[ -n $m0c && $m1c == "$m0c" ]] || WHY+="persistent metadata on $to differs from $from's: '$m1c' vs '$m0c'; "
  # the renewal, decided by TO
  mark a b
  at "$to" gcli "$d" 30 ato >/dev/null
  rc=$?
  ((rc == $5)) || WHY+="ato on $to: exit $rc, want $5; "
  e2e_wait_for 10 0.2 has_decision "$to" "$d" "$6" || WHY+="no '$6' 12310 record on $to (got: $(decisions "$to" "$d" | jq -r .notification | tr '\n' ' ')); "
  [[ -z $(decisions "$from" "$d") ]] || WHY+="$from recorded a decision for $d after it left; "
  hid=$(decisions "$to" "$d" | tail -1 | jq -r .host_id)
  d2=$(at "$to" dlv "$d")
  [[ -n $hid && $(jf host_id "$d2") == "$hid" && $hid != "$(jf host_id "$d0")" ]] ||
    WHY+="guest's host id after the renewal '$(jf host_id "$d2")', $to's '$hid', $from's '$(jf host_id "$d0")'; "
  [[ $(jf last_notification "$d2") == "$6" ]] || WHY+="guest's last notification '$(jf last_notification "$d2")'; "
  if [[ $6 != "AVMA Success" ]]; then
    # a refused renewal leaves the grant from FROM running its course
    [[ $(jf expires "$d2") == "$(jf expires "$d0")" && $(jf license_status "$d2") == "$(jf license_status "$d0")" ]] ||
      WHY+="validity not kept after the refused renewal: $(jq -c '{license_status,expires}' <<<"$d2"); "
  else
    [[ $(jf expires "$d2") > $(jf expires "$d0") ]] || WHY+="no new grant: expires $(jf expires "$d2"); "
  fi
  # TO's decision is on both of TO's copies
  e2e_wait_for 10 0.2 at "$to" meta_settled "$(hstate "$to")" "$d" ||
    WHY+="metadata on $to not TO's decision: live '$(at "$to" meta_of "$d" notification)' config '$(at "$to" meta_of "$d" notification --config)'; "
  SUMMARY="migrated in ${MIG_S}s; validity ($(jf expires "$d0")) kept; metadata (live, config) moved; runs closed/opened; renewal on $to: $6 (exit $rc)"
}

verdict() { [[ -z $WHY ]] && pass "$SUMMARY" || fail "$WHY"; }

# ---- the set-up: host B --------------------------------------------------------------------------
migration_setup() {
  local t0=$EPOCHREALTIME ua ub
  e2e_b_setup
  e2e_libvirtd_b_start
  VURI[a]=$HOST_URI VURI[b]=$E2E_B_URI
  ua=$(e2e_host_uuid "${VURI[a]}") ub=$(e2e_host_uuid "${VURI[b]}")
  [[ $ua == "$E2E_A_HOST_UUID" && $ub == "$E2E_B_HOST_UUID" ]] ||
    e2e_die "host UUIDs are not the configured ones: A '$ua', B '$ub'"
  HSTATE_B=$E2E_WORK/hstate-b HCONF_B=$E2E_WORK/host-b.conf
  write_host_conf "$HCONF_B"
  chown "$E2E_UID:$E2E_GID" "$HCONF_B"
  licence_b 2025 yes || e2e_die "license set on host B failed: $(tail -2 "$E2E_WORK/log/host-cli.log")"
  hostd_b_start || e2e_die "host B's avma-hostd did not connect: $(tail -3 "$(hlog b)")"
  hostd_alive || hostd_start || e2e_die "host A's avma-hostd does not start"
  timing "host B: libvirtd + avma-hostd started" "$(e2e_since "$t0")s"
}

migration_main() {
  local s any=0 t0=$EPOCHREALTIME
  for s in "${MIG_SCENARIOS[@]}"; do want "$s" && any=1; done
  ((any)) || return 0
  MIG_TIMES=
  migration_setup
  for s in "${MIG_SCENARIOS[@]}"; do maybe_run "$s"; done
  hostd_b_stop
  timing "live migrations (virsh wall time)" "${MIG_TIMES}s"
  timing "migration scenarios in all (host B's start included)" "$(e2e_since "$t0")s"
}

# ---- live migration -----------------------------------------------------------------------------
scenario_live_migrate_to_licensed() {
  need_agents || return 0
  move_and_renew a b 2025 yes 0 "AVMA Success"
  verdict
}

scenario_live_migrate_back() {
  need_agents || return 0
  local rc hid had d
  WHY= SUMMARY=
  place ga b || { fail "cannot place ga on B"; return; }
  had="no definition"
  at a e2e_virsh dominfo ga &>/dev/null && had="a shut-off definition"
  mark a b
  migrate ga b a || { fail "virsh migrate failed: $(tail -2 "$E2E_WORK/log/migrate.log" | tr '\n' ' ')"; return; }
  check_moved ga b a
  at a gcli ga 30 ato >/dev/null
  rc=$?
  ((rc == 0)) || WHY+="ato on A: exit $rc, want 0; "
  e2e_wait_for 10 0.2 has_decision a ga "AVMA Success" || WHY+="no AVMA Success 12310 record on A; "
  [[ -z $(decisions b ga) ]] || WHY+="B recorded a decision for ga after it left; "
  hid=$(decisions a ga | tail -1 | jq -r .host_id)
  d=$(at a dlv ga)
  [[ -n $hid && $(jf host_id "$d") == "$hid" ]] || WHY+="guest's host id '$(jf host_id "$d")', A's '$hid'; "
  e2e_wait_for 10 0.2 at a meta_settled "$HSTATE" ga || WHY+="A's metadata is not A's decision; "
  SUMMARY="B -> A in ${MIG_S}s (A held $had); runs closed on B, opened on A; A serves: Success by A"
  verdict
}

scenario_live_migrate_to_older_host() {
  need_agents || return 0
  # a 2022 guest on a 2019 host
  move_and_renew a b 2019 yes 5 "Activation Denied"
  verdict
}

scenario_live_migrate_to_unactivated_host() {
  need_agents || return 0
  move_and_renew a b 2025 no 3 "Invalid Host"
  verdict
}

# ---- save on one host, restore on the other -------------------------------------------------------
scenario_save_restore_across_hosts() {
  need_agents || return 0
  local src dst f=$E2E_WORK/ga.xsave m0 rc t0 hid
  WHY= SUMMARY=
  licence_b 2025 yes
  src=$(where ga)
  [[ -n $src ]] || { fail "ga runs nowhere"; return; }
  dst=$(other "$src")
  # a definition on dst would make the restored domain persistent there
  at "$dst" e2e_virsh undefine ga &>/dev/null
  # a fresh grant first: no retry of an earlier refusal changes the metadata under the save
  at "$src" gcli ga 30 ato >/dev/null || WHY+="ato on $src before the save: exit $?; "
  e2e_wait_for 10 0.2 at "$src" meta_settled "$(hstate "$src")" ga || WHY+="$src's metadata not settled; "
  m0=$(at "$src" meta_xml ga)
  mark a b
  t0=$EPOCHREALTIME
  at "$src" e2e_virsh save ga "$f" >/dev/null || { fail "virsh save on $src failed"; return; }
  at "$dst" e2e_virsh restore "$f" >/dev/null || { fail "virsh restore on $dst failed"; return; }
  rm -f "$f"
  timing "virsh save on $src + restore on $dst" "$(e2e_since "$t0")s"
  [[ $(at "$dst" e2e_virsh domstate ga 2>/dev/null) == running ]] || WHY+="not running on $dst; "
  [[ $(at "$dst" persistent ga) == no ]] || WHY+="not transient on $dst; "
  at "$dst" e2e_virsh metadata ga "$NS" --config &>/dev/null && WHY+="a persistent metadata copy on $dst; "
  [[ -n $m0 && $(at "$dst" meta_xml ga) == "$m0" ]] || WHY+="live metadata on $dst is not the saved one; "
  [[ $(at "$src" e2e_virsh domstate ga 2>/dev/null) == "shut off" ]] || WHY+="$src did not keep its definition; "
  e2e_wait_for 10 0.2 served_at "$dst" ga || WHY+="$dst's agent did not log serving ga's new socket; "
  e2e_wait_for 10 0.2 edges_are "$src" ga "false domain-stopped" ||
    WHY+="$src's run edges: '$(edges "$src" ga)', want 'false domain-stopped'; "
  e2e_wait_for 10 0.2 edges_are "$dst" ga "true domain-started" ||
    WHY+="$dst's run edges: '$(edges "$dst" ga)', want 'true domain-started'; "
  at "$dst" gcli ga 30 ato >/dev/null
  rc=$?
  ((rc == 0)) || WHY+="ato on $dst: exit $rc; "
  e2e_wait_for 10 0.2 has_decision "$dst" ga "AVMA Success" || WHY+="no AVMA Success record on $dst; "
  [[ -z $(decisions "$src" ga) ]] || WHY+="$src decided for ga after the save; "
  hid=$(decisions "$dst" ga | tail -1 | jq -r .host_id)
  e2e_wait_for 10 0.2 at "$dst" meta_settled "$(hstate "$dst")" ga || WHY+="$dst's live metadata is not its decision; "
  SUMMARY="saved on $src, restored on $dst (transient there, $src keeps its shut-off definition); $dst serves: Success by $dst, on its live metadata"
  verdict
}

# ---- metadata writes during a migration job ---------------------------------------------------------
# A migration throttled to 1 MiB/s, so that decisions fall inside its job; migrate-setspeed ends it.
# The guest's memory is mostly zero pages (sent as markers, whatever the bandwidth): 24 MiB of
# random data in its tmpfs keep a 1 MiB/s migration going for ~20 s (once; it stays).
MIG_BG= MIG_RC_FILE=
job_running() { [[ $(at "$2" e2e_virsh domjobinfo "$1" 2>/dev/null) =~ Job\ type:\ +Unbounded ]]; }
# QEMU is sending memory: from then on the speed set is the one that counts (before, libvirt
# applies --bandwidth when it starts QEMU's migration, over an earlier migrate-setspeed)
job_sending() { [[ $(at "$2" e2e_virsh domjobinfo "$1" 2>/dev/null) =~ Memory\ processed:\ +[1-9] ]]; }
speed_is() { [[ $(at "$2" e2e_virsh migrate-getspeed "$1" 2>/dev/null) == "$3" ]]; }
throttled_start() { # DOM FROM TO
  at "$2" e2e_guest_exec "$1" 30 'test -s /tmp/ballast || head -c 25165824 /dev/urandom >/tmp/ballast' ||
    return 1
  MIG_RC_FILE=$E2E_WORK/migrate.rc
  rm -f "$MIG_RC_FILE"
  (
    migrate "$1" "$2" "$3" --bandwidth 1
    echo $? >"$MIG_RC_FILE"
  ) &
  MIG_BG=$!
  e2e_wait_for 20 0.1 job_sending "$1" "$2"
}
full_speed() { at "$2" e2e_virsh migrate-setspeed "$1" 8000 >>"$E2E_WORK/log/migrate.log" 2>&1 && speed_is "$1" "$2" 8000; }
throttled_finish() { # DOM FROM
  e2e_wait_for 10 0.5 full_speed "$1" "$2" || e2e_log "migrate-setspeed did not take: $(at "$2" e2e_virsh migrate-getspeed "$1" 2>&1)"
  if ! e2e_wait_for 60 0.2 test -s "$MIG_RC_FILE"; then # (a finished child stays a zombie until wait)
    at "$2" e2e_virsh domjobabort "$1" >>"$E2E_WORK/log/migrate.log" 2>&1
    echo "migration aborted after 60 s at full speed" >>"$E2E_WORK/log/migrate.log"
  fi
  wait "$MIG_BG"
  MIG_BG=
  [[ $(cat "$MIG_RC_FILE" 2>/dev/null) == 0 ]]
}
# later_than TIME: the clock (whole seconds, UTC) is past TIME (the metadata's time form)
later_than() { [[ $(date -u +%Y-%m-%dT%H:%M:%SZ) > $1 ]]; }

scenario_metadata_during_migration() {
  need_agents || return 0
  local rc rcb t0 took rec
  WHY= SUMMARY=
  licence_b 2025 yes
  place ga a || { fail "cannot place ga on A"; return; }
  mark a b
  throttled_start ga a b || { fail "no migration job on A (domjobinfo)"; throttled_finish ga a; return; }
  # decisions on A while the job holds ga: the replies must not wait for the metadata write
  t0=$EPOCHREALTIME
  at a gcli ga 30 ato >/dev/null
  rc=$?
  took=$(e2e_since "$t0")
  at a gcli gb 30 ato >/dev/null # another guest of A's, answered meanwhile
  rcb=$?
  job_running ga a || WHY+="the migration ended before the decisions (not throttled?); "
  e2e_wait_for 10 0.2 new_log_has a "metadata: ga: .*retrying in" ||
    WHY+="A's agent did not defer ga's metadata write during the job; "
  rec=$(decisions a ga | tail -1)
  throttled_finish ga a || { fail "${WHY}throttled migration failed: $(tail -2 "$E2E_WORK/log/migrate.log" | tr '\n' ' ')"; return; }
  ((rc == 0 && rcb == 0)) || WHY+="ato during the migration: ga exit $rc, gb exit $rcb (want 0 0); "
  [[ $(jf notification "$rec") == "AVMA Success" ]] || WHY+="A's decision during the migration: '$rec'; "
  check_moved ga a b
  # the domain left with the copy from before the decision; A keeps the write for its return
  e2e_wait_for 10 0.2 new_log_has a "metadata: ga is not on this host now" ||
    WHY+="A's agent did not keep the write for ga's return; "
  [[ -z $(decisions b ga) ]] || WHY+="B decided (test moot); "
  mark a b
  migrate ga b a || { fail "${WHY}migrate back failed"; return; }
  # back on A: the decision made during the first migration is on both copies
  e2e_wait_for 15 0.2 at a meta_settled "$HSTATE" ga ||
    WHY+="A's metadata after the return is not its decision of $(jf time "$rec"): live $(at a meta_of ga time), config $(at a meta_of ga time --config); "
  SUMMARY="ato during a throttled migration answered in ${took}s (exit $rc; gb exit $rcb); the write waited for the job, was kept while ga was on B and written when ga came back"
  verdict
}

scenario_metadata_newer_kept() {
  need_agents || return 0
  local rc rcb rec_a rec_b
  WHY= SUMMARY=
  licence_b 2025 yes
  place ga a || { fail "cannot place ga on A"; return; }
  mark a b
  throttled_start ga a b || { fail "no migration job on A (domjobinfo)"; throttled_finish ga a; return; }
  at a gcli ga 30 ato >/dev/null
  rc=$?
  e2e_wait_for 10 0.2 new_log_has a "metadata: ga: .*retrying in" ||
    WHY+="A's agent did not defer ga's metadata write during the job; "
  throttled_finish ga a || { fail "${WHY}throttled migration failed"; return; }
  rec_a=$(decisions a ga | tail -1)
  e2e_wait_for 10 0.2 new_log_has a "metadata: ga is not on this host now" ||
    WHY+="A's agent did not keep the write for ga's return; "
  # B decides a second later at least (the metadata's times are whole seconds)
  e2e_wait_for 3 0.1 later_than "$(jf time "$rec_a")"
  at b gcli ga 30 ato >/dev/null
  rcb=$?
  ((rc == 0 && rcb == 0)) || WHY+="ato: on A exit $rc, on B exit $rcb; "
  e2e_wait_for 10 0.2 at b meta_settled "$HSTATE_B" ga || WHY+="B's metadata is not B's decision; "
  rec_b=$(decisions b ga | tail -1)
  mark a
  migrate ga b a || { fail "${WHY}migrate back failed"; return; }
  # A's kept write is older than what ga brings back: B's decision must stay
  e2e_wait_for 15 0.2 new_log_has a "metadata: ga carries a newer decision" ||
    WHY+="A's agent did not notice ga's newer metadata; "
  local h t hc
  h=$(at a meta_of ga host-id) t=$(at a meta_of ga time) hc=$(at a meta_of ga host-id --config)
  [[ $h == "$(jf host_id "$rec_b")" && $t == "$(jf time "$rec_b")" && $hc == "$h" ]] ||
    WHY+="A's metadata after the return: host-id $h (config $hc), time $t; B's decision: $(jf host_id "$rec_b") $(jf time "$rec_b"); A's older one: $(jf time "$rec_a"); "
  SUMMARY="A's write of $(jf time "$rec_a"), kept while ga was on B, did not replace B's newer decision ($(jf time "$rec_b")) when ga came back"
  verdict
}

# ---- offline migration ---------------------------------------------------------------------------
view_state() { jq -r --arg n "$2" '.vms[] | select(.name == $n) | .state' "$(hstate "$1")/vms.json" 2>/dev/null; }
view_state_is() { [[ $(view_state "$1" "$2") == "$3" ]]; }
# view_lacks HOST VM: HOST's vms.json is readable and does not list VM
view_lacks() {
  jq -e --arg n "$2" '[.vms[] | select(.name == $n)] | length == 0' "$(hstate "$1")/vms.json" &>/dev/null
}
scenario_offline_migration() {
  need_agents || return 0
  local m0c t0
  WHY= SUMMARY=
  licence_b 2025 yes
  # gc: 2025 Datacenter, denied by A (2022), booted by scenarios.sh on A
  at a e2e_virsh dominfo gc &>/dev/null || { fail "gc is not defined on A"; return; }
  e2e_wait_for $((SERVE_WITHIN + 10)) 0.5 at a meta_settled "$HSTATE" gc || WHY+="gc's metadata on A is not A's decision; "
  m0c=$(at a meta_xml gc --config)
  mark a b
  at a e2e_destroy gc
  e2e_wait_for 10 0.2 edges_are a gc "false domain-stopped" || WHY+="A's run edges for gc: '$(edges a gc)'; "
  t0=$EPOCHREALTIME
  e2e_as_user virsh -q -c "${VURI[a]}" migrate --offline --persistent --undefinesource --p2p gc "${VURI[b]}" \
    >>"$E2E_WORK/log/migrate.log" 2>&1 || { fail "${WHY}offline migration failed: $(tail -2 "$E2E_WORK/log/migrate.log")"; return; }
  timing "virsh migrate --offline" "$(e2e_since "$t0")s"
  at a e2e_virsh dominfo gc &>/dev/null && WHY+="gc still defined on A; "
  # B hears Defined Added; A hears nothing, its periodic listing finds gc gone
  e2e_wait_for 10 0.2 view_state_is b gc "shut off" || WHY+="B's agent does not show gc shut off ('$(view_state b gc)'); "
  t0=$EPOCHREALTIME
  e2e_wait_for $((RECONCILE_S * 2 + 5)) 0.5 view_lacks a gc || WHY+="A's agent still lists gc ('$(view_state a gc)'); "
  local noticed
  noticed=$(e2e_since "$t0")
  new_log_has a "gc: no longer known to libvirt" || WHY+="A's agent did not log gc gone; "
  [[ -n $m0c && $(at b meta_xml gc --config) == "$m0c" ]] || WHY+="B's persistent metadata differs from A's; "
  # started on B: B decides (it grants the 2025 guest that A denied)
  at b start_guest gc || { fail "${WHY}start gc on B failed"; return; }
  if boot_timing gc "AVMA Success" $((SERVE_WITHIN + 40)); then
    timing "gc started on B" "$BT"
  else
    WHY+="gc not served on B (last: $(at b guest_last gc)); "
  fi
  e2e_wait_for 10 0.2 has_decision b gc "AVMA Success" || WHY+="no AVMA Success record for gc on B; "
  e2e_wait_for 5 0.2 edges_are b gc "true domain-started" || WHY+="B's run edges for gc: '$(edges b gc)'; "
  [[ -z $(decisions a gc) ]] || WHY+="A decided for gc after it left; "
  SUMMARY="gc moved shut off; B learnt it at once, A's listing found it gone ${noticed}s later (reconcile_interval ${RECONCILE_S}s); started on B: Success by B (denied on A)"
  verdict
}
