#!/usr/bin/env bash
# Times ggml's examples/gpt-2 (gpt-2-backend) on the same random GPT-2 124M
# weights as build/bench/bench_gpt2 and appends its rows to the CSV that
# bench_gpt2 --csv wrote, for bench/plot_gpt2.py.
#
#   bash bench/peers_gpt2.sh GGML_BIN [CSV]
#
# GGML_BIN is a gpt-2-backend binary built outside this repository from
# github.com/ggml-org/ggml (cmake -DGGML_BUILD_EXAMPLES=ON, target
# gpt-2-backend).  CSV defaults to build/bench/gpt2.csv.
#
# The example prints one "predict time" for the prompt and the new tokens
# together, so each setting runs twice: with 1 new token (the prompt pass
# alone) and with 65; generation speed is 64 tokens over the difference.
# Each time is the best of three runs.
set -euo pipefail

ggml_bin=${1:?usage: peers_gpt2.sh GGML_BIN [CSV]}
csv=${2:-build/bench/gpt2.csv}
[ -x "$ggml_bin" ] || { echo "peers_gpt2: $ggml_bin is not an executable" >&2; exit 1; }
[ -f "$csv" ] || { echo "peers_gpt2: $csv not found; run build/bench/bench_gpt2 --csv $csv first" >&2; exit 1; }

build/bench/bench_gpt2 --ggml-out build/cache >/dev/null
prompt=$(printf 'a%.0s' $(seq 128))   # 128 one-byte tokens in the export's vocabulary

# Prints the best "predict time" in ms of three runs.
predict_ms() {
    local best=""
    for _ in 1 2 3; do
        local ms
        ms=$("$ggml_bin" "$@" 2>&1 | sed -n 's/.*predict time = *\([0-9.]*\) ms.*/\1/p')
        [ -n "$ms" ] || { echo "peers_gpt2: no predict time from $ggml_bin $*" >&2; exit 1; }
        if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; fi
    done
    echo "$best"
}

for dtype in f32 f16; do
    model=build/cache/gpt2-124m-random-$dtype.bin
    for threads in 1 2; do
        common=(-m "$model" -p "$prompt" -b 128 -t "$threads" --temp 0.0001 --top_k 1 -s 1)
        t1=$(predict_ms "${common[@]}" -n 1)
        t65=$(predict_ms "${common[@]}" -n 65)
        prompt_rate=$(awk "BEGIN{printf \"%.2f\", 128 / ($t1 / 1000)}")
        gen_rate=$(awk "BEGIN{printf \"%.3f\", 64 / (($t65 - $t1) / 1000)}")
        echo "ggml gpt-2 $dtype, $threads thread(s): prompt $prompt_rate tok/s, generation $gen_rate tok/s"
        echo "ggml,$dtype,$threads,$prompt_rate,$gen_rate,,," >> "$csv"
    done
done
