"""``latency``: time small MPI operations from C, mpi4numba and mpi4py, side by side.

Run without mpiexec, it is a launcher::

    python -m mpi4numba.bench latency [-n 2] [--repeat 5] [--thread-level funneled[,multiple]]

It compiles ``latency.c`` with ``mpicc``, then runs ``mpiexec -n N`` jobs one after the
other: the C program, a job timing mpi4numba (loops in ``@numba.njit``) and a job timing
mpi4py (loops in Python), ``--repeat`` rounds in rotating order so that noise hits all
stacks alike. Every job runs at the same MPI thread level: mpi4numba's (the level its
first job reports through ``query_thread()``), or ``--thread-level``. It prints a table
of medians over the rounds, with the minimum in parentheses, and the ratios to C. With
several levels (``--thread-level funneled,multiple``) it runs the comparison at each and
ends with mpi4numba's times per level: what choosing ``funneled`` saves.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench latency``), the three stacks
run in that one job, in rotating order, the C code loaded as a shared library (built by
rank 0) into the already initialised MPI.

With ``--from-python`` it times calls from plain Python instead: mpi4numba's routines,
numba-mpi's (when it is installed) and mpi4py's uppercase buffer methods, in the call forms
their documentation shows, the three in rotating order in one job (launched, or the one
it runs in), with the ratios to mpi4py (see :mod:`._latency_python`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from . import _latency_python
from ._latency_ops import LABELS, OPS
from ._launch import MARKER, find_mpiexec, run_job, under_mpi_launcher
from ._mpi_setup import LEVEL_NAMES, start_mpi, thread_level
from ._table import markdown, ratio

STACKS = ("C", "mpi4numba", "mpi4py")
ROTATION = ("mpi4numba", "C", "mpi4py")  # first round: mpi4numba first, to learn its level

Results = dict[str, dict[str, list[float]]]  # stack -> op -> microseconds per round


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``latency``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench latency",
        description="Latency of MPI operations from C, mpi4numba (njit) and mpi4py, side by side.",
    )
    parser.add_argument("-n", "--np", type=int, default=2, help="processes per job (launcher; default 2)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds over the three stacks (default 5)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=10000,
        help="timed iterations per operation (default 10000; 64 KiB ping-pong: a fifth)",
    )
    parser.add_argument("--warmup", type=int, default=100, help="untimed iterations first (default 100)")
    parser.add_argument(
        "--thread-level",
        metavar="LEVEL[,LEVEL...]",
        help="MPI thread level of every job (default: mpi4numba's); several, comma-separated (launcher "
        "only), run the whole comparison at each and end with what each level costs mpi4numba, e.g. "
        "funneled,multiple",
    )
    parser.add_argument(
        "--from-python",
        action="store_true",
        help="time calls from plain Python instead: mpi4numba, numba-mpi and mpi4py (buffer methods), "
        "in one job, with the ratios to mpi4py",
    )
    parser.add_argument("--json", metavar="FILE", help="write the raw results to FILE")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per job (default 300)")
    parser.add_argument("--worker", choices=(*STACKS, "python"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    for name in ("np", "repeat", "iterations"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if options.warmup < 0:
        parser.error("--warmup must not be negative")
    options.levels = [level.strip() for level in (options.thread_level or "").split(",") if level.strip()]
    unknown = [level for level in options.levels if level not in LEVEL_NAMES]
    if unknown:
        parser.error(f"--thread-level: unknown level {unknown[0]!r}; choose from {', '.join(LEVEL_NAMES)}")
    options.thread_level = options.levels[0] if len(options.levels) == 1 else None
    return options


def iteration_counts(iterations: int) -> dict[str, int]:
    """Timed iterations of each operation: fewer for the 64 KiB ping-pong."""
    return {op: max(1, iterations // 5) if op == "pingpong_65536" else iterations for op in OPS}


# --- inside an MPI job ---


def _job_info(MPI: Any, level: str) -> dict[str, Any]:
    return {
        "thread_level": level,
        "size": MPI.COMM_WORLD.Get_size(),
        "library": " ".join(MPI.Get_library_version().split("\n", 1)[0].split()),
    }


def worker(options: argparse.Namespace) -> None:
    """One stack, one round, in this job; rank 0 prints a MARKER line with the JSON result."""
    # only in a job: the launcher needs neither NumPy nor the kernels
    from . import _latency_stacks

    MPI = start_mpi(numba=options.worker in ("mpi4numba", "python"))
    if options.worker == "python":  # every stack of --from-python, every round, in this job
        import mpi4numba

        level = mpi4numba.thread_level()
        results = _latency_python.rounds(MPI, options.repeat, options.iterations, options.warmup)
        if MPI.COMM_WORLD.Get_rank() == 0:
            record = {"stack": "python", **_job_info(MPI, level), "results": results}
            print(MARKER + json.dumps(record), flush=True)
        return
    if options.worker == "mpi4numba":
        import mpi4numba

        level = mpi4numba.thread_level()
    else:
        level = thread_level(MPI)
    usec = _latency_stacks.RUNNERS[options.worker](MPI, iteration_counts(options.iterations), options.warmup)
    if MPI.COMM_WORLD.Get_rank() == 0:
        record = {"stack": options.worker, **_job_info(MPI, level), "usec": usec}
        print(MARKER + json.dumps(record), flush=True)


def in_job(options: argparse.Namespace) -> None:
    """All stacks in this MPI job (started by the user under mpiexec); rank 0 prints the table."""
    if options.thread_level:
        os.environ["MPI4NUMBA_THREAD_LEVEL"] = options.thread_level
    from . import _latency_stacks

    MPI = start_mpi(numba=True)
    rank = MPI.COMM_WORLD.Get_rank()
    if options.from_python:
        python_results = _latency_python.rounds(MPI, options.repeat, options.iterations, options.warmup)
        if rank == 0:
            info = _job_info(MPI, thread_level(MPI))
            _report_python(options, info, python_results, raw={"mode": "in-job", **info, "results": python_results})
        return
    results: Results = {stack: {op: [] for op in OPS} for stack in STACKS}
    for round_ in range(options.repeat):
        for stack in _rotation(round_):
            usec = _latency_stacks.RUNNERS[stack](MPI, iteration_counts(options.iterations), options.warmup)
            for op, value in usec.items():
                if rank == 0 and value is not None:
                    results[stack][op].append(value)
    if rank == 0:
        info = _job_info(MPI, thread_level(MPI))
        _report(
            options,
            info,
            results,
            "in one mpiexec job, C code loaded as a shared library",
            raw={"mode": "in-job", **info, "results": results},
        )


# --- launcher ---


def _rotation(round_: int) -> tuple[str, ...]:
    shift = round_ % len(ROTATION)
    return ROTATION[shift:] + ROTATION[:shift]


def launch_python(options: argparse.Namespace) -> Results:
    """``--from-python``: one job running every round of the three stacks; print the table."""
    command = [
        find_mpiexec(),
        "-n",
        str(options.np),
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "latency",
        "--repeat",
        str(options.repeat),
        "--iterations",
        str(options.iterations),
        "--warmup",
        str(options.warmup),
        "--worker",
        "python",
    ]
    env = dict(os.environ)
    if options.thread_level:
        env.update(MPI4NUMBA_THREAD_LEVEL=options.thread_level, MPI4PY_RC_THREAD_LEVEL=options.thread_level)
    started = time.perf_counter()
    record = run_job(command, env, options.timeout * options.repeat)
    record["seconds"] = round(time.perf_counter() - started, 3)
    if record["size"] != options.np:
        raise RuntimeError(f"the job ran {record['size']} process(es), not {options.np}")
    if options.thread_level and record["thread_level"] != options.thread_level:
        raise RuntimeError(f"the job ran at thread level {record['thread_level']}, not {options.thread_level}")
    info = {key: record[key] for key in ("thread_level", "size", "library")}
    raw = {"mode": "launcher", **info, "job": record, "results": record["results"]}
    _report_python(options, info, record["results"], raw=raw)
    return record["results"]


def launch(options: argparse.Namespace) -> Results:
    """Build the C program, run the rounds of jobs, print the table; the results."""
    if options.from_python:
        return launch_python(options)
    from ._cbuild import build

    program = str(build())
    mpiexec = [find_mpiexec(), "-n", str(options.np)]
    python = [
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "latency",
        "--iterations",
        str(options.iterations),
        "--warmup",
        str(options.warmup),
        "--worker",
    ]
    env = dict(os.environ)
    level = options.thread_level
    if level:
        env["MPI4NUMBA_THREAD_LEVEL"] = level
    results: Results = {stack: {op: [] for op in OPS} for stack in STACKS}
    records: list[dict[str, Any]] = []
    for round_ in range(options.repeat):
        order = _rotation(round_)
        print(f"# round {round_ + 1}/{options.repeat}: {', '.join(order)}", file=sys.stderr, flush=True)
        for stack in order:
            if stack == "C":
                command = [
                    *mpiexec,
                    program,
                    level,
                    str(options.iterations),
                    str(iteration_counts(options.iterations)["pingpong_65536"]),
                    str(options.warmup),
                ]
            else:
                command = [*mpiexec, *python, stack]
            started = time.perf_counter()
            record = run_job(command, {**env, "MPI4PY_RC_THREAD_LEVEL": level} if level else env, options.timeout)
            record.update(round=round_, seconds=round(time.perf_counter() - started, 3))
            records.append(record)
            if level is None:  # the first job is mpi4numba's: its level is everyone's
                level = record["thread_level"]
            if record["size"] != options.np:  # e.g. $MPICC of another MPI than this mpiexec
                raise RuntimeError(
                    f"the {stack} job ran {record['size']} process(es), not {options.np}: "
                    f"do {command[0]} and {'mpicc' if stack == 'C' else 'mpi4py'} belong "
                    "to the same MPI?"
                )
            if record["thread_level"] != level:
                raise RuntimeError(f"{stack} ran at thread level {record['thread_level']}, not {level}")
            for op, value in record["usec"].items():
                if value is not None:
                    results[stack][op].append(value)
    info = {
        "thread_level": level,
        "size": options.np,
        "library": next((r["library"] for r in records if "library" in r), "?"),
    }
    _report(
        options,
        info,
        results,
        "separate mpiexec jobs, rotating order",
        raw={"mode": "launcher", **info, "jobs": records, "results": results},
    )
    return results


def compare_levels(options: argparse.Namespace) -> None:
    """The whole comparison at each of ``options.levels``, then mpi4numba's µs per level."""
    by_level: dict[str, Results] = {}
    json_file = options.json
    for level in options.levels:
        options.thread_level = level
        options.json = f"{json_file}.{level}" if json_file else None
        by_level[level] = launch(options)
        print()
    options.thread_level, options.json = ",".join(options.levels), json_file
    first = options.levels[0]
    ops, labels = (_latency_python.OPS, _latency_python.LABELS) if options.from_python else (OPS, LABELS)
    head = ["operation", *(f"{level} µs" for level in options.levels)]
    head += [f"{level} / {first}" for level in options.levels[1:]]
    rows = [
        [
            labels[op],
            *(_cell(by_level[level]["mpi4numba"][op]) for level in options.levels),
            *(
                _ratio(by_level[level]["mpi4numba"][op], by_level[first]["mpi4numba"][op])
                for level in options.levels[1:]
            ),
        ]
        for op in ops
    ]
    called = " from Python" if options.from_python else ""
    print(f"# mpi4numba{called} at each MPI thread level: microseconds, median over rounds (min), and the ratio")
    print(markdown(head, rows), flush=True)
    if json_file:
        Path(json_file).write_text(json.dumps({"options": vars(options), "levels": by_level}, indent=1) + "\n")


# --- report ---


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f})" if values else "-"


def _ratio(values: list[float], baseline: list[float]) -> str:
    if not values or not baseline:
        return "-"
    return ratio(statistics.median(values) / statistics.median(baseline))


def table(results: Results) -> str:
    """Markdown table: per operation the median (min) µs of each stack and the ratios to C."""
    head = ["operation", "C µs", "mpi4numba µs", "mpi4py µs", "mpi4numba/C", "mpi4py/C"]
    rows = [
        [
            LABELS[op],
            *(_cell(results[stack][op]) for stack in STACKS),
            _ratio(results["mpi4numba"][op], results["C"][op]),
            _ratio(results["mpi4py"][op], results["C"][op]),
        ]
        for op in OPS
    ]
    return markdown(head, rows)


def python_table(results: Results) -> str:
    """Markdown table of ``--from-python``: per operation the median (min) µs of each stack
    and the ratios to mpi4py."""
    stacks = _latency_python.STACKS
    head = ["operation", *(f"{stack} µs" for stack in stacks), "mpi4numba/mpi4py", "numba-mpi/mpi4py"]
    rows = [
        [
            _latency_python.LABELS[op],
            *(_cell(results[stack][op]) for stack in stacks),
            _ratio(results["mpi4numba"][op], results["mpi4py"][op]),
            _ratio(results["numba-mpi"][op], results["mpi4py"][op]),
        ]
        for op in _latency_python.OPS
    ]
    return markdown(head, rows)


def _report_python(options: argparse.Namespace, info: dict[str, Any], results: Results, raw: dict[str, Any]) -> None:
    processes = f"{info['size']} process" + ("es" if info["size"] != 1 else "")
    missing = [stack for stack in _latency_python.STACKS if not any(results[stack].values())]
    print(
        f"# mpi4numba latency benchmark, calls from Python: {processes}, MPI thread level "
        f"{info['thread_level']} (every stack), {info['library']}"
    )
    print(
        f"# {options.repeat} round(s) of {', '.join(_latency_python.STACKS)} in one mpiexec job, rotating "
        f"order; {options.iterations} timed calls after {max(options.warmup, _latency_python.MIN_WARMUP)} "
        "warm-up" + (f"; not installed: {', '.join(missing)}" if missing else "")
    )
    print(
        "# microseconds, median over rounds (min): ping-pong = half round trip and "
        "isend+irecv+waitall = one exchange, on rank 0; the others = per call, slowest rank"
    )
    print(python_table(results), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), **raw}, indent=1) + "\n")


def _report(options: argparse.Namespace, info: dict[str, Any], results: Results, how: str, raw: dict[str, Any]) -> None:
    counts = iteration_counts(options.iterations)
    processes = f"{info['size']} process" + ("es" if info["size"] != 1 else "")
    print(
        f"# mpi4numba latency benchmark: {processes}, MPI thread level "
        f"{info['thread_level']} (every stack), {info['library']}"
    )
    print(
        f"# {options.repeat} round(s) of C, mpi4numba, mpi4py ({how}); {counts['pingpong_8']} timed "
        f"iterations ({counts['pingpong_65536']} for 64 KiB) after {options.warmup} warm-up"
    )
    print(
        "# microseconds, median over rounds (min): ping-pong = half round trip and "
        "isend+irecv+waitall = one exchange, on rank 0; allreduce, bcast, barrier = per call, "
        "slowest rank"
    )
    print(table(results), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), **raw}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench latency``."""
    options = parse(argv)
    if options.worker:
        worker(options)
    elif under_mpi_launcher():
        if len(options.levels) > 1:
            print("mpi4numba.bench latency: several thread levels need the launcher (run it without mpiexec)")
            return 2
        in_job(options)
    else:
        try:
            compare_levels(options) if len(options.levels) > 1 else launch(options)
        except RuntimeError as exc:
            print(f"mpi4numba.bench latency: {exc}", file=sys.stderr)
            return 1
    return 0
