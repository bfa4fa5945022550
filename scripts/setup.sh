#!/usr/bin/env bash
# Install what tide needs on a Debian machine, only if something is missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libzmq3-dev libmsgpack-dev libhwloc-dev
      libcriterion-dev libxxhash-dev libsqlite3-dev)
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
