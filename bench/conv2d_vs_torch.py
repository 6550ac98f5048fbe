#!/usr/bin/env python3
"""Compare maas_conv2d_f32 with PyTorch's conv2d on ResNet-style shapes.

Runs build/bench/bench_cnn_rnn --conv-only --json (libmaas) and then
torch.nn.functional.conv2d on the same shapes with the same thread count,
one right after the other, and prints both as a table of milliseconds and
GFLOP/s (2 * multiply-adds / median time).

Usage: /work/venv/bin/python bench/conv2d_vs_torch.py [--threads N] [--repeats R]
"""

import argparse
import json
import statistics
import subprocess
import time

import torch


def torch_conv_ms(shape, repeats):
    """Return the median milliseconds of one conv2d call on `shape`."""
    c, size, oc = shape["in_channels"], shape["size"], shape["out_channels"]
    k, s, p, g = shape["kernel"], shape["stride"], shape["padding"], shape["groups"]
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(1, c, size, size, generator=gen) * 2 - 1
    w = torch.rand(oc, c // g, k, k, generator=gen) * 2 - 1
    b = torch.rand(oc, generator=gen) * 2 - 1
    times = []
    with torch.no_grad():
        torch.nn.functional.conv2d(x, w, b, stride=s, padding=p, groups=g)
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.nn.functional.conv2d(x, w, b, stride=s, padding=p, groups=g)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def flops(shape):
    out = (shape["size"] + 2 * shape["padding"] - shape["kernel"]) // shape["stride"] + 1
    return (2.0 * shape["out_channels"] * out * out *
            (shape["in_channels"] // shape["groups"]) * shape["kernel"] ** 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="threads for both libraries")
    ap.add_argument("--repeats", type=int, default=15, help="timed calls per shape (median)")
    ap.add_argument("--bench", default="build/bench/bench_cnn_rnn", help="libmaas benchmark")
    args = ap.parse_args()

    quick = ["--quick"] if args.repeats <= 3 else []
    run = subprocess.run([args.bench, "--conv-only", "--json", "--threads", str(args.threads)]
                         + quick, check=True, capture_output=True, text=True)
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


if __name__ == "__main__":
    main()
