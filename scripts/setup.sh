#!/usr/bin/env bash
# Install what tide needs on a Debian machine, only if something is missing.
set -euo pipefail
# Build and test: compilers, the data-plane libraries, Criterion, clang for
# libFuzzer, spin for the progress-protocol model, iproute2 for the network-
# namespace test. Apps: jansson (JSON), SQLite and libpq (exporter), a
# PostgreSQL server for the exporter's tests, libwebsockets and libedit
# (Datalog server and REPL), python3-websockets (its test client).
pkgs=(build-essential cmake ninja-build pkg-config clang clang-format libzmq3-dev libmsgpack-dev
      libhwloc-dev libcriterion-dev libxxhash-dev spin iproute2 libjansson-dev libsqlite3-dev
      sqlite3 libpq-dev postgresql libwebsockets-dev libedit-dev python3-websockets)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
