#!/usr/bin/env bash
# Set up a fresh Debian machine and run every test: plain, ASan+UBSan, TSan.
# Usage: scripts/test.sh [plain|asan|tsan]...   (default: all three)
#
# Criterion runs each test in a child process and does not count a
# sanitizer report as a failure, so the log is also searched for reports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
flavours=("$@"); [ ${#flavours[@]} -gt 0 ] || flavours=(plain asan tsan)
status=0
if command -v clang-format >/dev/null; then
    # The root .clang-format is the one formatting rule set: keep it applied.
    if ! git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror 2>/dev/null; then
        echo "test.sh: files not clang-formatted (run: clang-format -i \$(git ls-files '*.c' '*.h'))" >&2
        status=1
    fi
fi
# The SPIN model of the progress protocol: safety, liveness, and mutants that
# must fail (docs/progress-model.md).
echo "== progress model (SPIN)" >&2
scripts/model.sh || status=1
# A throwaway PostgreSQL server on loopback for the exporter's PostgreSQL
# tests (tests/apps/test_pg.c; they skip only where no server can start).
if pg=$(scripts/pg.sh start); then
    export TIDE_PG_URL=${pg% *}
    trap 'scripts/pg.sh stop "${pg#* }"' EXIT
else
    echo "test.sh: could not start PostgreSQL: its tests are skipped" >&2
    [ -z "${CI:-}" ] || status=1 # in CI they must run
fi
for f in "${flavours[@]}"; do
    case $f in
    plain) args=() ;;
    asan) args=(-DTIDE_SANITIZE=address -DTIDE_BUILD_BENCH=OFF) ;;
    tsan) args=(-DTIDE_SANITIZE=thread -DTIDE_BUILD_BENCH=OFF) ;;
    *) echo "test.sh: unknown flavour '$f' (plain, asan, tsan)" >&2; exit 2 ;;
    esac
    echo "== tests: $f" >&2
    scripts/build.sh "build-$f" "${args[@]}"
    log="build-$f/test.log"
    export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
    export TSAN_OPTIONS="second_deadlock_stack=1"
    if ! (cd "build-$f" && ctest --output-on-failure) 2>&1 | tee "$log"; then status=1; fi
    if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$log"; then
        echo "test.sh: sanitizer reports in the $f run:" >&2
        grep -E -A12 "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer" "$log" | head -80 >&2
        status=1
    fi
done
# libFuzzer targets (frame decoder, hosts-file parser): replay the regression
# inputs, then fuzz each for a bounded time from the committed corpora.
if command -v clang >/dev/null; then
    echo "== fuzz" >&2
    scripts/fuzz.sh "${TIDE_FUZZ_SECONDS:-40}" || status=1
fi
exit $status
