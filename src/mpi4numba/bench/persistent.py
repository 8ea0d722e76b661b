"""``persistent``: collectives set up once (MPI-4) and partitioned messages, C and
mpi4numba side by side.

Run without mpiexec, it launches one job::

    python -m mpi4numba.bench persistent [-n 2] [--threads 4] [--repeat 7]

In the job, every round times each operation with the C baseline (``persistent.c``,
loaded as a shared library, built with OpenMP and, where the compiler takes it, for this
machine's CPU as Numba compiles) and with mpi4numba (loops in ``@numba.njit``), the two
in alternating order from round to round, so that noise hits both alike. Operations,
per iteration: ``allreduce`` and ``bcast`` of one double and a
``neighbor_alltoall`` of one double per neighbour on a periodic ring, each blocking and
persistent (made once by ``allreduce_init`` ..., then ``start`` + ``wait``); and a
message of ``--elements`` doubles that ``--threads`` threads fill (OpenMP in C,
``prange`` in mpi4numba) sent around the ring, either as one ``isend`` after the fill or
as a partitioned message whose parts go as each thread marks its part ready, and the
fill alone (without MPI: what the threading runtimes, OpenMP's and Numba's, add to
those two rows; a Numba parallel region costs a few tenths of a microsecond more than an
OpenMP one). Both stacks fill a thread's part through a contiguous, vectorised loop. The
table shows the median over rounds (with the minimum) of each stack, the ratio of
mpi4numba to C per operation (the median of the per-round ratios), what the persistent
form saves over the blocking one, and for the filled messages the ratio without each
stack's fill alone (the part MPI and mpi4numba take; ``n/a`` where a loaded machine made
the fill alone as slow as the filled message in every round). The job runs at MPI's
thread level ``multiple`` (partitioned messages filled by threads need it), with
``NUMBA_NUM_THREADS`` and ``OMP_NUM_THREADS`` set to ``--threads``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from ._launch import MARKER, find_mpiexec, run_job, under_mpi_launcher
from ._table import markdown, ratio

SOURCE = Path(__file__).with_name("persistent.c")
OPS = (
    "allreduce",
    "allreduce_init",
    "bcast",
    "bcast_init",
    "neighbor_alltoall",
    "neighbor_alltoall_init",
    "isend_filled",
    "psend_filled",
    "fill_only",
)
LABELS = {
    "allreduce": "allreduce 1 double",
    "allreduce_init": "allreduce_init: start + wait",
    "bcast": "bcast 1 double",
    "bcast_init": "bcast_init: start + wait",
    "neighbor_alltoall": "neighbor_alltoall, ring",
    "neighbor_alltoall_init": "neighbor_alltoall_init: start + wait",
    "isend_filled": "filled by threads, one isend",
    "psend_filled": "filled by threads, partitioned",
    "fill_only": "the threads' fill alone, no MPI",
}
STACKS = ("C", "mpi4numba")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench persistent",
        description="Persistent collectives and partitioned messages: C and mpi4numba side by side.",
    )
    parser.add_argument("-n", "--np", type=int, default=2, help="processes (launcher; default 2)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--iterations", type=int, default=5000, help="timed iterations per operation (default 5000)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed iterations first (default 200)")
    parser.add_argument("--threads", type=int, default=4, help="threads filling a message (default 4)")
    parser.add_argument("--elements", type=int, default=4096, help="doubles per filled message (default 4096)")
    parser.add_argument("--json", metavar="FILE", help="write the raw results to FILE")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed for the job (default 900)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    for name in ("np", "repeat", "iterations", "threads", "elements"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if options.elements % options.threads:
        parser.error("--elements must be a multiple of --threads")
    return options


# --- inside the job ---


def _c_runner(MPI: Any):
    from ._cbuild import load_library

    # for this machine's CPU, as Numba compiles the other stack's loops
    library = load_library(MPI, OPS, "bench_op_name", source=SOURCE, flags=("-fopenmp",), native=True)
    library.bench_persistent.argtypes = [ctypes.c_int] * 4 + [ctypes.c_long]
    library.bench_persistent.restype = ctypes.c_double

    def run(op: str, options: argparse.Namespace) -> float:
        args = (OPS.index(op), options.iterations, options.warmup, options.threads, options.elements)
        return library.bench_persistent(*args)

    return run


def _numba_runner(MPI: Any):
    import numba
    import numpy as np

    import mpi4numba as mpi

    # Each thread writes its part through a slice of it: indexed as message[i] with i
    # over a range computed from p, Numba 0.68 stores with AVX-512 scatters where the CPU
    # has them, and the fill and send took 2.5 to 10 µs longer (docs/guide/threads.md).
    @numba.njit(parallel=True)
    def fill(message, parts, step):
        part = message.size // parts
        for p in numba.prange(parts):
            mine, first = message[p * part : (p + 1) * part], p * part
            for j in range(part):
                mine[j] = step + 0.5 * (first + j)

    @numba.njit(parallel=True)
    def fill_and_mark(message, parts, step, request):
        part = message.size // parts
        failed = 0
        for p in numba.prange(parts):
            mine, first = message[p * part : (p + 1) * part], p * part
            for j in range(part):
                mine[j] = step + 0.5 * (first + j)
            failed += mpi.pready(p, request) != 0
        return failed

    @numba.njit
    def loop(op, n, ring, request, one, total, outgoing, incoming, parts):
        rank, size = mpi.rank(), mpi.size()
        right, left = (rank + 1) % size, (rank - 1) % size
        status = 0
        for i in range(n):
            if op == 0:
                status |= mpi.allreduce(one[:1], total[:1])
            elif op == 2:
                status |= mpi.bcast(one[:1], 0)
            elif op == 4:
                status |= mpi.neighbor_alltoall(one, total, 1, ring)
            elif op == 1 or op == 3 or op == 5:
                status |= mpi.start(request[:1])
                status |= mpi.wait(request[:1])
            elif op == 8:
                fill(outgoing, parts, i)
            elif op == 6:
                fill(outgoing, parts, i)
                code, receiving = mpi.irecv(incoming, left, 7)
                code2, sending = mpi.isend(outgoing, right, 7)
                status |= code | code2 | mpi.waitall((receiving, sending))
            elif op == 7:
                status |= mpi.startall(request)
                status |= fill_and_mark(outgoing, parts, i, request[1:])
                status |= mpi.waitall(request)
        return status

    @numba.njit
    def timed(op, n, warmup, ring, request, one, total, outgoing, incoming, parts):
        status = loop(op, warmup, ring, request, one, total, outgoing, incoming, parts) | mpi.barrier()
        start = mpi.wtime()
        status |= loop(op, n, ring, request, one, total, outgoing, incoming, parts)
        return mpi.wtime() - start, status

    status, ring = mpi.cart_create((mpi.size(),), (True,))
    rank, size = mpi.rank(), mpi.size()

    def run(op: str, options: argparse.Namespace) -> float:
        one, total = np.array([1.0, 2.0]), np.zeros(2)
        outgoing, incoming = np.zeros(options.elements), np.zeros(options.elements)
        request = mpi.request_array(2)
        made = 0
        if op == "allreduce_init":
            made, request[:1] = mpi.allreduce_init(one[:1], total[:1])
        elif op == "bcast_init":
            made, request[:1] = mpi.bcast_init(one[:1], 0)
        elif op == "neighbor_alltoall_init":
            made, request[:1] = mpi.neighbor_alltoall_init(one, total, 1, ring)
        elif op == "psend_filled":
            made, request[:1] = mpi.precv_init(incoming, options.threads, (rank - 1) % size, 7)
            code, request[1:] = mpi.psend_init(outgoing, options.threads, (rank + 1) % size, 7)
            made |= code
        if made != 0:
            raise RuntimeError(f"mpi4numba {op}: {mpi.error_string(made)}")
        # the request arrays made above live on in these locals until the loop is done
        args = (options.iterations, options.warmup, ring, request, one, total, outgoing, incoming, options.threads)
        elapsed, status = timed(OPS.index(op), *args)
        if status != 0:
            raise RuntimeError(f"mpi4numba {op}: MPI returned status {status}")
        if op in ("isend_filled", "psend_filled") and incoming[-1] != options.iterations - 1 + 0.5 * (
            incoming.size - 1
        ):
            raise RuntimeError(f"mpi4numba {op}: the last message holds wrong data")
        for index in range(2):
            if op.endswith(("_init", "psend_filled")) and request[index] != 0:
                mpi.request_free(request[index : index + 1])
        slowest = MPI.COMM_WORLD.allreduce(elapsed, op=MPI.MAX)
        return 1e6 * slowest / options.iterations

    return run


def worker(options: argparse.Namespace) -> None:
    """Every round of both stacks in this job; rank 0 prints a MARKER line with the results
    (``--worker``, for the launcher) or the table (a job the user started)."""
    from mpi4py import MPI

    import mpi4numba

    runners = {"C": _c_runner(MPI), "mpi4numba": _numba_runner(MPI)}
    results: dict[str, dict[str, list[float]]] = {stack: {op: [] for op in OPS} for stack in STACKS}
    for round_ in range(options.repeat):
        order = STACKS if round_ % 2 == 0 else STACKS[::-1]
        for op in OPS:
            for stack in order:
                usec = runners[stack](op, options)
                if usec < 0:
                    raise RuntimeError(f"{stack} {op} failed (persistent.c)")
                results[stack][op].append(usec)
    if MPI.COMM_WORLD.Get_rank() == 0:
        record = {
            "size": MPI.COMM_WORLD.Get_size(),
            "thread_level": mpi4numba.thread_level(),
            "library": " ".join(MPI.Get_library_version().split("\n", 1)[0].split()),
            "results": results,
        }
        if options.worker:
            print(MARKER + json.dumps(record), flush=True)
        else:
            report(options, record)


# --- launcher and report ---


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f})"


def _ratio(values: list[float], baseline: list[float]) -> str:
    return ratio(statistics.median(v / b for v, b in zip(values, baseline)))


def _mpi_part_ratio(results: dict[str, dict[str, list[float]]], op: str) -> str:
    """mpi4numba/C of a filled message less each stack's fill alone, round by round: the
    part of the step that MPI and mpi4numba take (the fill is OpenMP's in C, Numba's here).
    A round where either stack's fill alone took as long as its filled message (a loaded
    machine) has no such part and is left out; ``n/a`` where every round is.

    >>> _mpi_part_ratio({"C": {"x": [5.0, 2.0], "fill_only": [1.0, 3.0]},
    ...                  "mpi4numba": {"x": [6.0, 6.0], "fill_only": [1.0, 1.0]}}, "x")
    '1.25'
    >>> _mpi_part_ratio({"C": {"x": [2.0], "fill_only": [3.0]},
    ...                  "mpi4numba": {"x": [6.0], "fill_only": [1.0]}}, "x")
    'n/a'
    """
    parts = [
        (ours - ours_fill, c - c_fill)
        for ours, ours_fill, c, c_fill in zip(
            results["mpi4numba"][op], results["mpi4numba"]["fill_only"], results["C"][op], results["C"]["fill_only"]
        )
        if ours > ours_fill and c > c_fill
    ]
    if not parts:
        return "n/a"
    return _ratio([ours for ours, _ in parts], [c for _, c in parts])


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Per operation: µs of each stack, mpi4numba/C (median of the per-round ratios), for a
    persistent or partitioned form its time over the form it replaces, per stack, and for
    a filled message the ratio without the threads' fill (see :func:`_mpi_part_ratio`)."""
    head = ["operation", "C µs", "mpi4numba µs", "mpi4numba/C", "C: form/blocking", "mpi4numba: form/blocking"]
    head.append("mpi4numba/C less the fill")
    replaced = {"allreduce_init": "allreduce", "bcast_init": "bcast", "neighbor_alltoall_init": "neighbor_alltoall"}
    replaced["psend_filled"] = "isend_filled"
    rows = []
    for op in OPS:
        c, ours = results["C"][op], results["mpi4numba"][op]
        row = [LABELS[op], _cell(c), _cell(ours), _ratio(ours, c)]
        if op in replaced:
            row += [_ratio(c, results["C"][replaced[op]]), _ratio(ours, results["mpi4numba"][replaced[op]])]
        else:
            row += ["", ""]
        row.append(_mpi_part_ratio(results, op) if op.endswith("_filled") else "")
        rows.append(row)
    return markdown(head, rows)


def report(options: argparse.Namespace, record: dict[str, Any]) -> None:
    print(
        f"# mpi4numba persistent benchmark: {record['size']} processes, MPI thread level "
        f"{record['thread_level']} (both stacks, one job), {record['library']}"
    )
    print(
        f"# {options.repeat} rounds, C and mpi4numba alternating; {options.iterations} timed iterations after "
        f"{options.warmup}; filled messages: {options.elements} doubles by {options.threads} threads"
    )
    print("# microseconds per iteration, slowest rank: median over rounds (min)")
    print(table(record["results"]), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), **record}, indent=1) + "\n")


def launch(options: argparse.Namespace) -> int:
    command = [find_mpiexec(), "-n", str(options.np), sys.executable, "-m", "mpi4numba.bench", "persistent"]
    command += ["--repeat", str(options.repeat), "--iterations", str(options.iterations)]
    command += ["--warmup", str(options.warmup), "--threads", str(options.threads)]
    command += ["--elements", str(options.elements), "--worker"]
    threads = str(options.threads)
    env = {**os.environ, "NUMBA_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    env.update(MPI4NUMBA_THREAD_LEVEL="multiple", MPI4PY_RC_THREAD_LEVEL="multiple")
    record = run_job(command, env, options.timeout)
    report(options, record)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench persistent``."""
    options = parse(argv)
    if options.worker or under_mpi_launcher():
        worker(options)
        return 0
    try:
        return launch(options)
    except RuntimeError as exc:
        print(f"mpi4numba.bench persistent: {exc}", file=sys.stderr)
        return 1
