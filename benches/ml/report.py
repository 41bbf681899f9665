"""Prints Tandem's ratios to each peer per connection count from the ML
benchmark's results.csv, and plots requests/s and p99 to a PNG."""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(csv_path, png_path):
    rows = list(csv.DictReader(open(csv_path)))
    by = defaultdict(dict)
    for r in rows:
        by[r["server"]][int(r["connections"])] = (float(r["rps"]), float(r["p50_ms"]), float(r["p99_ms"]))
    servers = list(by)
    conns = sorted({c for s in by.values() for c in s})
    # Batched Tandem against peers that make one model call per request is
    # the product's comparison; unbatched Tandem against the same peers is
    # the like-for-like one. Both are printed.
    for ours, what in (("tandem", "batched"), ("tandem-unbatched", "unbatched, like for like")):
        if ours not in by:
            continue
        print()
        print(f"{ours} ({what}): requests/s ratio to each (and p99 ratio, lower is better for Tandem):")
        for c in conns:
            t = by[ours].get(c)
            if t is None:
                continue
            parts = []
            for s in servers:
                if s.startswith("tandem") or c not in by[s]:
                    continue
                peer = by[s][c]
                parts.append(f"{s} {t[0] / peer[0]:.2f}x (p99 {t[2] / peer[2]:.2f})")
            print(f"  {c:>3} connections: " + ", ".join(parts))
    c = max(conns)
    if c in by.get("tandem", {}) and c in by.get("tandem-unbatched", {}):
        ratio = by["tandem"][c][0] / by["tandem-unbatched"][c][0]
        print(f"batching at {c} connections: {ratio:.2f}x the unbatched requests/s")

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(servers)
    for i, s in enumerate(servers):
        xs = [j + i * width for j in range(len(conns))]
        left.bar(xs, [by[s].get(c, (0, 0, 0))[0] for c in conns], width, label=s)
        right.bar(xs, [by[s].get(c, (0, 0, 0))[2] for c in conns], width, label=s)
    for ax, title in ((left, "requests/s (higher is better)"), (right, "p99 latency, ms (lower is better)")):
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(conns))], [f"{c} conn." for c in conns])
        ax.set_title(title)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.suptitle("POST /api/sentiment (scikit-learn TF-IDF + logistic regression)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    print(f"plot: {png_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
