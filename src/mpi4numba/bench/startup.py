"""``startup``: import time, cold JIT compile time and warm cache load time, per rank.

Run it without mpiexec; it is a launcher::

    python -m mpi4numba.bench startup [-n 1,8] [--functions K] [--json FILE]

For each process count N it runs two ``mpiexec -n N`` jobs on one fresh, empty
``NUMBA_CACHE_DIR``. In each, every
rank times, from a fresh interpreter: ``import numpy``, ``import numba``, ``import
mpi4numba`` (which does not initialise MPI), MPI initialisation (``from mpi4py import
MPI``), loading mpi4numba's routines (binding libmpi), then getting a machine-code
version of ``_startup_kernel.step`` (an ``@njit(cache=True)`` function calling sendrecv,
allreduce and bcast) and its first call. In the first (cold) job that is a full compile
that writes the cache; in the second (warm) job it is a load from that cache. It prints
the slowest rank's seconds (fastest in parentheses) for both jobs. Imports in the first
job may also pay for a cold operating-system file cache.

With ``--functions K`` (2-4) the job compiles and calls K such functions one after the
other (``step``, ``residual``, ``gather_sizes``, ``smooth``), as a program's first time
step would: ranks meet only in the functions' collectives, so while one rank compiles a
function the others wait for it, in a lock or in a collective.

With several process counts it ends with the extra start-up of the cold job over the warm
one (slowest rank's total) per count, and its ratio to the first count's: with one shared
cache directory, ranks of a node compile a function once between them (see the caching
guide), so this ratio stays near 1 as ranks per node grow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._launch import MARKER, find_mpiexec, run_job, under_mpi_launcher
from ._table import markdown

# timed in a fresh interpreter before anything else is imported; then the worker takes over
WORKER_CODE = """\
import time
marks = [time.perf_counter()]
import numpy
marks.append(time.perf_counter())
import numba
marks.append(time.perf_counter())
import mpi4numba
marks.append(time.perf_counter())
from mpi4py import MPI
marks.append(time.perf_counter())
from mpi4numba.bench.startup import worker
worker(marks)
"""
STEPS = {  # key -> label, in the order they run
    "numpy": "import numpy",
    "numba": "import numba",
    "mpi4numba": "import mpi4numba",
    "mpi_init": "MPI init (from mpi4py import MPI)",
    "routines": "mpi4numba routines (bind libmpi)",
    "compile": "cached functions: compile (cold) / cache load (warm)",
    "first_call": "cached functions: first call",
    "total": "total",
}
JOBS = ("cold", "warm")
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``startup``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench startup",
        description="Import time, cold JIT compile time and warm Numba-cache load time, per rank "
        "(a launcher: run it without mpiexec).",
    )
    parser.add_argument(
        "-n", "--np", default="2", help="processes per job, or a comma-separated list of counts (default 2)"
    )
    parser.add_argument(
        "--functions",
        type=int,
        default=1,
        choices=range(1, 5),
        metavar="K",
        help="cached functions the job compiles and calls one after the other, with collectives in "
        "each (1-4, default 1: step() alone)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per job (default 300)")
    parser.add_argument("--json", metavar="FILE", help="write every rank's timings to FILE")
    options = parser.parse_args(argv)
    try:
        options.counts = [int(n) for n in str(options.np).split(",") if n]
    except ValueError:
        parser.error("-n/--np takes process counts, e.g. 1,8")
    if not options.counts or min(options.counts) < 1:
        parser.error("-n/--np must be at least 1")
    if options.timeout <= 0:
        parser.error("--timeout must be positive")
    return options


# --- inside a job, in the interpreter WORKER_CODE started ---


def worker(marks: list[float]) -> None:
    """Time the rest of the start-up on this rank; rank 0 prints every rank's record."""
    import numba
    import numpy as np
    from mpi4py import MPI

    import mpi4numba

    start = time.perf_counter()
    mpi4numba.sendrecv, mpi4numba.allreduce, mpi4numba.bcast  # noqa: B018  (loads the routines)
    routines = time.perf_counter() - start
    from . import _startup_kernel as kernel

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    u = np.arange(8.0)
    calls = [  # (function, arguments, expected second result)
        (kernel.step, (u, rank, size), size * (u.sum() + u[0] + u[-1])),
        (kernel.residual, (u, u - 1.0), 1.0),
        (kernel.gather_sizes, (u, rank, size), 8.0 * size),
        (kernel.smooth, (u, rank, size), u.sum()),  # the same value on every rank of the ring
    ][: int(os.environ.get("MPI4NUMBA_STARTUP_FUNCTIONS", "1"))]
    compile_ = first_call = 0.0
    stats = []
    for number, (function, args, expected) in enumerate(calls):
        if number == 0:
            comm.Barrier()  # the compile is local: start it together
        # one function: its compile timed alone; several: one after the other, ranks meeting
        # only in the functions' collectives (a rank that compiles keeps the others waiting there)
        start = time.perf_counter()
        function.compile(tuple(numba.typeof(a) for a in args))
        compile_ += time.perf_counter() - start
        if len(calls) == 1:
            comm.Barrier()
        start = time.perf_counter()
        status, value = function(*args)
        first_call += time.perf_counter() - start
        if status != 0 or not np.isclose(value, expected):
            raise RuntimeError(
                f"mpi4numba.bench startup: {function.__name__}() gave status {status}, {value} (expected {expected})"
            )
        stats.append(function.stats)
    names = ("numpy", "numba", "mpi4numba", "mpi_init")
    seconds = {name: b - a for name, a, b in zip(names, marks, marks[1:])}
    seconds.update(routines=routines, compile=compile_, first_call=first_call)
    seconds["total"] = sum(seconds.values())
    record = {
        "seconds": seconds,
        "cache_hits": sum(sum(s.cache_hits.values()) for s in stats),
        "cache_misses": sum(sum(s.cache_misses.values()) for s in stats),
    }
    records = comm.gather(record, root=0)
    if rank == 0:
        print(
            MARKER
            + json.dumps(
                {
                    "size": size,
                    "thread_level": mpi4numba.thread_level(),
                    "library": " ".join(MPI.Get_library_version().split("\n", 1)[0].split()),
                    "ranks": records,
                }
            ),
            flush=True,
        )


# --- launcher ---


def launch(options: argparse.Namespace, np_: int) -> dict[str, Any]:
    """Run the cold and the warm job of ``np_`` processes on a fresh cache directory; their
    rank-0 records."""
    cache = tempfile.mkdtemp(prefix="mpi4numba-startup-")
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": cache,
        "MPIEXEC_TIMEOUT": str(max(1, round(options.timeout))),
        "MPI4NUMBA_STARTUP_FUNCTIONS": str(options.functions),
    }
    command = [find_mpiexec(), "-n", str(np_), sys.executable, "-c", WORKER_CODE]
    jobs = {}
    try:
        for number, job in enumerate(JOBS, 1):
            print(f"startup: -n {np_}, job {number}/{len(JOBS)} ({job} cache) ...", file=sys.stderr, flush=True)
            jobs[job] = run_job(command, env, options.timeout + 10)  # mpiexec's own limit first
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    cold_misses = sum(r["cache_misses"] for r in jobs["cold"]["ranks"])
    warm_misses = sum(r["cache_misses"] for r in jobs["warm"]["ranks"])
    if not cold_misses or warm_misses:  # then the numbers would not be what the table says
        raise RuntimeError(
            "the cold job must compile the functions and the warm job load them from the cache "
            f"(cold job compiles: {cold_misses}, warm job compiles: {warm_misses})"
        )
    return jobs


def _cell(values: list[float]) -> str:
    return f"{max(values):.3f} ({min(values):.3f})"


def table(jobs: dict[str, Any]) -> str:
    """Markdown table: per step the slowest rank's seconds (fastest) in each job."""
    head = ["step", *(f"{job} job, s" for job in JOBS)]
    rows = [
        [label, *(_cell([r["seconds"][key] for r in jobs[job]["ranks"]]) for job in JOBS)]
        for key, label in STEPS.items()
    ]
    return markdown(head, rows)


def extra_startup(jobs: dict[str, Any]) -> float:
    """Seconds the cold job's slowest rank spent over the warm job's slowest rank."""
    return max(r["seconds"]["total"] for r in jobs["cold"]["ranks"]) - max(
        r["seconds"]["total"] for r in jobs["warm"]["ranks"]
    )


def report(options: argparse.Namespace, runs: dict[int, dict[str, Any]]) -> None:
    """Print the header and a table per process count, then the comparison; write the
    JSON file if asked."""
    for jobs in runs.values():
        info = jobs["cold"]
        processes = f"{info['size']} process" + ("es" if info["size"] != 1 else "")
        print(f"# mpi4numba start-up: {processes} per job, MPI thread level {info['thread_level']}, {info['library']}")
        print(
            "# seconds per rank from a fresh interpreter, slowest rank (fastest); cold job: empty "
            "NUMBA_CACHE_DIR, warm job: the cache the cold job wrote"
        )
        print(table(jobs))
        compiled = sum(r["cache_misses"] for r in jobs["cold"]["ranks"])
        if info["size"] > 1:
            print(
                f"# cold job: {compiled} compiles of {options.functions} function(s) on {info['size']} ranks "
                "(the rest loaded from the cache)",
                flush=True,
            )
    if len(runs) > 1:
        first_count, first = next(iter(runs.items()))
        base = extra_startup(first)
        print(
            "# extra start-up of the cold job over the warm one (slowest rank's total), and its ratio to -n "
            f"{first_count}'s"
        )
        for count, jobs in runs.items():
            extra = extra_startup(jobs)
            ratio = f"{extra / base:.2f}" if base > 0 else "-"
            print(f"-n {count}: {extra:.3f} s ({ratio})")
    if options.json:
        data = {"options": vars(options), "runs": {str(n): jobs for n, jobs in runs.items()}}
        Path(options.json).write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench startup``."""
    options = parse(argv)
    if under_mpi_launcher():
        if all(os.environ.get(name, "0") == "0" for name in _RANK_VARIABLES):  # say it once
            print(
                "mpi4numba.bench startup: it starts its own mpiexec jobs; run it without mpiexec "
                "(use -n for the number of processes)",
                file=sys.stderr,
            )
        return 2
    try:
        report(options, {count: launch(options, count) for count in options.counts})
    except RuntimeError as exc:
        print(f"mpi4numba.bench startup: {exc}", file=sys.stderr)
        return 1
    return 0
