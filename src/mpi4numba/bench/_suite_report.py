"""Output of the ``suite`` benchmark (rank 0): the table on stdout, JSON, CSV and the plot."""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path
from typing import Any

from ._suite_plan import LARGE, OPS, POINT_TO_POINT, STACKS, UNITS, counts
from ._table import markdown

Values = dict[tuple[str, int, str], list[float]]  # (op, size, stack) -> one value per round
FIELDS = (
    "op",
    "size",
    "stack",
    "unit",
    "min",
    "median",
    "max",
    "ratio_to_c",
    "iterations",
    "warmup",
    "rounds",
    "values",
    "thread_level",
    "mpi_library",
    "processes",
    "allocs_per_iteration",
)
TITLES = {
    "latency": "latency: ping-pong between ranks 0 and 1, half round trip (µs)",
    "bw": "bw: windows of isends from rank 0 to rank 1 (MB/s; above 1 against C is faster)",
    "allreduce": "allreduce: int32 sum (µs per call, mean over ranks)",
    "bcast": "bcast from rank 0 (µs per call, mean over ranks)",
    "reduce": "reduce: int32 sum to rank 0 (µs per call, mean over ranks)",
    "allgather": "allgather: size = block per process (µs per call, mean over ranks)",
    "alltoall": "alltoall: size = block per pair (µs per call, mean over ranks)",
    "barrier": "barrier (µs per call, mean over ranks)",
}


def size_label(size: int) -> str:
    """0 B, 512 B, 1 KiB, 4 MiB."""
    for shift, unit in ((20, "MiB"), (10, "KiB")):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def records(
    options: argparse.Namespace, info: dict[str, Any], values: Values, allocations: dict[tuple[str, int], float]
) -> list[dict[str, Any]]:
    """One record per (op, size, stack), in table order, with every number."""
    result = []
    for (op, size, stack), found in sorted(
        values.items(), key=lambda item: (OPS.index(item[0][0]), item[0][1], STACKS.index(item[0][2]))
    ):
        median = statistics.median(found)
        baseline = values.get((op, size, "C"))
        n, warmup = counts(op, size, options.iterations, options.warmup)
        result.append(
            {
                "op": op,
                "size": size,
                "stack": stack,
                "unit": UNITS[op],
                "min": min(found),
                "median": median,
                "max": max(found),
                "ratio_to_c": median / statistics.median(baseline) if baseline else None,
                "iterations": n,
                "warmup": warmup,
                "rounds": len(found),
                "values": found,
                "thread_level": info["thread_level"],
                "mpi_library": info["mpi_library"],
                "processes": info["processes"],
                "allocs_per_iteration": allocations.get((op, size)) if stack == "mpi4numba" else None,
            }
        )
    return result


def _number(value: float) -> str:
    """About four significant digits, no exponent."""
    for limit, digits in ((1000, 0), (100, 1), (10, 2)):
        if value >= limit:
            return f"{value:.{digits}f}"
    return f"{value:.3f}"


def table(info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """One markdown section per op: rows = sizes; per stack median (min–max), and X/C."""
    stacks = [stack for stack in STACKS if stack in info["stacks"]]
    by_key = {(r["op"], r["size"], r["stack"]): r for r in rows}
    sections = []
    for op in OPS:
        op_sizes = sorted({r["size"] for r in rows if r["op"] == op})
        if not op_sizes:
            continue
        unit = "µs" if UNITS[op] == "us" else UNITS[op]
        head = ["size"]
        for stack in stacks:
            head += [f"{stack} {unit}"] + ([f"{stack}/C"] if stack != "C" and "C" in stacks else [])
        body = []
        for size in op_sizes:
            cells = [size_label(size)]
            for stack in stacks:
                r = by_key.get((op, size, stack))
                cells.append(f"{_number(r['median'])} ({_number(r['min'])}–{_number(r['max'])})" if r else "-")
                if stack != "C" and "C" in stacks:
                    cells.append(f"{r['ratio_to_c']:.2f}" if r and r["ratio_to_c"] is not None else "-")
            body.append(cells)
        sections.append(f"## {TITLES[op]}\n{markdown(head, body, left=0)}")
    return "\n\n".join(sections)


def header(options: argparse.Namespace, info: dict[str, Any]) -> str:
    """Comment lines: job, thread level, library, rounds and iteration counts."""
    processes = f"{info['processes']} process" + ("es" if info["processes"] != 1 else "")

    def pair(op: str, size: int) -> str:
        n, warmup = counts(op, size, options.iterations, options.warmup)
        return f"{n} ({warmup})"

    return "\n".join(
        [
            (
                f"# mpi4numba suite (OSU-style): {processes}, MPI thread level {info['thread_level']} (every stack), "
                f"{info['mpi_library']}"
            ),
            (
                f"# {', '.join(info['stacks'])} in one mpiexec job, {info['rounds']} round(s) in rotating order; "
                "cells: median (min–max) over rounds; X/C: ratio of the medians"
            ),
            (
                f"# iterations (warm-up) up to {size_label(LARGE)} / above: latency {pair('latency', 0)} / "
                f"{pair('latency', LARGE + 1)}, bw {pair('bw', 0)} / {pair('bw', LARGE + 1)} windows of "
                f"{info['window']}, collectives {pair('barrier', 0)} / {pair('barrier', LARGE + 1)}"
            ),
        ]
    )


def report(
    options: argparse.Namespace, info: dict[str, Any], values: Values, allocations: dict[tuple[str, int], float]
) -> None:
    """Print the table (stdout) and write the files the options ask for."""
    rows = records(options, info, values, allocations)
    notes = "".join(f"\n# note: {note}" for note in info["notes"])
    print(f"{header(options, info)}\n\n{table(info, rows)}\n{notes}".rstrip(), flush=True)
    if options.json:
        document = {"benchmark": "mpi4numba.bench suite", **info, "options": vars(options), "results": rows}
        Path(options.json).write_text(json.dumps(document, indent=1) + "\n")
    if options.csv:
        with open(options.csv, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=FIELDS)
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "values": " ".join(f"{v:.6g}" for v in r["values"])})
    if options.plot:
        plot(options.plot, info, rows)


def plot(path: str, info: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Log-log curves of median vs size, one panel per op, one line per stack (min–max band)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    ops = [op for op in OPS if any(r["op"] == op for r in rows)]
    columns = min(3, len(ops))
    lines = -(-len(ops) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(5 * columns, 3.8 * lines), squeeze=False)
    for ax, op in zip(axes.flat, ops):
        for stack in (s for s in STACKS if s in info["stacks"]):
            mine = [r for r in rows if r["op"] == op and r["stack"] == stack and (r["size"] > 0 or op == "barrier")]
            if not mine:
                continue
            color = f"C{STACKS.index(stack)}"  # a stack keeps its colour in every panel
            if op == "barrier":  # no sizes: one bar per stack
                ax.bar(
                    stack,
                    mine[0]["median"],
                    color=color,
                    capsize=3,
                    yerr=[[mine[0]["median"] - mine[0]["min"]], [mine[0]["max"] - mine[0]["median"]]],
                )
                continue
            x = [r["size"] for r in mine]
            ax.plot(x, [r["median"] for r in mine], marker=".", color=color, label=stack)
            ax.fill_between(x, [r["min"] for r in mine], [r["max"] for r in mine], color=color, alpha=0.2)
        if op != "barrier":
            ax.set_xscale("log", base=2)
            ax.set_xlabel("message size (bytes)")
            ax.legend(fontsize="small")
        ax.set_yscale("log")
        ax.set_ylabel("MB/s" if op == "bw" else "µs")
        ax.set_title(op if op not in POINT_TO_POINT else f"{op} (ranks 0-1)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(ops) :]:
        ax.set_visible(False)
    figure.suptitle(
        f"mpi4numba suite: {info['processes']} processes, thread level {info['thread_level']}, {info['mpi_library']}",
        fontsize="medium",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
