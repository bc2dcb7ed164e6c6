# pg.sh: a throwaway PostgreSQL 15 server for the fleet tests, bench and demo: its own cluster in
# a temporary directory, run by an unprivileged user (initdb refuses root), unix socket only
# (listen_addresses=''), removed by pg_cleanup. Source it; set PG_TMP first to choose the place.
#   pg_start    initdb + start + createdb avma_fleet; sets PG_CONNINFO
#   pg_stop / pg_restart_server   stop and start the same cluster (database down mid-ingest)
#   pg_cleanup  stop and remove everything
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=${PG_USER:-avma-pgtest}

pg_as() {
  if ((EUID == 0)); then
    setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  [[ -x $PG_BIN/initdb ]] || { echo "pg.sh: no PostgreSQL 15 at $PG_BIN (apt-get install postgresql)" >&2; return 1; }
  if ((EUID == 0)); then
    id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --user-group \
      --shell /usr/sbin/nologin "$PG_USER" || return 1
  else
    PG_USER=$(id -un)
  fi
  PG_DIR=$(mktemp -d "${PG_TMP:-/tmp}/avma-pg.XXXXXX") || return 1
  chmod 755 "$PG_DIR"
  mkdir "$PG_DIR/data" "$PG_DIR/sock"
  ((EUID == 0)) && chown "$PG_USER:" "$PG_DIR" "$PG_DIR/data" "$PG_DIR/sock"
  pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust --no-sync -E UTF8 \
    --locale=C >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$PG_DIR/sock'
fsync = ${PG_FSYNC:-on}
shared_buffers = ${PG_SHARED_BUFFERS:-64MB}
max_wal_size = 2GB
${PG_EXTRA_CONF:-}
CONF
  pg_restart_server || return 1
  pg_as "$PG_BIN/createdb" -h "$PG_DIR/sock" -U "$PG_USER" avma_fleet || return 1
  PG_CONNINFO="host=$PG_DIR/sock user=$PG_USER dbname=avma_fleet"
  export PG_CONNINFO PG_DIR
}

pg_restart_server() {
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null
}

pg_stop() {
  pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w -t 60 stop >/dev/null
}

pg_psql() {
  "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR/sock" -U "$PG_USER" -d avma_fleet "$@"
}

pg_cleanup() {
  [[ -n ${PG_DIR:-} && -d $PG_DIR ]] || return 0
  pg_stop immediate 2>/dev/null
  rm -rf "$PG_DIR"
}
