#!/usr/bin/env bash
# `cmake --install` into a temp prefix, then compile a job outside the tree
# with exactly the README's command (pkg-config from that prefix), run it on
# a cluster of the installed `tide` and check its output.
# Usage: tests/system/install_job.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: install_job.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d)
export XDG_RUNTIME_DIR="$tmp/run"
unset TIDE_CLUSTER
mkdir -p "$XDG_RUNTIME_DIR"
cleanup() {
    if [ -f "$XDG_RUNTIME_DIR/tide/cluster" ]; then
        sup=$(sed -n 2p "$XDG_RUNTIME_DIR/tide/cluster")
        timeout 10 "$tmp/prefix/bin/tide" cluster stop >/dev/null 2>&1
        [ -n "$sup" ] && kill -KILL -- "-$sup" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "install_job: FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; die "cmake --install failed"; }
for f in bin/tide bin/tide-export bin/tide-gen-factory bin/tide-log bin/tide-cluster \
    include/tide/tide.h include/tide/job.h; do
    [ -e "$tmp/prefix/$f" ] || die "$f not installed"
done
pc=$(find "$tmp/prefix" -name tide.pc | head -1)
[ -n "$pc" ] || die "tide.pc not installed"
ls "$(dirname "$(dirname "$pc")")"/libtide.so "$(dirname "$(dirname "$pc")")"/libtide.a >/dev/null ||
    die "libtide.so / libtide.a not installed next to pkgconfig/"

mkdir "$tmp/outside" && cd "$tmp/outside" || die "cd"
cat >myjob.c <<'JOB'
#include "tide/collection.h"
#include "tide/job.h"
#include "tide/tide.h"

static void show(void *ctx, const tide_batch *b)
{
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t kl, vl;
        const uint8_t *k = tide_batch_key(b, i, &kl);
        const uint8_t *v = tide_batch_val(b, i, &vl);
        if (b->diffs[i] > 0)
            tide_job_printf(ctx, "key %llu: %lld\n", (unsigned long long)tide_u64_load(k),
                            (long long)tide_i64_load(v));
    }
}

static int count_main(tide_worker *w, int argc, char **argv, tide_job *job)
{
    tide_dataflow *df = tide_dataflow_new(w, "count");
    tide_stream *in;
    tide_input *input =
        tide_input_new(tide_dataflow_root(df), tide_layout_make(8, 0), TIDE_BATCH_UPDATES, &in);
    tide_stream *counts = tide_count(in);
    if (counts == NULL || tide_inspect(counts, show, job) == NULL)
        return tide_job_fail(job, tide_worker_error(w)->code, "%s", tide_worker_error(w)->msg);
    TIDE_TRY(tide_dataflow_seal(df));
    for (uint64_t i = tide_worker_index(w); i < 1000; i += tide_worker_peers(w)) {
        uint8_t k[8];
        tide_u64_store(k, i % 10);
        TIDE_TRY(tide_input_update(input, k, 8, NULL, 0, 1));
    }
    return tide_input_close(input);
}
TIDE_JOB_DEFINE(count_main)
JOB
export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --cflags tide) || die "pkg-config --cflags tide failed"
case "$cflags" in *-isystem*) die "pkg-config --cflags tide has -isystem: '$cflags'" ;; esac
for w in $cflags; do # only tide's own include dir
    [ "${w#-I}" != "$w" ] && [ -f "${w#-I}/tide/tide.h" ] || die "pkg-config --cflags tide has '$w'"
done
echo "install_job: ok: pkg-config --cflags tide is '$cflags'"
cc -shared -fPIC myjob.c $(pkg-config --cflags --libs tide) -o myjob.so 2>"$tmp/cc.err" ||
    { cat "$tmp/cc.err"; die "the README's compile command failed"; }
echo "install_job: ok: compiled myjob.so outside the tree with pkg-config"

. "$(dirname "$0")/lib.sh" # pick_port
port=$(pick_port)
timeout 30 "$tmp/prefix/bin/tide" cluster start -n 2 -w 1 --no-pin --port "$port" >"$tmp/start.out" 2>&1 ||
    { cat "$tmp/start.out" "$XDG_RUNTIME_DIR/tide/cluster.log"; die "installed tide cluster start failed"; }
timeout 30 "$tmp/prefix/bin/tide" submit myjob.so >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err"; die "submit myjob.so failed"; }
for k in 0 1 2 3 4 5 6 7 8 9; do echo "key $k: 100"; done >"$tmp/want"
cmp -s <(sort "$tmp/out") "$tmp/want" || { diff <(sort "$tmp/out") "$tmp/want"; die "myjob output differs"; }
timeout 15 "$tmp/prefix/bin/tide" cluster stop >/dev/null || die "stop failed"
echo "install_job: ok: the installed tide ran the job (10 keys x 100)"
