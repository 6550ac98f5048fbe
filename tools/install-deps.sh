#!/usr/bin/env bash
# Installs the Debian packages libmaas builds against.  Does nothing when they
# are all present; as root it runs apt-get, otherwise it prints the command.
set -euo pipefail

packages=(build-essential pkg-config libopenblas-dev libcmocka-dev
          libutf8proc-dev libcjson-dev libmicrohttpd-dev curl jq)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "libmaas: missing Debian packages: ${missing[*]}" >&2
    echo "libmaas: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "libmaas: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
