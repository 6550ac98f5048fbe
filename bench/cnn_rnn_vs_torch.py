#!/usr/bin/env python3
"""Compare libmaas with PyTorch on conv2d, the digit CNN and the character RNN.

Runs build/bench/bench_cnn_rnn --json (libmaas), then the same work in
PyTorch with the same thread count, one right after the other, and prints
both side by side:
  - conv2d on ResNet-style shapes at batch 1: median milliseconds and
    GFLOP/s (2 * multiply-adds / median time);
  - the digit classifier of tests/fixtures/digits-cnn: images/s at batch 1
    and 64 over the held-out images;
  - the character RNN of tests/fixtures/charnn-kjv: characters/s for a
    256-character prompt in one pass and for one-character steps.
The PyTorch models are rebuilt from model.json and model.safetensors.

Usage: /work/venv/bin/python bench/cnn_rnn_vs_torch.py [--threads N] [--repeats R]
"""

import argparse
import json
import statistics
import subprocess
import time

import torch
from safetensors.torch import load_file
from torch import nn


def torch_conv_ms(shape, repeats):
    """Return the median milliseconds of one conv2d call on `shape`."""
    c, size, oc = shape["in_channels"], shape["size"], shape["out_channels"]
    k, s, p, g = shape["kernel"], shape["stride"], shape["padding"], shape["groups"]
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(1, c, size, size, generator=gen) * 2 - 1
    w = torch.rand(oc, c // g, k, k, generator=gen) * 2 - 1
    b = torch.rand(oc, generator=gen) * 2 - 1
    with torch.no_grad():
        return median_seconds(
            lambda: torch.nn.functional.conv2d(x, w, b, stride=s, padding=p, groups=g),
            repeats) * 1e3


def flops(shape):
    out = (shape["size"] + 2 * shape["padding"] - shape["kernel"]) // shape["stride"] + 1
    return (2.0 * shape["out_channels"] * out * out *
            (shape["in_channels"] // shape["groups"]) * shape["kernel"] ** 2)


def median_seconds(fn, repeats):
    """Return the median wall time of fn() over `repeats` calls, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def build_cnn(folder):
    """Rebuild the nn.Sequential that model.json describes, with its weights."""
    desc = json.load(open(f"{folder}/model.json"))
    layers = []
    for layer in desc["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            layers.append(nn.Conv2d(layer["in_channels"], layer["out_channels"],
                                    layer["kernel_size"], layer["stride"], layer["padding"],
                                    layer["dilation"], layer["groups"], layer["bias"]))
        elif kind == "relu":
            layers.append(nn.ReLU())
        elif kind == "maxpool2d":
            layers.append(nn.MaxPool2d(layer["kernel_size"], layer["stride"], layer["padding"]))
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append(nn.Linear(layer["in_features"], layer["out_features"], layer["bias"]))
    model = nn.Sequential(*layers)
    model.load_state_dict(load_file(f"{folder}/model.safetensors"))
    return model.eval(), desc["input_scale"]


def torch_digits_rates(repeats):
    """Return images/s of the digit CNN at batch 1 and 64 over the held-out images."""
    model, scale = build_cnn("tests/fixtures/digits-cnn")
    rows = [line.split() for line in open("tests/fixtures/digits-cnn/heldout.txt")
            if line.strip() and not line.startswith("#")]
    images = torch.tensor([[float(v) for v in r[1:]] for r in rows]).reshape(-1, 1, 8, 8)
    rates = {}
    with torch.no_grad():
        for batch in (1, 64):
            n = len(images) // batch * batch

            def run():
                for i in range(0, n, batch):
                    model(images[i:i + batch] * scale)
            rates[batch] = n / median_seconds(run, repeats)
    return rates


def torch_charnn_rates(repeats):
    """Return characters/s of the character RNN: a 256-character prompt, one-character steps."""
    desc = json.load(open("tests/fixtures/charnn-kjv/model.json"))
    emb = nn.Embedding(desc["vocab_size"], desc["embedding_dim"])
    rnn = nn.RNN(desc["embedding_dim"], desc["hidden_size"], desc["num_layers"],
                 nonlinearity="tanh", bias=desc["bias"], batch_first=True)
    head = nn.Linear(desc["hidden_size"], desc["vocab_size"])
    state = load_file("tests/fixtures/charnn-kjv/model.safetensors")
    for prefix, module in (("embedding.", emb), ("rnn.", rnn), ("head.", head)):
        module.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                                if k.startswith(prefix)})
    ids = torch.tensor([[(i * 7) % desc["vocab_size"] for i in range(256)]])

    def prompt():
        out, _ = rnn(emb(ids))
        head(out)

    def steps():
        h = None
        for i in range(256):
            out, h = rnn(emb(ids[:, i:i + 1]), h)
            head(out)
    with torch.no_grad():
        return 256 / median_seconds(prompt, repeats), 256 / median_seconds(steps, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="threads for both libraries")
    ap.add_argument("--repeats", type=int, default=15, help="timed runs per case (median)")
    ap.add_argument("--bench", default="build/bench/bench_cnn_rnn", help="libmaas benchmark")
    args = ap.parse_args()

    quick = ["--quick"] if args.repeats <= 3 else []
    run = subprocess.run([args.bench, "--json", "--threads", str(args.threads)] + quick,
                         check=True, capture_output=True, text=True)
    maas = json.loads(run.stdout)
    torch.set_num_threads(args.threads)

    print(f"conv2d, batch 1, {args.threads} thread(s); libmaas {maas['isa']} kernels, "
          f"torch {torch.__version__}")
    print(f"{'shape':34} {'maas ms':>9} {'GFLOP/s':>8} {'torch ms':>9} {'GFLOP/s':>8} "
          f"{'maas/torch':>10}")
    for shape in maas["conv2d"]:
        t_ms = torch_conv_ms(shape, args.repeats)
        t_gf = flops(shape) / (t_ms * 1e-3) * 1e-9
        print(f"{shape['name']:34} {shape['ms']:9.3f} {shape['gflops']:8.2f} {t_ms:9.3f} "
              f"{t_gf:8.2f} {shape['gflops'] / t_gf:10.2f}")

    digits = torch_digits_rates(args.repeats)
    print(f"\n{'digit classifier':34} {'maas img/s':>10} {'torch img/s':>12}")
    for batch in (1, 64):
        print(f"{'batch ' + str(batch):34} {maas['digits_images_per_s'][f'batch_{batch}']:10.0f} "
              f"{digits[batch]:12.0f}")

    prompt, steps = torch_charnn_rates(args.repeats)
    rates = maas["charnn_chars_per_s"]
    print(f"\n{'character RNN':34} {'maas ch/s':>10} {'torch ch/s':>12}")
    print(f"{'256-character prompt, one pass':34} {rates['prompt_256']:10.0f} {prompt:12.0f}")
    print(f"{'one character per step':34} {rates['one_at_a_time']:10.0f} {steps:12.0f}")


if __name__ == "__main__":
    main()
