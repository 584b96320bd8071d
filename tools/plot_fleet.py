#!/usr/bin/env python3
"""Draw docs/bench/fleet.png from docs/bench/fleet.jsonl, the figures `imds bench fleet --write
docs/bench/fleet.md` appends (one JSON line a run).

Two panels against the fleet's size (log x axis): the filtered page's server-side p50 and p99
(ms), and the resident memory per instance (bytes), steady and right after a restart, each with
the issue's target. When a size was measured more than once, the latest run is drawn.

matplotlib is not a dependency of the project or its tests; install it into any venv:

    python3 -m venv /tmp/plot && /tmp/plot/bin/pip install matplotlib
    /tmp/plot/bin/python tools/plot_fleet.py [docs/bench/fleet.jsonl] [docs/bench/fleet.png]
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE_TARGET_MS = 50
RSS_TARGET_BYTES = 1024


def latest_by_size(path):
    """The runs of the release build, the latest for each fleet size, by size."""
    runs = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            run = json.loads(line)
            if run.get("build") == "release":
                runs[run["instances"]] = run
    return [runs[n] for n in sorted(runs)]


def main():
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs/bench/fleet.jsonl"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/bench/fleet.png"
    runs = latest_by_size(source)
    if not runs:
        sys.exit(f"{source}: no release-build runs")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["instances"] for r in runs]
    fig, (pages, rss) = plt.subplots(1, 2, figsize=(11, 4.2))
    pages.plot(sizes, [r["page_p50_ms"] for r in runs], "o-", label="p50")
    pages.plot(sizes, [r["page_p99_ms"] for r in runs], "s--", label="p99")
    pages.axhline(PAGE_TARGET_MS, color="grey", linestyle=":", label=f"target {PAGE_TARGET_MS} ms")
    pages.set(
        xscale="log",
        xlabel="instances",
        ylabel="ms (server-side)",
        title="DescribeInstances, http-tokens filter, 1,000 a page",
    )
    pages.set_ylim(bottom=0)
    rss.plot(sizes, [r["rss_bytes_per_instance_steady"] for r in runs], "o-", label="steady")
    rss.plot(sizes, [r["rss_bytes_per_instance_restart"] for r in runs], "s--", label="after a restart")
    rss.axhline(RSS_TARGET_BYTES, color="grey", linestyle=":", label="target 1 KiB")
    rss.set(xscale="log", xlabel="instances", ylabel="bytes", title="Resident memory per instance")
    rss.set_ylim(bottom=0)
    for ax in (pages, rss):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
