#!/usr/bin/env bash
# Set up a fresh Debian machine, build tide and run its main job: generate a
# factory event log, export its views into SQLite (embedded defaults) and
# print the dashboard table. Extra arguments go to tide-export (e.g. -w 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-plain >&2
dir=$(mktemp -d /tmp/tide-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
build-plain/tide-gen-factory --machines 6 --workers 5 --orders 12 --events 20000 \
    --seed 1 --skew-ms 3000 -o "$dir/factory.jsonl"
echo "demo: generated $(wc -l <"$dir/factory.jsonl") events in $dir/factory.jsonl" >&2
build-plain/tide-export --events "$dir/factory.jsonl" --db "sqlite:$dir/factory.db" "$@"
sqlite3 -header -column "$dir/factory.db" \
    "SELECT machine, state, manufacturing_order,
            strftime('%Y-%m-%d %H:%M:%S', since / 1000000, 'unixepoch') AS since
     FROM dashboard ORDER BY machine"
