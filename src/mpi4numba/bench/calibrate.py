"""``calibrate``: measure, for this MPI library, when packing a strided array beats a datatype.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench calibrate``), or without it:
it then starts that job itself (``-n 2``). Place the two processes as the application's
neighbours will be (one node, or two) for a table that fits it.

For each cell of ``auto``'s table (see :func:`mpi4numba.datatypes.strided_settings`), a
``sendrecv`` between the two ranks of ``u[:, 1:1 + B]``, a view of a C-ordered float64
array whose contiguous runs are ``B`` elements (8 bytes to 4 KiB) and which holds about
``512 * 2**t`` bytes (512 bytes to ``--max-bytes``; larger sizes take the last measured
column), and again 1.5 times that size (MPI libraries switch protocols at powers of two),
timed with ``set_strided("pack")`` and ``set_strided("datatype")`` alternately,
``--repeat`` rounds. A cell packs ("P") where packing took less than ``--margin`` times
the datatype's time (the best round of each, the slower rank's). Prints the table, the time
ratios, and with ``--save`` writes the table where mpi4numba reads it at start-up for this
MPI library (``$MPI4NUMBA_STRIDED_TABLE``, else ``~/.cache/mpi4numba/``), overriding the
built-in one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ._launch import find_mpiexec, under_mpi_launcher
from ._mpi_setup import thread_level


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``calibrate``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench calibrate",
        description="measure when packing strided arrays beats derived datatypes on this MPI (2 ranks)",
    )
    parser.add_argument("--max-bytes", type=int, default=4 << 20, help="largest array measured (default 4 MiB)")
    parser.add_argument("--max-run", type=int, default=4096, help="longest contiguous run measured, bytes")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per cell (default 5)")
    parser.add_argument("--margin", type=float, default=0.95, help="pack where pack < MARGIN x datatype")
    parser.add_argument("--save", action="store_true", help="write the table for mpi4numba to use from now on")
    options = parser.parse_args(argv)
    if options.max_bytes < 1024 or options.max_run < 8 or options.repeat < 1 or not 0 < options.margin <= 2:
        parser.error("--max-bytes >= 1024, --max-run >= 8, --repeat >= 1, 0 < --margin <= 2")
    return options


def _kernel():
    import numba

    import mpi4numba as mpi

    @numba.njit
    def exchange(outgoing, incoming, right, left, messages):
        code = 0
        for _ in range(messages):
            code |= mpi.sendrecv(outgoing, right, incoming, left)
        return code

    return exchange


def _cell(exchange, comm, run_elements: int, total: int, repeat: int) -> dict[str, float] | None:
    """Seconds per sendrecv of each mode for one cell, the best round's (other work on the
    machine only adds time; None: no strided layout)."""
    import mpi4numba as mpi

    rows = total // (8 * run_elements)
    if rows < 2:
        return None
    width = 2 * run_elements + 1
    rank, size = comm.Get_rank(), comm.Get_size()
    right, left = (rank + 1) % size, (rank - 1) % size
    source = np.random.default_rng(rank).random((rows, width))
    target = np.zeros_like(source)
    outgoing, incoming = source[:, 1 : 1 + run_elements], target[:, 1 : 1 + run_elements]
    messages = int(min(200, max(3, 2_000_000 // total)))
    times: dict[str, list[float]] = {"pack": [], "datatype": []}
    for mode in times:
        mpi.set_strided(mode)
        exchange(outgoing, incoming, right, left, 1)  # warm: scratch grown, type cached
    for round_ in range(repeat):
        for mode in ("pack", "datatype") if round_ % 2 == 0 else ("datatype", "pack"):
            mpi.set_strided(mode)
            comm.Barrier()
            start = time.perf_counter()
            if exchange(outgoing, incoming, right, left, messages) != 0:
                raise RuntimeError("mpi4numba: sendrecv failed during calibration")
            times[mode].append(comm.allreduce(time.perf_counter() - start, op=max_op()) / messages)
    expected = np.random.default_rng(left).random((rows, width))[:, 1 : 1 + run_elements]
    if not np.array_equal(incoming, expected):
        raise RuntimeError("mpi4numba: calibration received wrong data")
    return {mode: min(values) for mode, values in times.items()}


def max_op():
    from mpi4py import MPI

    return MPI.MAX


def measure(options: argparse.Namespace) -> dict:
    """The table and the ratios datatype / pack per cell (in the job, every rank)."""
    from mpi4py import MPI

    import mpi4numba as mpi
    from mpi4numba.datatypes import strided_settings

    comm = MPI.COMM_WORLD
    exchange = _kernel()
    previous = mpi.strided()
    rows, ratios = [], {"edge": [], "inside": []}
    cells = {(True, True): "P", (False, False): ".", (False, True): "p", (True, False): "d"}
    runs, sizes = len(strided_settings()["table"]), len(strided_settings()["table"][0])
    try:
        for run_bucket in range(runs):
            run_elements = 1 << run_bucket  # float64: 8 bytes << run_bucket
            row, last = "", "."
            measured: dict[str, list[float | None]] = {"edge": [], "inside": []}
            for size_bucket in range(sizes):
                total = 512 << size_bucket
                if 8 * run_elements > options.max_run or total > options.max_bytes:
                    row += last if 8 * run_elements <= options.max_run else "."
                    for where in measured:
                        measured[where].append(None)
                    continue
                packs = {}
                for where, nbytes in (("edge", total), ("inside", total * 3 // 2)):
                    cell = _cell(exchange, comm, run_elements, nbytes, options.repeat)
                    packs[where] = cell is not None and cell["pack"] < options.margin * cell["datatype"]
                    measured[where].append(None if cell is None else round(cell["datatype"] / cell["pack"], 2))
                last = cells[packs["inside"], packs["edge"]]
                row += last
            rows.append(row)
            for where in ratios:
                ratios[where].append(measured[where])
    finally:
        mpi.set_strided(previous)
    return {
        "library": MPI.Get_library_version().splitlines()[0].strip(),
        "processes": comm.Get_size(),
        "thread_level": thread_level(MPI),
        "table": rows,
        "ratios": ratios,
        "measured": datetime.date.today().isoformat(),
        "command": "python -m mpi4numba.bench calibrate " + " ".join(sys.argv[2:]),
    }


def report(result: dict) -> str:
    """The table and the ratios, as text."""
    sizes = [f"{(512 << t) // 1024}K" if 512 << t >= 1024 else "512" for t in range(len(result["table"][0]))]
    header = "run\\size " + " ".join(f"{s:>6}" for s in sizes)
    lines = [
        f"# {result['library']}, {result['processes']} processes, thread level {result['thread_level']}",
        "# auto's table: a row per contiguous run (bytes), a column per array size (up to the next power of two);",
        "# P: pack, .: datatype, p: pack exactly at the power of two only, d: pack all but exactly the power of two",
        header,
    ]
    for bucket, row in enumerate(result["table"]):
        lines.append(f"{8 << bucket:>8} " + " ".join(f"{c:>6}" for c in row))
    for where, title in (("edge", "exactly the power of two"), ("inside", "1.5 x the power of two")):
        lines += [f"# time with a datatype / time packed, arrays of {title} bytes (above 1: packing is faster)", header]
        for bucket, ratio_row in enumerate(result["ratios"][where]):
            lines.append(
                f"{8 << bucket:>8} " + " ".join(f"{'' if r is None else format(r, '.1f'):>6}" for r in ratio_row)
            )
    lines.append("table = [" + ", ".join(f'"{row}"' for row in result["table"]) + "]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench calibrate``."""
    options = parse(argv)
    if not under_mpi_launcher():
        command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4numba.bench", "calibrate", *(argv or [])]
        return subprocess.run(command, env=dict(os.environ)).returncode
    from mpi4py import MPI

    result = measure(options)
    if MPI.COMM_WORLD.Get_rank() == 0:
        print(report(result), flush=True)
        if options.save:
            from mpi4numba.datatypes import strided_table_file

            path = strided_table_file()
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as file:
                json.dump(result, file, indent=1)
            print(f"# saved: {path} (mpi4numba's auto mode uses it for {result['library']})")
    return 0
