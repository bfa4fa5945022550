#!/usr/bin/env bash
# Model-check tide's progress protocol (tests/model/progress.pml) with SPIN.
# Usage: scripts/model.sh [--deep]
#
# Checks, one line each (states stored, pan's memory, wall and CPU seconds
# including building the verifier):
#   safety    no worker's frontier passes a pointstamp still held or in flight
#             (assertion, exhaustive, invalid end states too)
#   live      [] (inputs closed && no message left -> <> every frontier empty)
#   term      <> every worker complete
#   mutant 1  progress on its own unordered channel: safety must FAIL
#   mutant 2  a message's +1 one batch late: safety must FAIL
#   mutant 3  data and progress in two FIFOs per pair: safety holds (a
#             finding, docs/progress-model.md)
#   mutant 4  a capability dropped without telling anyone: live and term must
#             FAIL (the liveness checks are not vacuous either)
# Exit 0 only if safety, live and term pass, mutants 1 and 2 fail safety with
# a counterexample (its trail is printed, indented), mutant 3 passes and
# mutant 4 fails both liveness checks.
# --deep: the inputs of workers 0 and 2 (one per process) both send and
# advance (millions of states, minutes: not for CI).
# docs/progress-model.md describes the model and these checks.
set -euo pipefail
# One compound command: bash reads it whole before running any of it, so
# editing this file during a run cannot change the run.
{
cd "$(dirname "$0")/.."
model=$PWD/tests/model/progress.pml
for tool in spin gcc; do
    command -v "$tool" >/dev/null || { echo "model.sh: $tool not found (scripts/setup.sh installs it)" >&2; exit 2; }
done
bounds=()
memlim=1024
deep_cc=
if [ "${1:-}" = --deep ]; then
    bounds=(-DSENDERS=5 -DADVANCERS=5)
    memlim=4000
    deep_cc=-DCOLLAPSE
elif [ $# -gt 0 ]; then
    echo "usage: scripts/model.sh [--deep]" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tide-model.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/progress.pml"
cd "$work"

status=0

# check NAME EXPECT SPIN_DEFINES GCC_FLAGS PAN_FLAGS: build pan and run it.
# EXPECT is pass (no error, search complete), fail (a safety violation) or
# cycle (an acceptance cycle: a liveness violation).
check() {
    local name=$1 expect=$2 sdefs=$3 cflags=$4 pflags=$5
    local dir=$work/$name
    mkdir -p "$dir"
    cp progress.pml "$dir/"
    local out states mem errors secs verdict
    local TIMEFORMAT='%R %U %S' tm
    tm=$({ time ( {
        cd "$dir"
        # shellcheck disable=SC2086
        spin $sdefs "${bounds[@]}" -a progress.pml
        # shellcheck disable=SC2086
        gcc -O2 -w $cflags $deep_cc -DMEMLIM=$memlim -o pan pan.c
        # shellcheck disable=SC2086
        timeout 600 ./pan $pflags >pan.log 2>&1 || true
    } >"$dir/build.log" 2>&1 ); } 2>&1) || {
        echo "model: $name: could not build the verifier:" >&2
        sed 's/^/  | /' "$dir/build.log" >&2
        status=1
        return
    }
    out=$dir/pan.log
    states=$(awk '/states, stored/ { print $1; exit }' "$out")
    mem=$(awk '/total actual memory usage/ { printf "%.0f", $1; exit }' "$out")
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$out" | head -1)
    secs=$(awk -v t="$tm" 'BEGIN { split(t, a, " "); printf "%.1fs cpu=%.1fs", a[1], a[2] + a[3] }')
    verdict=FAIL
    if [ "$expect" = pass ]; then
        if [ "${errors:-1}" = 0 ] && ! grep -qE "Search not completed|max search depth too small" "$out"; then
            verdict=ok
        fi
    elif [ "$expect" = cycle ]; then
        if [ "${errors:-0}" != 0 ] && grep -q "acceptance cycle" "$out"; then
            verdict=ok
        fi
    else
        # The violation must be the safety assertion, not a model bound.
        # shellcheck disable=SC2086
        if [ "${errors:-0}" != 0 ] && compgen -G "$dir/*.trail" >/dev/null &&
            (cd "$dir" && spin $sdefs "${bounds[@]}" -t progress.pml >trail.txt 2>&1) &&
            grep -q "frontier_passed_a_pointstamp" "$dir/trail.txt"; then
            verdict=ok
        fi
    fi
    printf 'model: %-9s expect %-5s %-4s states=%s mem=%sMB time=%s\n' "$name" "$expect" "$verdict" \
        "${states:-?}" "${mem:-?}" "$secs"
    if [ "$verdict" != ok ]; then
        status=1
        grep -vE "^(Depth|ltl )" "$out" | head -20 | sed 's/^/  | /'
    elif [ "$expect" = fail ]; then
        # the counterexample, as the model's own printf lines
        grep -E "^ *(w[0-9]|VIOLATION|views:)" "$dir/trail.txt" | sed 's/^ */  | /'
    fi
}

# NOREDUCE: the monitor sees every reachable state, with no partial order
# reduction to argue about (it saves only 3% here).
safety_cc="-DSAFETY -DNOCLAIM -DNOREDUCE"
check safety pass "" "$safety_cc" "-m10000 -w21"
check live pass "" "" "-a -m10000 -w21 -N live"
check term pass "" "" "-a -m10000 -w21 -N term"
# Breadth-first: the shortest counterexample, so the printed trail is short.
check mutant1 fail "-DMUTANT=1 -DQCAP=6" "$safety_cc -DBFS" "-m10000 -w21"
check mutant2 fail "-DMUTANT=2 -DQCAP=6" "$safety_cc -DBFS" "-m10000 -w21"
check mutant3 pass "-DMUTANT=3" "$safety_cc" "-m10000 -w21"
check mutant4l cycle "-DMUTANT=4" "" "-a -m10000 -w21 -N live"
check mutant4t cycle "-DMUTANT=4" "" "-a -m10000 -w21 -N term"
exit $status
}
