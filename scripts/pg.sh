#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the exporter's tests.
#
#   scripts/pg.sh start    -> prints "URL DIR" (postgresql://... and the data dir)
#   scripts/pg.sh stop DIR -> stops that server and removes DIR
#
# initdb runs from /usr/lib/postgresql/15/bin (or the newest version there)
# as the `postgres` user when run as root (CI runs as root), with trust
# authentication on loopback only, on a free port; the server's socket and
# data stay in the temporary directory.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "pg.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/tide-pg.XXXXXX)
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$bin/initdb" -D "$dir/data" -U tide --auth=trust -E UTF8 >/dev/null
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
        -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
    echo "postgresql://tide@127.0.0.1:$port/postgres $dir"
    ;;
stop)
    dir=${2:?usage: pg.sh stop DIR}
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: scripts/pg.sh start | stop DIR" >&2
    exit 2
    ;;
esac
