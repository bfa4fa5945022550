#!/usr/bin/env bash
# The exporter as a job on a running cluster (apps/jobs/exporter.c): on a
# 2-process x 2-thread cluster on loopback, `tide submit jobs/exporter.so`
# exports a generated factory log into SQLite (in two submissions: a stop
# after a few batches, then the rest, as a restart), and every table with
# its offsets equals the standalone tide-export's; a views plugin runs in
# the job too; a bad argument fails the job with its message.
# Usage: tests/system/exporter_job.sh BUILD_DIR      (TIDE_SEED= replays)
set -uo pipefail
build=$(cd "${1:?usage: exporter_job.sh BUILD_DIR}" && pwd)
tide="$build/tide"
seed=${TIDE_SEED:-$RANDOM}
tmp=$(mktemp -d)
export XDG_RUNTIME_DIR="$tmp/run" TMPDIR="$tmp"
unset TIDE_CLUSTER TIDE_KEYS
mkdir -p "$XDG_RUNTIME_DIR"
. "$(dirname "$0")/lib.sh" # pick_port
port=$(pick_port)
echo "exporter_job: seed=$seed port=$port (TIDE_SEED=$seed replays)"
cleanup() {
    if [ -f "$XDG_RUNTIME_DIR/tide/cluster" ]; then
        sup=$(sed -n 2p "$XDG_RUNTIME_DIR/tide/cluster")
        timeout 10 "$tide" cluster stop >/dev/null 2>&1
        [ -n "$sup" ] && kill -KILL -- "-$sup" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "exporter_job: FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "exporter_job: ok: $*"; }
# tables DB TABLE...: every row of the tables, sorted, prefixed by the table
tables() {
    local db=$1 t; shift
    for t in "$@"; do sqlite3 "$db" "SELECT '$t', * FROM $t" | sort; done
}

"$build/tide-gen-factory" --machines 5 --workers 4 --orders 7 --events 3000 --seed "$seed" \
    --skew-ms 5000 -o "$tmp/log.jsonl" || { echo "exporter_job: cannot generate"; exit 1; }
batch=$((50 + seed % 100))
timeout 60 "$build/tide-export" --events "$tmp/log.jsonl" --db "sqlite:$tmp/alone.db" \
    --batch "$batch" 2>/dev/null || fail "standalone tide-export"
timeout 60 "$build/tide-export" --events "$tmp/log.jsonl" --db "sqlite:$tmp/alone_v.db" \
    --views "$build/views/example.so" 2>/dev/null || fail "standalone tide-export with a plugin"

timeout 30 "$tide" cluster start -n 2 -w 2 --no-pin --port "$port" >"$tmp/start.out" 2>&1 ||
    { echo "exporter_job: FAIL: cluster start: $(cat "$tmp/start.out")"; exit 1; }

job="$build/jobs/exporter.so"
timeout 60 "$tide" submit "$job" --events "$tmp/log.jsonl" --db "sqlite:$tmp/job.db" \
    --batch "$batch" --max-batches 3 >"$tmp/job1.out" 2>&1 || fail "submit 1: $(cat "$tmp/job1.out")"
timeout 60 "$tide" submit "$job" --events "$tmp/log.jsonl" --db "sqlite:$tmp/job.db" \
    --batch "$batch" >"$tmp/job2.out" 2>&1 || fail "submit 2: $(cat "$tmp/job2.out")"
grep -q "replayed" "$tmp/job2.out" || fail "submit 2 printed no summary: $(cat "$tmp/job2.out")"
set -- dashboard usage bookings dashboard_offsets usage_offsets bookings_offsets
if cmp -s <(tables "$tmp/job.db" "$@") <(tables "$tmp/alone.db" "$@") &&
    [ "$(tables "$tmp/alone.db" "$@" | wc -l)" -gt 20 ]; then
    ok "the job's tables ($(tables "$tmp/job.db" "$@" | wc -l) rows, after a restart) equal tide-export's"
else
    fail "the job's tables differ from tide-export's:"
    diff <(tables "$tmp/job.db" "$@") <(tables "$tmp/alone.db" "$@") | head -10
fi

timeout 60 "$tide" submit "$job" --events "$tmp/log.jsonl" --db "sqlite:$tmp/job_v.db" \
    --views "$build/views/example.so" >"$tmp/job3.out" 2>&1 || fail "submit 3: $(cat "$tmp/job3.out")"
set -- event_types machine_events event_types_offsets
if cmp -s <(tables "$tmp/job_v.db" "$@") <(tables "$tmp/alone_v.db" "$@") &&
    [ "$(tables "$tmp/alone_v.db" "$@" | wc -l)" -gt 5 ]; then
    ok "a views plugin in the job gives tide-export's tables"
else
    fail "the plugin's tables differ:"
    diff <(tables "$tmp/job_v.db" "$@") <(tables "$tmp/alone_v.db" "$@") | head -10
fi

timeout 60 "$tide" submit "$job" --events "$tmp/missing.jsonl" --db "sqlite:$tmp/x.db" \
    >"$tmp/job4.out" 2>&1 && fail "a missing log did not fail the job"
grep -q "missing.jsonl: No such file" "$tmp/job4.out" || fail "no message: $(cat "$tmp/job4.out")"
timeout 60 "$tide" submit "$build/jobs/wordcount.so" >"$tmp/wc.out" 2>&1 ||
    fail "the cluster does not run a job after the exporter's"

timeout 10 "$tide" cluster stop >/dev/null 2>&1 || fail "cluster stop"
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" \
    "$XDG_RUNTIME_DIR/tide/cluster.log" 2>/dev/null; then
    fail "sanitizer reports in the cluster's log:"
    grep -E -A20 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" \
        "$XDG_RUNTIME_DIR/tide/cluster.log" | head -40
fi
if [ $fails -ne 0 ]; then
    echo "exporter_job: $fails check(s) failed (seed $seed)"
    exit 1
fi
echo "exporter_job: all checks passed"
