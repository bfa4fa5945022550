#!/usr/bin/env bash
# Two tide processes in two network namespaces joined by a veth pair, so the
# traffic crosses a real interface: bfs (join, reduce, iterate) and wordcount
# must print what one process prints. Skips (exit 0) where namespaces cannot
# be made (not root, no iproute2, no CAP_NET_ADMIN).
# Usage: tests/system/netns.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: netns.sh BUILD_DIR}" && pwd)
a=tide_ns_a.$$ b=tide_ns_b.$$ tmp=$(mktemp -d)
cleanup() {
    ip netns del "$a" 2>/dev/null
    ip netns del "$b" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
if ! command -v ip >/dev/null || ! ip netns add "$a" 2>/dev/null; then
    echo "netns: skipped (cannot create network namespaces here)"
    exit 0
fi
ip netns add "$b" || exit 1
ip link add "va$$" type veth peer name "vb$$" || { echo "netns: skipped (no veth)"; exit 0; }
ip link set "va$$" netns "$a" && ip link set "vb$$" netns "$b" || exit 1
ip -n "$a" addr add 10.77.0.1/24 dev "va$$" && ip -n "$b" addr add 10.77.0.2/24 dev "vb$$" || exit 1
ip -n "$a" link set "va$$" up && ip -n "$b" link set "vb$$" up || exit 1
ip -n "$a" link set lo up && ip -n "$b" link set lo up
printf '10.77.0.1:2301\n10.77.0.2:2301\n' > "$tmp/hosts"
# Beyond loopback a cluster needs its key file (CURVE on every socket).
"$build/tide" keygen -o "$tmp/keys" 2>/dev/null || { echo "netns: tide keygen failed"; exit 1; }

fail=0
for prog in bfs wordcount; do
    "$build/$prog" -w 2 --no-pin 2>/dev/null | sort > "$tmp/one"
    timeout 60 ip netns exec "$a" "$build/$prog" -n 2 -p 0 -h "$tmp/hosts" --keys "$tmp/keys" --no-pin \
        > "$tmp/p0" 2> "$tmp/e0" &
    p0=$!
    timeout 60 ip netns exec "$b" "$build/$prog" -n 2 -p 1 -h "$tmp/hosts" --keys "$tmp/keys" --no-pin \
        > "$tmp/p1" 2> "$tmp/e1"
    r1=$?
    wait $p0
    r0=$?
    sort "$tmp/p0" "$tmp/p1" > "$tmp/two"
    if [ $r0 -ne 0 ] || [ $r1 -ne 0 ]; then
        echo "netns: $prog failed (exit $r0, $r1):"; cat "$tmp/e0" "$tmp/e1"
        fail=1
    elif ! cmp -s "$tmp/one" "$tmp/two"; then
        echo "netns: $prog over veth differs from one process:"; diff "$tmp/one" "$tmp/two" | head
        fail=1
    elif [ ! -s "$tmp/one" ]; then
        echo "netns: $prog printed nothing"; fail=1
    else
        echo "netns: $prog over veth (10.77.0.1 <-> 10.77.0.2) equals one process ($(wc -l < "$tmp/one") lines)"
    fi
done
exit $fail
