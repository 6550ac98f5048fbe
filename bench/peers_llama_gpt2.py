#!/usr/bin/env python3
"""Time llama.cpp's llama-bench on the random GPT-2 124M weights of bench_gpt2.

Appends llama.cpp's rows to the CSV that `build/bench/bench_gpt2 --csv`
wrote, for bench/plot_gpt2.py:

    /work/venv/bin/python bench/peers_llama_gpt2.py LLAMA_BENCH [CSV] [--threads 1,2]

LLAMA_BENCH is a llama-bench binary built outside this repository (CPU
only).  The models are build/cache/gpt2-124m-random-{f32,f16}.gguf, made by
llama.cpp's convert_hf_to_gguf.py (--outtype f32 and f16) from the checkpoint
that tools/maas_gpt2_to_hf.py writes from build/cache/gpt2-124m-random-f32.maas
(docs/PERFORMANCE.md lists the commands).  CSV defaults to
build/bench/gpt2.csv.

llama-bench runs `-p 128 -n 64 -d 0,128 -r 3`.  The prompt rate is pp128 at
depth 0 and the generation rate is tg64 at depth 128 (64 tokens decoded
after a 128-token context), the setting bench_gpt2 measures.  Like
bench_gpt2, each rate is the best of the three repetitions, not
llama-bench's mean.  The tg64 rate at depth 0 is printed too.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("llama_bench", help="path of a built llama-bench binary")
    parser.add_argument("csv", nargs="?", default=os.path.join(ROOT, "build", "bench", "gpt2.csv"))
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    args = parser.parse_args()
    if not os.access(args.llama_bench, os.X_OK):
        sys.exit("peers_llama_gpt2: %s is not an executable" % args.llama_bench)
    if not os.path.exists(args.csv):
        sys.exit("peers_llama_gpt2: %s not found; run build/bench/bench_gpt2 --csv %s first"
                 % (args.csv, args.csv))

    rows = []
    for dtype in ("f32", "f16"):
        model = os.path.join(ROOT, "build", "cache", "gpt2-124m-random-%s.gguf" % dtype)
        if not os.path.exists(model):
            sys.exit("peers_llama_gpt2: %s not found; convert it as docs/PERFORMANCE.md shows"
                     % model)
        command = [args.llama_bench, "-m", model, "-p", "128", "-n", "64", "-d", "0,128",
                   "-t", args.threads, "-r", "3", "-o", "json"]
        print(" ".join(command), flush=True)
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit("peers_llama_gpt2: llama-bench failed with status %d:\n%s"
                     % (run.returncode, run.stderr[-2000:]))
        # Best tokens/s per (threads, test, depth), where test is "pp" or "tg".
        best = {}
        for test in json.loads(run.stdout):
            kind = "pp" if test["n_gen"] == 0 else "tg"
            key = (test["n_threads"], kind, test["n_depth"])
            best[key] = max(test["samples_ts"])
        for threads in sorted({key[0] for key in best}):
            prompt = best[(threads, "pp", 0)]
            gen = best[(threads, "tg", 128)]
            print("llama.cpp %s, %d thread(s): pp128 %.2f tok/s, tg64 after 128 tokens %.3f tok/s, "
                  "tg64 from empty %.3f tok/s" % (dtype, threads, prompt, gen,
                                                  best[(threads, "tg", 0)]), flush=True)
            rows.append(["llama.cpp", dtype, threads, "%.2f" % prompt, "%.3f" % gen, "", "", ""])

    with open(args.csv, "a", newline="") as f:
        csv.writer(f).writerows(rows)
    print("appended %d rows to %s" % (len(rows), args.csv))


if __name__ == "__main__":
    main()
