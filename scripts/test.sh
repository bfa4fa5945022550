#!/usr/bin/env bash
# Set up a fresh Debian machine and run every test: plain, ASan+UBSan, TSan.
# Usage: scripts/test.sh [plain|asan|tsan]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
flavours=("$@"); [ ${#flavours[@]} -gt 0 ] || flavours=(plain asan tsan)
for f in "${flavours[@]}"; do
    case $f in
    plain) args=() ;;
    asan) args=(-DTIDE_SANITIZE=address -DTIDE_BUILD_BENCH=OFF) ;;
    tsan) args=(-DTIDE_SANITIZE=thread -DTIDE_BUILD_BENCH=OFF) ;;
    *) echo "test.sh: unknown flavour '$f' (plain, asan, tsan)" >&2; exit 2 ;;
    esac
    echo "== tests: $f" >&2
    scripts/build.sh "build-$f" "${args[@]}"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
    (cd "build-$f" && ctest --output-on-failure)
done
