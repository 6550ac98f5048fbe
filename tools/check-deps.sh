#!/usr/bin/env bash
# Checks that every library libmaas links against is installed and names
# the missing ones with the command that installs them.
set -u

declare -A pkg_of=(
    [openblas]=libopenblas-dev [cmocka]=libcmocka-dev [libutf8proc]=libutf8proc-dev
    [libcjson]=libcjson-dev [libmicrohttpd]=libmicrohttpd-dev
)

if ! command -v pkg-config >/dev/null; then
    echo "libmaas: pkg-config not found; run 'make deps' as root or: apt-get install pkg-config" >&2
    exit 1
fi

missing=()
for mod in "${!pkg_of[@]}"; do
    pkg-config --exists "$mod" || missing+=("${pkg_of[$mod]}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "libmaas: missing libraries: ${missing[*]}" >&2
    echo "libmaas: run 'make deps' as root, or: apt-get install ${missing[*]}" >&2
    exit 1
fi
