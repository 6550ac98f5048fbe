#!/usr/bin/env python3
"""Tokenisation throughput of libmaas beside Hugging Face tokenizers, in one run.

Generates two large texts deterministically, runs build/bench/bench_tokenize
on them, then Hugging Face's fast tokenizers (the Rust `tokenizers` package,
one thread: RAYON_NUM_THREADS=1) on the same texts, and prints MB/s per CPU
second for both (CPU time, so other load on a shared machine does not skew
the comparison) and whether both produced the same ids (sum of all ids over
one pass).  The ratio is libmaas over the faster of the two HF calls.

Texts (written to build/bench-data/):
  english  the license texts of Debian's base-files package
           (/usr/share/common-licenses), paragraphs reflowed to one line each
           and shuffled with a fixed seed, repeated to the requested size.
  chinese  sentences sampled by frequency, with a fixed seed, from the word
           list dict.txt of the PyPI package jieba 0.42.1
           (pip install jieba==0.42.1), joined with Chinese punctuation.

Both sides encode one line (paragraph) per call, with offsets, as a server
encodes one request at a time.

Usage (from the repository root, after `make`):
    /work/venv/bin/python bench/bench_tokenize.py [--mb 4] [--seconds 3]
"""
import argparse
import itertools
import os
import random
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

FIXTURES = "tests/fixtures/tokenizers"
DATA = "build/bench-data"
LICENSES = ["GPL-3", "GPL-2", "LGPL-2.1", "GFDL-1.3", "Apache-2.0", "MPL-2.0", "Artistic"]


def english_text(size):
    paragraphs = []
    for name in LICENSES:
        path = os.path.join("/usr/share/common-licenses", name)
        with open(path, encoding="utf-8") as fp:
            for block in fp.read().split("\n\n"):
                line = " ".join(block.split())
                if line:
                    paragraphs.append(line)
    rng = random.Random(1)
    out, total = [], 0
    while total < size:
        rng.shuffle(paragraphs)
        for p in paragraphs:
            out.append(p + "\n")
            total += len(out[-1].encode("utf-8"))
    return "".join(out)


def chinese_text(size):
    import jieba  # only for the location of its word list

    words, weights = [], []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as fp:
        for line in fp:
            parts = line.split()
            if len(parts) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in parts[0]):
                words.append(parts[0])
                weights.append(int(parts[1]))
    cum_weights = list(itertools.accumulate(weights))
    rng = random.Random(2)
    out, total = [], 0
    while total < size:
        sentences = []
        for _ in range(rng.randrange(3, 9)):
            n = rng.randrange(6, 25)
            body = "".join(rng.choices(words, cum_weights=cum_weights, k=n))
            sentences.append(body + rng.choice("，。。！？；"))
        out.append("".join(sentences) + "\n")
        total += len(out[-1].encode("utf-8"))
    return "".join(out)


def hf_tokenizers():
    from transformers import BertTokenizerFast, GPT2TokenizerFast

    gpt2 = GPT2TokenizerFast(vocab=FIXTURES + "/gpt2/vocab.json", merges=FIXTURES + "/gpt2/merges.txt")
    bert = BertTokenizerFast(vocab=FIXTURES + "/bert-base-uncased/vocab.txt")
    return {"gpt2": gpt2.backend_tokenizer, "bert": bert.backend_tokenizer}


def hf_run(tok, lines, nbytes, seconds, method="encode_batch"):
    encode = getattr(tok, method)
    id_sum = sum(sum(e.ids) for e in encode(lines))  # warm-up pass
    start = time.process_time()
    passes = 0
    while True:
        encode(lines)
        passes += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            break
    return nbytes * passes / elapsed / 1e6, id_sum


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=4, help="size of each text in MB (default 4)")
    ap.add_argument("--seconds", type=float, default=3, help="minimum timed seconds per run")
    ap.add_argument("--bench", default="build/bench/bench_tokenize")
    args = ap.parse_args()
    if not os.path.exists(args.bench):
        sys.exit("%s is missing: run `make` first" % args.bench)

    # Step 1: the texts.
    os.makedirs(DATA, exist_ok=True)
    size = int(args.mb * 1e6)
    texts = {"english": english_text(size), "chinese": chinese_text(size)}
    paths = {}
    for name, text in texts.items():
        paths[name] = os.path.join(DATA, name + ".txt")
        with open(paths[name], "w", encoding="utf-8") as fp:
            fp.write(text)

    # Step 2: libmaas.
    cmd = [args.bench, "--seconds", str(args.seconds)]
    for name in texts:
        cmd += ["--text", name, paths[name]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    ours = {}
    for line in out.splitlines():
        f = line.split()
        ours[(f[1], f[2])] = (float(f[3]), int(f[7]))

    # Step 3: Hugging Face, same texts, same lines.
    hf = hf_tokenizers()
    # encode_batch computes offsets as libmaas does; encode_batch_fast skips them.
    print("MB/s per CPU second, one thread, %.1f MB per text" % args.mb)
    print("%-6s %-8s %9s %14s %14s %7s %s" % ("model", "text", "libmaas", "HF batch", "HF batch_fast",
                                              "ratio", "same ids"))
    for name, text in texts.items():
        lines = text.splitlines(keepends=True)
        nbytes = len(text.encode("utf-8"))
        for tok_name in ("gpt2", "bert"):
            theirs, their_sum = hf_run(hf[tok_name], lines, nbytes, args.seconds)
            fast = float("nan")
            if hasattr(hf[tok_name], "encode_batch_fast"):
                fast, _ = hf_run(hf[tok_name], lines, nbytes, args.seconds, "encode_batch_fast")
            mbs, our_sum = ours[(tok_name, name)]
            print("%-6s %-8s %9.2f %14.2f %14.2f %6.1fx %s" % (
                tok_name, name, mbs, theirs, fast, mbs / max(theirs, fast),
                "yes" if our_sum == their_sum else "NO"))


if __name__ == "__main__":
    main()
