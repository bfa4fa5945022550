#!/usr/bin/env bash
# Set up a fresh Debian machine, build tide and run the main job on embedded
# defaults. Extra arguments go to the job (e.g. -w 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-plain >&2
exec build-plain/wordcount "$@"
