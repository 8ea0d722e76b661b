"""``io``: write a global array into one file with MPI-IO, mpi4numba and mpi4py side by
side, and NumPy's ``tofile`` of the same bytes on one process.

Run without mpiexec, it launches one job::

    python -m mpi4numba.bench io [-n 2] [--megabytes 64] [--repeat 5]

Every process holds a block of rows of a global float64 array of ``--megabytes`` MB.
Each round, in alternating order: mpi4numba opens the file, sets the block view
(``file_set_block_view``) and writes with one ``file_write_at_all`` from an njit
function, then closes it; mpi4py does the same with ``File.Open``, ``Set_view`` of a
subarray type and ``Write_at_all``; then rank 0 alone writes the whole array with
``ndarray.tofile``. Each time runs from a barrier before the open to the end of the
close on the slowest process; the file is read back and checked once per stack. The
table shows GB/s (median over rounds, with the best), written to ``--dir`` (default:
a temporary folder; the page cache usually holds the data, so this measures the
software path more than the disk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._launch import MARKER, find_mpiexec, run_job, under_mpi_launcher
from ._table import markdown

STACKS = ("mpi4numba", "mpi4py", "numpy tofile")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench io",
        description="Writing a global array with MPI-IO: mpi4numba, mpi4py and NumPy's tofile.",
    )
    parser.add_argument("-n", "--np", type=int, default=2, help="processes (launcher; default 2)")
    parser.add_argument("--megabytes", type=int, default=64, help="size of the global array (default 64)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--dir", help="folder for the file (default: a new temporary one)")
    parser.add_argument("--json", metavar="FILE", help="write the raw results to FILE")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed for the job (default 900)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    for name in ("np", "megabytes", "repeat"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return options


def worker(options: argparse.Namespace) -> dict[str, Any] | None:
    import numba
    import numpy as np
    from mpi4py import MPI

    import mpi4numba as mpi

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    columns = 1024
    rows = max(size, options.megabytes * 2**20 // (8 * columns) // size * size)
    mine = rows // size
    block = (np.arange(mine * columns, dtype=np.float64) + rank * mine * columns).reshape(mine, columns)
    folder = comm.bcast(options.dir or tempfile.mkdtemp(prefix="mpi4numba-io-") if rank == 0 else None)
    path = os.path.join(folder, "global.bin")

    @numba.njit
    def write_block(path, block, rows, first):
        status, fh = mpi.file_open(path, mpi.MODE_CREATE | mpi.MODE_WRONLY)
        status |= mpi.file_set_block_view(fh, block, (rows, block.shape[1]), (first, 0))
        status |= mpi.file_write_at_all(fh, 0, block)
        return status | mpi.file_close(fh)

    subarray = MPI.DOUBLE.Create_subarray((rows, columns), (mine, columns), (rank * mine, 0)).Commit()

    def by_mpi4py() -> None:
        handle = MPI.File.Open(comm, path, MPI.MODE_CREATE | MPI.MODE_WRONLY)
        handle.Set_view(0, MPI.DOUBLE, subarray)
        handle.Write_at_all(0, block)
        handle.Close()

    def by_numba() -> None:
        if write_block(path, block, rows, rank * mine) != 0:
            raise RuntimeError("mpi4numba's write failed")

    whole = np.arange(rows * columns, dtype=np.float64) if rank == 0 else None

    def by_numpy() -> None:
        if rank == 0:
            with open(path, "wb") as out:
                whole.tofile(out)

    def timed(write) -> float:
        comm.Barrier()
        start = time.perf_counter()
        write()
        elapsed = time.perf_counter() - start
        return comm.allreduce(elapsed, op=MPI.MAX)

    def check() -> None:
        comm.Barrier()
        if rank == 0 and not np.array_equal(np.fromfile(path), np.arange(rows * columns, dtype=np.float64)):
            raise RuntimeError("the file does not hold the global array")
        comm.Barrier()
        if rank == 0:
            os.remove(path)

    writers = {"mpi4numba": by_numba, "mpi4py": by_mpi4py, "numpy tofile": by_numpy}
    results: dict[str, list[float]] = {stack: [] for stack in STACKS}
    for stack in STACKS:  # warm up (compiles), and check what each writes
        writers[stack]()
        check()
    gigabytes = rows * columns * 8 / 1e9
    for round_ in range(options.repeat):
        for stack in STACKS if round_ % 2 == 0 else STACKS[::-1]:
            results[stack].append(gigabytes / timed(writers[stack]))
            if rank == 0:
                os.remove(path)
            comm.Barrier()
    subarray.Free()
    if rank == 0 and not options.dir:
        shutil.rmtree(folder)
    record = {
        "size": size,
        "bytes": rows * columns * 8,
        "thread_level": mpi.thread_level(),
        "library": " ".join(MPI.Get_library_version().split("\n", 1)[0].split()),
        "results": results,
    }
    if rank != 0:
        return None
    if options.worker:
        print(MARKER + json.dumps(record), flush=True)
    else:
        report(options, record)
    return record


def report(options: argparse.Namespace, record: dict[str, Any]) -> None:
    print(
        f"# mpi4numba io benchmark: {record['size']} processes write a {record['bytes'] / 2**20:.0f} MiB float64 "
        f"array, one block of rows each, into one file; {record['library']}"
    )
    print(f"# {options.repeat} rounds, alternating order; open + view + write + close, slowest process")
    rows = [
        [stack, f"{statistics.median(values):.2f} ({max(values):.2f})"] for stack, values in record["results"].items()
    ]
    rows[-1][0] = "numpy tofile (rank 0 alone)"
    print(markdown(["stack", "GB/s, median (best)"], rows), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), **record}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench io``."""
    options = parse(argv)
    if options.worker or under_mpi_launcher():
        worker(options)
        return 0
    command = [find_mpiexec(), "-n", str(options.np), sys.executable, "-m", "mpi4numba.bench", "io"]
    command += ["--megabytes", str(options.megabytes), "--repeat", str(options.repeat), "--worker"]
    if options.dir:
        command += ["--dir", options.dir]
    try:
        record = run_job(command, dict(os.environ), options.timeout)
    except RuntimeError as exc:
        print(f"mpi4numba.bench io: {exc}", file=sys.stderr)
        return 1
    report(options, record)
    return 0
