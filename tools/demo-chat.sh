#!/usr/bin/env bash
# Converts a GPT-2 checkpoint folder to .maas and starts maas-chat on it.
#
#   bash tools/demo-chat.sh [HF_DIR]        (what `make demo-chat MODEL=HF_DIR` runs)
#
# HF_DIR is a Hugging Face GPT-2 folder (config.json, model.safetensors,
# vocab.json, merges.txt), for example openai-community/gpt2 downloaded on a
# machine with internet access.  Without it the demo uses the small random
# test model in tests/fixtures/gpt2-tiny, which prints nonsense.
# Run from the repository root after `make`.
set -euo pipefail

model_dir=${1:-}
out_dir=build/demo
mkdir -p "$out_dir"

if [ -z "$model_dir" ]; then
    model_dir=tests/fixtures/gpt2-tiny
    cat <<'EOF'
No checkpoint named, so this demo uses tests/fixtures/gpt2-tiny: a tiny
GPT-2 with RANDOM weights made for the tests.  It prints nonsense; that is
expected.  For real replies, download a GPT-2 checkpoint (for example
openai-community/gpt2) on a machine with internet access and run
    make demo-chat MODEL=/path/to/gpt2
EOF
    chat_flags=(--system "Chat." -n 24)
else
    chat_flags=()
fi

if [ ! -f "$model_dir/config.json" ]; then
    echo "demo-chat: $model_dir has no config.json; name a Hugging Face GPT-2 folder" >&2
    exit 1
fi

# Convert once; convert again when the folder's weights are newer.
name=$(basename "$(cd "$model_dir" && pwd)")
maas="$out_dir/$name.maas"
weights=$(ls "$model_dir"/*.safetensors 2>/dev/null | head -n 1 || true)
if [ ! -f "$maas" ] || [ -n "$weights" -a "$weights" -nt "$maas" ]; then
    echo "Converting $model_dir to $maas ..."
    build/bin/maas-convert "$model_dir" -o "$maas"
fi

exec build/bin/maas-chat -m "$maas" "${chat_flags[@]}"
