#!/usr/bin/env bash
# Set up a fresh Debian machine, build tide and run its main job: generate a
# factory event log, export its views into SQLite (embedded defaults) and
# print the dashboard table. Extra arguments go to tide-export (e.g. -w 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
dir=$(mktemp -d /tmp/tide-demo.XXXXXX)
echo "demo: building tide in build-plain (log: $dir/build.log)" >&2
if ! scripts/build.sh build-plain >"$dir/build.log" 2>&1; then
    tail -40 "$dir/build.log" >&2
    exit 1
fi
build-plain/tide-gen-factory --machines 6 --workers 5 --orders 12 --events 20000 \
    --seed 1 --skew-ms 3000 -o "$dir/factory.jsonl"
echo "demo: generated $(wc -l <"$dir/factory.jsonl") events in $dir/factory.jsonl" >&2
build-plain/tide-export --events "$dir/factory.jsonl" --db "sqlite:$dir/factory.db" "$@"
sqlite3 -header -column "$dir/factory.db" \
    "SELECT machine, state, manufacturing_order,
            strftime('%Y-%m-%d %H:%M:%S', since / 1000000, 'unixepoch') AS since
     FROM dashboard ORDER BY machine"
echo "demo: the log and the tables are kept in $dir (sqlite3 $dir/factory.db)" >&2
