#!/usr/bin/env bash
# The exporter's crash test at scale: kill -9 tide-export at KILLS random
# moments while it ingests an EVENTS-event log, restarting it each time;
# at the end every table and offset must equal an uninterrupted run's.
#
#   scripts/crash_exporter.sh [EVENTS] [KILLS] [BUILD_DIR]   (default 1000000 50 build-plain)
#
# Prints one key=value line; exit status 0 when the tables are equal.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
kills=${2:-50}
build=${3:-build-plain}
dir=$(mktemp -d /tmp/tide-crash.XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$build/tide-gen-factory" --machines 50 --workers 40 --orders 2000 --events "$events" \
    --seed 7 --skew-ms 3000 --format msgpack -o "$dir/log.mp"
start=$(date +%s.%N)
"$build/tide-export" --events "$dir/log.mp" --db "sqlite:$dir/ref.db" --batch 5000 2>/dev/null
full=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
echo "crash_exporter: uninterrupted run ${full}s" >&2
killed=0 finished=0
for i in $(seq 1 "$kills"); do
    "$build/tide-export" --events "$dir/log.mp" --db "sqlite:$dir/crash.db" --batch 5000 \
        2>>"$dir/runs.log" &
    pid=$!
    # A random moment within the length of a whole run (restarts replay first).
    sleep "$(awk -v f="$full" -v r="$RANDOM" 'BEGIN { printf "%.3f", f * r / 32768 }')"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null || true
done
"$build/tide-export" --events "$dir/log.mp" --db "sqlite:$dir/crash.db" --batch 5000 2>>"$dir/runs.log"
dump() {
    sqlite3 "$1" "SELECT 'd', * FROM dashboard; SELECT 'u', * FROM usage; SELECT 'b', * FROM bookings;
                  SELECT 'o', * FROM dashboard_offsets; SELECT 'o', * FROM usage_offsets;
                  SELECT 'o', * FROM bookings_offsets" | sort
}
if diff <(dump "$dir/ref.db") <(dump "$dir/crash.db") >"$dir/diff"; then same=1; else same=0; fi
rows=$(dump "$dir/ref.db" | wc -l)
echo "bench=exporter_crash events=$events kills=$killed finished_before_kill=$finished rows=$rows equal=$same uninterrupted_s=$full"
[ "$same" = 1 ] || { head -20 "$dir/diff" >&2; exit 1; }
