#!/usr/bin/env bash
# tide-datalog as a job on a running cluster: a 2-process x 2-thread cluster
# on loopback (started as cluster_service.sh does) runs jobs/datalog.so on the
# article's Chicago script (tests/apps/datalog/chicago.edn), in text and
# --json, twice each; every output must equal standalone `tide-datalog run`
# (-w 1) line for line, in order; then jobs/datalog_cap.so (a business rule
# with a C action) on tests/apps/datalog/cap.edn. Everything started here is killed at exit.
# Usage: tests/system/datalog_job.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: datalog_job.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tide="$build/tide"
script="$src/tests/apps/datalog/chicago.edn"
tmp=$(mktemp -d)
export XDG_RUNTIME_DIR="$tmp/run" TMPDIR="$tmp"
unset TIDE_CLUSTER TIDE_KEYS
mkdir -p "$XDG_RUNTIME_DIR"
[ -x "$build/tide-datalog" ] && [ -f "$build/jobs/datalog.so" ] || {
    echo "datalog_job: tide-datalog or jobs/datalog.so not built: skipped"; exit 77; }
. "$(dirname "$0")/lib.sh" # pick_port
port=$(pick_port)
cleanup() {
    if [ -f "$XDG_RUNTIME_DIR/tide/cluster" ]; then
        sup=$(sed -n 2p "$XDG_RUNTIME_DIR/tide/cluster")
        timeout 10 "$tide" cluster stop >/dev/null 2>&1
        # The supervisor leads its own session: its process group holds the workers.
        [ -n "$sup" ] && kill -KILL -- "-$sup" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
    echo "datalog_job: FAIL: $*"
    fails=$((fails + 1))
    [ -f "$XDG_RUNTIME_DIR/tide/cluster.log" ] && tail -20 "$XDG_RUNTIME_DIR/tide/cluster.log"
}
ok() { echo "datalog_job: ok: $*"; }

for mode in text json; do
    flag=$([ $mode = json ] && echo --json)
    timeout 60 "$build/tide-datalog" run "$script" $flag -w 1 >"$tmp/want.$mode" 2>"$tmp/want.$mode.err" ||
        fail "standalone tide-datalog run ($mode) failed: $(cat "$tmp/want.$mode.err")"
done

timeout 30 "$tide" cluster start -n 2 -w 2 --no-pin --port "$port" >"$tmp/start.out" 2>"$tmp/start.err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "tide cluster start exited $rc: $(cat "$tmp/start.err")"
    exit 1
fi
ok "cluster up at $(cat "$tmp/start.out")"

for round in 1 2; do
    for mode in text json; do
        flag=$([ $mode = json ] && echo --json)
        timeout 60 "$tide" submit "$build/jobs/datalog.so" run "$script" $flag >"$tmp/got" 2>"$tmp/got.err"
        rc=$?
        if [ $rc -ne 0 ]; then
            fail "submit ($mode, round $round) exited $rc: $(cat "$tmp/got.err")"
        elif cmp -s "$tmp/got" "$tmp/want.$mode" && [ -s "$tmp/got" ]; then
            ok "chicago.edn as a job ($mode, round $round): $(wc -l <"$tmp/got") lines equal tide-datalog run"
        else
            fail "chicago.edn as a job ($mode, round $round) differs from tide-datalog run:"
            diff "$tmp/got" "$tmp/want.$mode" | head -10
        fi
    done
done

# A business rule with a C action (jobs/datalog_cap.so, apps/datalog/plugin.h):
# nobody keeps earnings above 1000.
timeout 60 "$tide" submit "$build/jobs/datalog_cap.so" run "$src/tests/apps/datalog/cap.edn" >"$tmp/cap" 2>"$tmp/cap.err"
rc=$?
cat >"$tmp/cap.want" <<'WANT'
["earnings" ([("alfredo" 1500) 2 1] [("bernado" 500) 2 1])]
["cap" (1 1500) :fired]
["earnings" ([("alfredo" 1000) 4 1] [("alfredo" 1500) 4 -1])]
["earnings" ([("bernado" 500) 5 -1] [("bernado" 2500) 5 1])]
["cap" (2 2500) :fired]
["earnings" ([("bernado" 1000) 6 1] [("bernado" 2500) 6 -1])]
["earnings" ([("carla" 999) 7 1])]
WANT
if [ $rc -eq 0 ] && cmp -s "$tmp/cap" "$tmp/cap.want"; then
    ok "C action rule (datalog_cap.so): earnings capped at 1000 as expected"
else
    fail "datalog_cap.so exited $rc: $(cat "$tmp/cap.err")"; diff "$tmp/cap" "$tmp/cap.want" | head -10
fi

timeout 15 "$tide" cluster stop >/dev/null 2>&1 || fail "tide cluster stop"
[ $fails -eq 0 ] && echo "datalog_job: all ok" || echo "datalog_job: $fails failure(s)"
[ $fails -eq 0 ]
