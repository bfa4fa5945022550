#!/usr/bin/env bash
# Run every benchmark and print their key=value lines (progress on stderr).
# Usage: bench/run_all.sh [BUILD_DIR]     (default build-plain; builds it if missing)
# Figures in docs/benchmarks.md come from this script on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build-plain}
[ -x "$b/bench_exchange" ] || { scripts/setup.sh; scripts/build.sh "$b" >&2; }
run() { echo "+ $*" >&2; "$@"; }
for w in 1 2; do
    run "$b/bench_progress" -w $w 100000
    run "$b/bench_exchange" -w $w 1000000 20
    run "$b/bench_wordcount" -w $w 10000000
done
for w in 1 2; do
    run "$b/bench_bfs" -w $w 100000 200000 1000 20
    run "$b/bench_bfs" -w $w 1000000 2000000 1000 10
    run "$b/bench_bfs" -w $w 1000000 2000000 10 20
    run "$b/bench_reduce" -w $w 10000000 10000 1000 3
done
run "$b/bench_net" 1000000 10 20000
run "$b/bench_jobs" -n 2 -w 2 --runs 20 --concurrent 100
run "$b/bench_job_start"
run "$b/bench_job_memory" --runs 5
for w in 1 2; do
    run "$b/bench_datalog" -w $w
done
run "$b/bench_exporter" --events 1000000 --batch 1000,10000,50000 --workers 1,2
run "$b/bench_exporter" --fold
run "$b/bench_exporter" --since-flat --events 400000
run "$b/bench_exporter" --restart --events 1000000
