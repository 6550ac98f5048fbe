#!/usr/bin/env python3
"""Draw the GPT-2 benchmark as a PNG bar chart of tokens per second.

Reads the CSV that `build/bench/bench_gpt2 --csv FILE` writes, with the
columns engine, dtype, threads, prompt_tok_s, gen_tok_s and more.  Rows of
other engines with the same columns may be appended to it.  Draws prompt processing and
generation side by side, grouped by dtype and thread count, with the
memory-bandwidth limit of generation as a marker.

    /work/venv/bin/python bench/plot_gpt2.py build/bench/gpt2.csv docs/gpt2-speed.png [NOTE]

NOTE, when given, is added to the title (for example the machine and load).

Needs matplotlib (pip install matplotlib).
"""

import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: plot_gpt2.py RESULTS.csv OUT.png [NOTE]")
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{sys.argv[1]} has no result rows")

    groups = sorted({(r["dtype"], int(r["threads"])) for r in rows},
                    key=lambda g: (g[0] != "f32", g[1]))
    engines = sorted({r["engine"] for r in rows}, key=lambda e: e != "libmaas")
    labels = [f"{dtype}, {threads} thread{'s' if threads > 1 else ''}"
              for dtype, threads in groups]
    width = 0.8 / len(engines)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, column, title in ((axes[0], "prompt_tok_s", "Prompt (128 tokens)"),
                              (axes[1], "gen_tok_s", "Generation (64 tokens)")):
        for e, engine in enumerate(engines):
            values = []
            for dtype, threads in groups:
                match = [r for r in rows if r["engine"] == engine and
                         r["dtype"] == dtype and int(r["threads"]) == threads]
                # A missing or empty cell (a failed measurement) draws no bar.
                cell = match[0][column] if match else ""
                values.append(float(cell) if cell else 0.0)
            xs = [g + (e - (len(engines) - 1) / 2) * width
                  for g in range(len(groups))]
            bars = ax.bar(xs, values, width, label=engine)
            ax.bar_label(bars, labels=[f"{v:.1f}" if v else "n/a"
                                       for v in values], fontsize=7)
        if column == "gen_tok_s":
            for g, (dtype, threads) in enumerate(groups):
                limit = [float(r["limit_tok_s"]) for r in rows
                         if r["engine"] == "libmaas" and r["dtype"] == dtype
                         and int(r["threads"]) == threads and r.get("limit_tok_s")]
                if limit:
                    ax.plot([g - 0.4, g + 0.4], [limit[0]] * 2, "k--", lw=1,
                            label="bandwidth limit" if g == 0 else None)
        ax.set_xticks(range(len(groups)), labels)
        ax.set_ylabel("tokens/s")
        ax.set_title(title)
        ax.legend(fontsize=8)
    title = "GPT-2 124M-shaped weights"
    if len(sys.argv) > 3:
        title += f" ({sys.argv[3]})"
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
