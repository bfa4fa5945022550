#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS]   (per target, default 40)
#
# Targets (tests/fuzz/fuzz_<name>.c): wire (the frame decoder, net/wire.c)
# and hosts (the hosts-file parser, net/cluster.c), built with
# -fsanitize=fuzzer,address,undefined into build-fuzz/, apart from the cmake
# flavours. Each run starts from the committed seed corpus
# (tests/fuzz/corpus/<name>/) plus the inputs of earlier runs kept in
# build-fuzz/corpus/<name>/, first replays every past crash input
# (tests/fuzz/regress/<name>/), and fails on any crash, sanitizer report,
# leak, timeout or allocation over 64 MB (every frame is at most a few KB:
# docs/wire.md bounds what a frame may cost). A crash input is left in
# build-fuzz/artifacts/<name>/: fix the bug, then copy the input to
# tests/fuzz/regress/<name>/, where the regular suite replays it
# (tests/net/test_fuzz_replay.c).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-40}
out=build-fuzz
cc=${CC_FUZZ:-clang}
mkdir -p "$out"
flags=(-g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -Iinclude -Iruntime -Inet)
pkgs="msgpack libxxhash"
# What the targets use of libtide (nothing that needs ZeroMQ or threads).
lib=(net/wire.c net/cluster.c runtime/alloc.c runtime/batch.c runtime/message.c runtime/error.c
     runtime/record.c)
status=0
for t in wire hosts; do
    echo "== fuzz: $t (${secs}s)" >&2
    # shellcheck disable=SC2046
    $cc "${flags[@]}" $(pkg-config --cflags $pkgs) -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" \
        "${lib[@]}" $(pkg-config --libs $pkgs)
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
    opts=(-rss_limit_mb=2048 -malloc_limit_mb=64 -timeout=10 -max_len=4096
          -artifact_prefix="$out/artifacts/$t/")
    [ -f "tests/fuzz/$t.dict" ] && opts+=(-dict="tests/fuzz/$t.dict")
    export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    regress=(tests/fuzz/regress/$t/*)
    if [ -e "${regress[0]}" ]; then
        if ! "$out/fuzz_$t" "${opts[@]}" "${regress[@]}" >"$out/$t.regress.log" 2>&1; then
            echo "fuzz.sh: $t: a regression input fails again (log: $out/$t.regress.log)" >&2
            tail -30 "$out/$t.regress.log" >&2
            status=1
            continue
        fi
    fi
    if ! "$out/fuzz_$t" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
        echo "fuzz.sh: $t: crash (log: $out/$t.log, input in $out/artifacts/$t/)" >&2
        grep -E -A20 "ERROR:|runtime error:|check failed|out-of-memory|malloc\(" "$out/$t.log" | head -40 >&2
        status=1
        continue
    fi
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/$t.log" |
        sed "s/^/fuzz $t: /" >&2
done
exit $status
