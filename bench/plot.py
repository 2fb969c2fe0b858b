"""The scaling curves of a bench run (scenario `curves`): RSS per stream and server
CPU per delivered event against the number of subscribers, ours beside stock,
as a PNG and a Markdown table next to it.

    python -m bench.plot bench/results/curves-<stamp>.json [--out docs/bench-curves]
"""

import argparse
import json
import sys
from pathlib import Path

LABELS = {"ours": "Callboard (uvicorn)", "ours-daphne": "Callboard (daphne)", "stock": "django-eventstream"}


def write_curves(medians: dict, out: Path) -> list[Path]:
    """`medians`: variant -> the curves scenario's result. Writes out.png and out.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (memory, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    rows = ["| subscribers | system | RSS per stream (KB) | CPU per delivery (µs) | p99 (ms) | threads |",
            "|---|---|---|---|---|---|"]
    for variant, result in medians.items():
        points = [p for p in result.get("points") or [] if p.get("streams_established")]
        if not points:
            continue
        sizes = [p["subscribers"] for p in points]
        label = LABELS.get(variant, variant)
        memory.plot(sizes, [p["rss_per_stream_kb"] for p in points], marker="o", label=label)
        cpu.plot(sizes, [p["server_cpu_us_per_delivery"] for p in points], marker="o", label=label)
        for p in points:
            rows.append(f"| {p['subscribers']:,} | {label} | {p['rss_per_stream_kb']} | "
                        f"{p['server_cpu_us_per_delivery']} | {p['p99_ms']} | {p['threads_open']} |")
    for axis, title in ((memory, "RSS per open stream (KB)"), (cpu, "server CPU per delivered event (µs)")):
        axis.set_xscale("log")
        axis.set_xlabel("subscribers")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    png, table = out.with_suffix(".png"), out.with_suffix(".md")
    figure.savefig(png, dpi=110)
    plt.close(figure)
    table.write_text("\n".join(rows) + "\n")
    return [png, table]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("record", type=Path, help="a curves-<stamp>.json written by bench/run.py")
    parser.add_argument("--out", type=Path, help="path without suffix (default: next to the record)")
    args = parser.parse_args(argv)
    record = json.loads(args.record.read_text())
    for path in write_curves(record["median"], args.out or args.record.with_suffix("")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
