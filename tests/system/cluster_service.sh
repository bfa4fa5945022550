#!/usr/bin/env bash
# The cluster as a service, driven through the real `tide` binary: a
# 2-process x 2-thread cluster on loopback runs the example jobs (outputs
# checked against awk computations here), two jobs at once, the failure
# cases (each message checked, and a correct job runs after each), a shared
# arrangement read by a later job, cancel, status, stop.
# Usage: tests/system/cluster_service.sh BUILD_DIR      (TIDE_SEED= replays)
set -uo pipefail
build=$(cd "${1:?usage: cluster_service.sh BUILD_DIR}" && pwd)
tide="$build/tide"
seed=${TIDE_SEED:-$RANDOM}
tmp=$(mktemp -d)
export XDG_RUNTIME_DIR="$tmp/run" TMPDIR="$tmp"
unset TIDE_CLUSTER TIDE_KEYS
mkdir -p "$XDG_RUNTIME_DIR"
# Under ASan, let the crash jobs die of their signal as in a plain build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"
export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}handle_segv=0"
. "$(dirname "$0")/lib.sh" # pick_port
port=$(pick_port)
echo "cluster_service: seed=$seed port=$port (TIDE_SEED=$seed replays)"
bg=()

cleanup() {
    for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null; done
    if [ -f "$XDG_RUNTIME_DIR/tide/cluster" ]; then
        sup=$(sed -n 2p "$XDG_RUNTIME_DIR/tide/cluster")
        timeout 10 "$tide" cluster stop >/dev/null 2>&1
        # The supervisor leads its own session: its process group holds the workers.
        [ -n "$sup" ] && kill -KILL -- "-$sup" 2>/dev/null
    fi
    # A per-host relay (its own session) is found by the unique hosts path.
    for p in $(pgrep -f "cluster start -h $tmp/hosts" 2>/dev/null); do kill -KILL -- "-$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

fails=0
fail() {
    echo "cluster_service: FAIL: $*"
    fails=$((fails + 1))
    if [ -f "$XDG_RUNTIME_DIR/tide/cluster.log" ]; then
        echo "--- cluster.log (last 20 lines)"; tail -20 "$XDG_RUNTIME_DIR/tide/cluster.log"
    fi
}
ok() { echo "cluster_service: ok: $*"; }

# run NAME TIMEOUT CMD...: stdout in $tmp/NAME.out, stderr in $tmp/NAME.err, status in $rc
run() {
    local name=$1 t=$2; shift 2
    timeout "$t" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}

# expect_same NAME GOT WANT: compare two files (sorted)
expect_same() {
    if cmp -s <(sort "$2") <(sort "$3") && [ -s "$3" ]; then
        ok "$1 ($(wc -l <"$3") lines equal the independent computation)"
    else
        fail "$1 differs from the independent computation:"
        diff <(sort "$2") <(sort "$3") | head -10
    fi
}

# ---- inputs and their independent results (awk) --------------------------

awk -v seed="$seed" 'BEGIN { srand(seed);
    split("Tide flows; time is a frontier! the Worker joins, counts and reduces a batch of records", v, " ");
    for (l = 0; l < 300; l++) { n = 1 + int(rand() * 9); s = "";
        for (i = 0; i < n; i++) s = s (i ? " " : "") v[1 + int(rand() * length(v))];
        print s } }' >"$tmp/text"
tr -cs '[:alnum:]' '\n' <"$tmp/text" | tr '[:upper:]' '[:lower:]' | grep -v '^$' | sort | uniq -c |
    awk '{ printf "%s\t%s\n", $2, $1 }' >"$tmp/text.want"

awk -v seed="$seed" 'BEGIN { srand(seed + 1);
    for (e = 0; e < 400; e++) print int(rand() * 200), int(rand() * 200) }' >"$tmp/edges"
bfs() { # nodes reachable from $2 over the edge file $1
    awk -v root="$2" '{ adj[$1] = adj[$1] " " $2 }
        END { q[0] = root; seen[root] = 1; h = 0; t = 1;
            while (h < t) { u = q[h++]; n = split(adj[u], d, " ");
                for (i = 1; i <= n; i++) if (!(d[i] in seen)) { seen[d[i]] = 1; q[t++] = d[i] } }
            for (x in seen) print "reachable " x }' "$1"
}
root=$(awk 'NR == 1 { print $1 }' "$tmp/edges") # a node with an edge out
bfs "$tmp/edges" "$root" >"$tmp/reach.want"
# The job prints "reachable N" / "unreachable N" updates: net them.
net_reach() { awk '{ c[$2] += ($1 == "reachable") ? 1 : -1 } END { for (x in c) if (c[x] > 0) print "reachable " x }' "$1"; }

awk -v seed="$seed" 'BEGIN { srand(seed + 2);
    split("Drill1 Drill2 Press7 Oven", s, " "); split("started finished paused failed", t, " ");
    for (i = 0; i < 500; i++) {
        st = s[1 + int(rand() * 4)]; ty = t[1 + int(rand() * 4)];
        printf "{\"stream\":\"%s\",\"offset\":%d,\"lamport\":%d,\"timestamp\":%d,\"tags\":[\"machineFish\"],\"payload\":{\"type\":\"%s\",\"order\":\"%d\"}}\n",
            st, i, 17 + i, 1700000000000000 + i, ty, 4711 + i } }' >"$tmp/events"
{
    sed -E 's/.*"stream":"([^"]*)".*/\1/' "$tmp/events" | sort | uniq -c | awk '{ printf "stream\t%s\t%s\n", $2, $1 }'
    sed -E 's/.*"type":"([^"]*)".*/\1/' "$tmp/events" | sort | uniq -c | awk '{ printf "type\t%s\t%s\n", $2, $1 }'
} >"$tmp/events.want"

# ---- start --------------------------------------------------------------

run start 30 "$tide" cluster start -n 2 -w 2 --no-pin --port "$port"
if [ $rc -ne 0 ]; then
    fail "tide cluster start exited $rc: $(cat "$tmp/start.err")"
    cat "$XDG_RUNTIME_DIR/tide/cluster.log" 2>/dev/null
    exit 1
fi
addr=$(cat "$tmp/start.out")
case $addr in tcp://127.0.0.1:*) ok "cluster up at $addr" ;; *) fail "start printed '$addr'" ;; esac

hello_runs() { # a correct job still runs ($1: after what; $2: workers, default 4)
    run hello 10 "$tide" submit "$build/test-jobs/hello.so" after
    if [ $rc -eq 0 ] && grep -q "^hello from job [0-9]* (hello) after$" "$tmp/hello.out" &&
        [ "$(grep -c 'ready' "$tmp/hello.err")" = "${2:-4}" ]; then
        ok "a correct job runs after $1"
    else
        fail "hello after $1: exit $rc, out '$(cat "$tmp/hello.out")', err '$(cat "$tmp/hello.err")'"
    fi
}

# ---- the example jobs ---------------------------------------------------

run wc 30 "$tide" submit "$build/jobs/wordcount.so" "$tmp/text"
[ $rc -eq 0 ] || fail "wordcount exited $rc: $(cat "$tmp/wc.err")"
expect_same wordcount "$tmp/wc.out" "$tmp/text.want"

run reach 30 "$tide" submit "$build/jobs/reachability.so" "$tmp/edges" "$root"
[ $rc -eq 0 ] || fail "reachability exited $rc: $(cat "$tmp/reach.err")"
net_reach "$tmp/reach.out" >"$tmp/reach.net"
expect_same reachability "$tmp/reach.net" "$tmp/reach.want"

run ev 30 "$tide" submit "$build/jobs/eventlog.so" "$tmp/events"
[ $rc -eq 0 ] || fail "eventlog exited $rc: $(cat "$tmp/ev.err")"
expect_same eventlog "$tmp/ev.out" "$tmp/events.want"

# ---- two jobs at once ---------------------------------------------------

timeout 30 "$tide" submit "$build/jobs/wordcount.so" "$tmp/text" >"$tmp/c1.out" 2>"$tmp/c1.err" &
p1=$!
timeout 30 "$tide" submit "$build/jobs/eventlog.so" "$tmp/events" >"$tmp/c2.out" 2>"$tmp/c2.err" &
p2=$!
bg+=("$p1" "$p2")
wait "$p1"; r1=$?
wait "$p2"; r2=$?
[ $r1 -eq 0 ] && [ $r2 -eq 0 ] || fail "concurrent jobs exited $r1, $r2: $(cat "$tmp/c1.err" "$tmp/c2.err")"
expect_same "concurrent wordcount" "$tmp/c1.out" "$tmp/text.want"
expect_same "concurrent eventlog" "$tmp/c2.out" "$tmp/events.want"

# ---- failures: each message, and the cluster keeps serving --------------

# expect_fail NAME PATTERN CMD...: exit 1 and PATTERN (ERE) on stderr
expect_fail() {
    local name=$1 pat=$2; shift 2
    run "$name" 15 "$@"
    if [ $rc -eq 1 ] && grep -Eq "$pat" "$tmp/$name.err"; then
        ok "$name: $(head -1 "$tmp/$name.err")"
    else
        fail "$name: exit $rc (want 1), stderr '$(cat "$tmp/$name.err")' (want /$pat/)"
    fi
}

printf 'not an ELF file\n' >"$tmp/notelf.so"
expect_fail not-elf "notelf: not a shared object" "$tide" submit "$tmp/notelf.so"
hello_runs "a non-ELF file"
expect_fail abi "job ABI version 999, cluster runs 1" "$tide" submit "$build/test-jobs/badabi.so"
hello_runs "an ABI mismatch"
expect_fail no-entry "missing entry point tide_job_main" "$tide" submit "$build/test-jobs/noentry.so"
hello_runs "a missing entry point"
expect_fail job-error "job [0-9]+ \(fail\) failed: .*the input is not what it should be" \
    "$tide" submit "$build/test-jobs/fail.so"
hello_runs "a job error"
expect_fail crash "job [0-9]+ \(crash\) failed: process [01] \(pid [0-9]+\) died: killed by signal 6" \
    "$tide" submit "$build/test-jobs/crash.so"
hello_runs "a crash (abort)"
expect_fail segv "failed: process [01] \(pid [0-9]+\) died: killed by signal 11" \
    "$tide" submit "$build/test-jobs/crash.so" segv
hello_runs "a crash (NULL dereference)"
expect_fail unknown-id "no job 99999" "$tide" cancel 99999
run usage 5 "$tide" submit
[ $rc -eq 2 ] && ok "usage error exits 2" || fail "tide submit without JOB exited $rc"

# ---- a shared arrangement -----------------------------------------------

run pub 10 "$tide" submit --detach "$build/jobs/reachability.so" --publish edges "$tmp/edges" "$root"
pub=$(cat "$tmp/pub.out")
[ $rc -eq 0 ] && [ -n "$pub" ] || fail "publisher: exit $rc: $(cat "$tmp/pub.err")"
for _ in $(seq 50); do # published once the job ran its entry everywhere
    timeout 10 "$tide" status >"$tmp/st1" 2>&1
    [ "$(grep -c '^edges ' "$tmp/st1")" -ge 4 ] && break
    sleep 0.1
done
if [ "$(grep -c '^edges ' "$tmp/st1")" = 4 ]; then
    ok "tide status shows 'edges' on all 4 workers"
else
    fail "tide status does not show 'edges' on 4 workers:"; cat "$tmp/st1"
fi
timeout 30 "$tide" submit "$build/jobs/reachability.so" --lookup edges "$root" >"$tmp/look.out" 2>"$tmp/look.err" &
look=$!
bg+=("$look")
want=$(wc -l <"$tmp/reach.want")
for _ in $(seq 100); do
    [ "$(net_reach "$tmp/look.out" | wc -l)" -ge "$want" ] && break
    sleep 0.1
done
net_reach "$tmp/look.out" >"$tmp/look.net"
expect_same "reachability over the published arrangement" "$tmp/look.net" "$tmp/reach.want"
timeout 10 "$tide" jobs >"$tmp/jobs" 2>&1
look_id=$(awk '$2 == "reachability" && $3 == "running" && $1 != "'"$pub"'" { print $1 }' "$tmp/jobs" | tail -1)
if [ -n "$look_id" ] && grep -Eq "^$pub +reachability +running" "$tmp/jobs"; then
    ok "tide jobs lists publisher $pub and reader $look_id running"
else
    fail "tide jobs:"; cat "$tmp/jobs"
fi
# The reader first: cancelling the publisher first would end the reader normally
# (its imported stream closes once the publisher is gone).
if [ -n "$look_id" ]; then
    run cancel2 10 "$tide" cancel "$look_id"
    [ $rc -eq 0 ] || fail "cancel $look_id: $(cat "$tmp/cancel2.err")"
fi
run cancel1 10 "$tide" cancel "$pub"
[ $rc -eq 0 ] || fail "cancel $pub: $(cat "$tmp/cancel1.err")"
wait "$look"; r=$?
[ $r -eq 1 ] && grep -q "was cancelled" "$tmp/look.err" && ok "the reader's submitter saw the cancel" ||
    fail "reader's submitter: exit $r, '$(cat "$tmp/look.err")'"
for _ in $(seq 50); do
    timeout 10 "$tide" status >"$tmp/st2" 2>&1
    grep -q '^edges ' "$tmp/st2" || break
    sleep 0.1
done
if grep -q "no published arrangements" "$tmp/st2"; then
    ok "after both cancels tide status shows the arrangement gone"
else
    fail "arrangement still listed after the cancels:"; cat "$tmp/st2"
fi
hello_runs "the shared arrangement"

# ---- stopping an attached submit cancels its job ------------------------

# A publisher runs until cancelled: SIGINT (as Ctrl-C) and SIGTERM on its submit.
for sig in INT TERM; do
    want_rc=$([ $sig = INT ] && echo 130 || echo 143)
    timeout --preserve-status -s $sig 3 "$tide" submit "$build/jobs/reachability.so" \
        --publish "sig$sig" "$tmp/edges" "$root" >"$tmp/sig$sig.out" 2>"$tmp/sig$sig.err"
    r=$?
    timeout 10 "$tide" jobs >"$tmp/sigjobs" 2>&1
    sid=$(sed -En 's/.*job ([0-9]+) cancelled$/\1/p' "$tmp/sig$sig.err")
    if [ $r -eq "$want_rc" ] && [ -n "$sid" ] && grep -Eq "^$sid +reachability +cancelled" "$tmp/sigjobs"; then
        ok "SIG$sig on an attached submit: exit $r, '$(tail -1 "$tmp/sig$sig.err")', tide jobs shows it cancelled"
    else
        fail "SIG$sig on an attached submit: exit $r (want $want_rc), '$(cat "$tmp/sig$sig.err")'"
        cat "$tmp/sigjobs"
    fi
done
hello_runs "cancels by signal"

# ---- stop ---------------------------------------------------------------

pids=$(awk '$1 ~ /^[0-9]+$/ && NF >= 8 { print $2 }' "$tmp/st2")
sup=$(sed -n 2p "$XDG_RUNTIME_DIR/tide/cluster")
run stop 15 "$tide" cluster stop
[ $rc -eq 0 ] || fail "tide cluster stop exited $rc: $(cat "$tmp/stop.err")"
for p in $pids $sup; do # the supervisor exits just after its reply
    for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "process $p still alive 3 s after stop"
done
[ -f "$XDG_RUNTIME_DIR/tide/cluster" ] && fail "state file left after stop"
run after 5 "$tide" jobs
[ $rc -eq 1 ] && grep -q "no cluster running" "$tmp/after.err" && ok "after stop: '$(cat "$tmp/after.err")'" ||
    fail "tide jobs after stop: exit $rc '$(cat "$tmp/after.err")'"

# ---- CURVE on the control port ------------------------------------------

run open 5 "$tide" cluster start --listen 0.0.0.0:1 --no-pin
[ $rc -eq 2 ] && grep -q "not a loopback address" "$tmp/open.err" &&
    ok "a non-loopback --listen without keys is refused" ||
    fail "non-loopback without keys: exit $rc, '$(cat "$tmp/open.err")'"
# Two valid CURVE key pairs (ZeroMQ's documentation examples), mode 0600.
(umask 077
 printf 'public-key = %s\nsecret-key = %s\n' 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' \
     'JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6' >"$tmp/keys"
 printf 'public-key = %s\nsecret-key = %s\n' 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID' \
     'D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs' >"$tmp/other")
run kstart 30 "$tide" cluster start -n 2 -w 1 --no-pin --port "$((port + 10))" --keys "$tmp/keys"
[ $rc -eq 0 ] || fail "start with --keys: exit $rc, '$(cat "$tmp/kstart.err")'"
kaddr=$(cat "$tmp/kstart.out")
# The state file records the key file's absolute path; the file stays put, 0600.
[ "$(sed -n 3p "$XDG_RUNTIME_DIR/tide/cluster")" = "$(realpath "$tmp/keys")" ] &&
    [ "$(stat -c %a "$tmp/keys")" = 600 ] && ok "the state file records the key file" ||
    fail "state file: '$(cat "$XDG_RUNTIME_DIR/tide/cluster")', keys mode $(stat -c %a "$tmp/keys")"
# Without that record (another state dir), a client without the key is refused.
mkdir -p "$tmp/run2"
XDG_RUNTIME_DIR="$tmp/run2" expect_fail no-key "refused this connection" "$tide" status --cluster "$kaddr"
expect_fail other-key "refused this connection" "$tide" status --keys "$tmp/other"
run kjobs 10 "$tide" jobs
[ $rc -eq 0 ] && grep -q "^ID " "$tmp/kjobs.out" && ok "tide jobs without --keys uses the recorded key file" ||
    fail "tide jobs without --keys: exit $rc, '$(cat "$tmp/kjobs.err")'"
run kjob 10 "$tide" submit --keys "$tmp/keys" "$build/test-jobs/hello.so" keyed
[ $rc -eq 0 ] && grep -q "(hello) keyed$" "$tmp/kjob.out" && ok "a client with the cluster key runs a job" ||
    fail "submit with the key: exit $rc, '$(cat "$tmp/kjob.err")'"
[ "$(grep -c "refused a control connection" "$XDG_RUNTIME_DIR/tide/cluster.log")" -ge 2 ] &&
    ok "both refusals are in the cluster's log" || fail "refusals not logged"
run kstop 15 "$tide" cluster stop
[ $rc -eq 0 ] && ok "tide cluster stop without --keys" || fail "stop with the recorded key: exit $rc, '$(cat "$tmp/kstop.err")'"

# ---- one process per "host": -h HOSTS -p I ------------------------------

printf '127.0.0.1:%d\n127.0.0.1:%d\n' "$((port + 12))" "$((port + 13))" >"$tmp/hosts"
# -p 0 answers once every process is up, so it waits for -p 1.
timeout 30 "$tide" cluster start -h "$tmp/hosts" -n 2 -w 1 --no-pin -p 0 \
    --listen "127.0.0.1:$((port + 14))" >"$tmp/h0.out" 2>"$tmp/h0.err" &
h0=$!
bg+=("$h0")
sleep 0.2
run h1 30 "$tide" cluster start -h "$tmp/hosts" -n 2 -w 1 --no-pin -p 1 --cluster "127.0.0.1:$((port + 14))"
[ $rc -eq 0 ] || fail "start -p 1: exit $rc, '$(cat "$tmp/h1.err")'"
wait "$h0" || fail "start -p 0: exit $?, '$(cat "$tmp/h0.err")'"
run mh 15 "$tide" submit "$build/test-jobs/hello.so" hosts
[ $rc -eq 0 ] && grep -q "(hello) hosts$" "$tmp/mh.out" && [ "$(grep -c ready "$tmp/mh.err")" = 2 ] &&
    ok "a job runs on processes started per host (-p 0, -p 1)" ||
    fail "per-host cluster: exit $rc, '$(cat "$tmp/mh.out" "$tmp/mh.err")'"
expect_fail remote-crash "failed: process 1 \(pid [0-9]+, remote\) died: killed by signal 6" \
    "$tide" submit "$build/test-jobs/crash.so"
hello_runs "a crash of a process started on its own host" 2
run hstop 15 "$tide" cluster stop
[ $rc -eq 0 ] || fail "stop of the per-host cluster: exit $rc"
for _ in $(seq 30); do # the relay of process 1 stops with the cluster
    pgrep -f "cluster start -h $tmp/hosts" >/dev/null || break
    sleep 0.1
done
pgrep -f "cluster start -h $tmp/hosts" >/dev/null && fail "the relay of process 1 outlived the cluster" ||
    ok "the relay of process 1 stopped with the cluster"

# Sanitizer reports of the daemon and its workers land in the cluster's log.
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" \
    "$XDG_RUNTIME_DIR/tide/cluster.log"; then
    fail "sanitizer reports in the cluster's log:"
    grep -E -A20 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" \
        "$XDG_RUNTIME_DIR/tide/cluster.log" | head -60
fi

if [ $fails -ne 0 ]; then
    echo "cluster_service: $fails check(s) failed (seed $seed)"
    exit 1
fi
echo "cluster_service: all checks passed"
