"""``strided``: send one face of a cubic float64 grid, zero-copy vs copying, between 2 ranks.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench strided``), or without it: it
then starts that job itself (``-n 2``, NRT statistics on). For each face of an
``N x N x N`` grid (``a[0]``, ``a[:, 0]``, ``a[:, :, 0]``), inside ``@numba.njit``:

* zero-copy: the face view itself, described to MPI by a cached derived datatype;
* copy: ``np.ascontiguousarray(face)`` is sent, and a received face goes into a new
  contiguous array that is then copied into the grid.

Three directions are timed: ``send`` (rank 0 sends the face, rank 1 receives into a
contiguous array), ``receive`` (rank 1 sends a contiguous array, rank 0 receives into the
face) and ``ping-pong`` (the face goes back and forth). It prints µs per message (median
over rounds, min in parentheses), the ratio copy / zero-copy (above 1: zero-copy is
faster), and heap allocations per message counted by Numba's NRT statistics.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._launch import find_mpiexec, under_mpi_launcher
from ._table import markdown

FACES = ("a[0]", "a[:,0]", "a[:,:,0]")
DIRECTIONS = ("send", "receive", "ping-pong")
VARIANTS = ("zero-copy", "copy")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``strided``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench strided",
        description="Ping-pong of grid faces: derived datatypes (zero-copy) vs np.ascontiguousarray + send.",
    )
    parser.add_argument("--size", type=int, default=256, help="grid edge N (default 256: 512 KiB faces)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--iterations", type=int, default=100, help="round trips per round (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed round trips first (default 5)")
    return parser.parse_args(argv)


def _kernels() -> dict[tuple[str, str], Callable]:
    """The timed loops, by (direction, variant); each returns rank-local elapsed seconds."""
    import numba

    import mpi4numba as mpi

    @numba.njit
    def put_face(face, zero_copy, peer):  # send the face
        if zero_copy:
            mpi.send(face, peer, 0)
        else:
            mpi.send(np.ascontiguousarray(face), peer, 0)

    @numba.njit
    def take_face(face, zero_copy, peer):  # receive into the face
        if zero_copy:
            mpi.recv(face, peer, 0)
        else:
            incoming = np.empty(face.shape)
            mpi.recv(incoming, peer, 0)
            face[...] = incoming

    def one_way(face_step, contiguous_step):  # rank 0 moves the face, rank 1 the contiguous array
        @numba.njit  # the steps are compile-time constants: direct calls, as if written here
        def loop(face, contiguous, n, rank, zero_copy):
            start = mpi.wtime()
            for _ in range(n):
                if rank == 0:
                    face_step(face, zero_copy, 1)
                else:
                    contiguous_step(contiguous, 0, 0)
            mpi.barrier()
            return mpi.wtime() - start

        return loop

    @numba.njit
    def ping_pong(face, contiguous, n, rank, zero_copy):
        peer = 1 - rank
        start = mpi.wtime()
        for _ in range(n):
            if rank == 0:
                put_face(face, zero_copy, peer)
                take_face(face, zero_copy, peer)
            else:
                take_face(face, zero_copy, peer)
                put_face(face, zero_copy, peer)
        return (mpi.wtime() - start) / 2  # per message: half a round trip

    loops = {"send": one_way(put_face, mpi.recv), "receive": one_way(take_face, mpi.send), "ping-pong": ping_pong}
    return {
        (direction, variant): (
            lambda face, contiguous, n, rank, loop=loop, zero=variant == "zero-copy": loop(
                face, contiguous, n, rank, zero
            )
        )
        for direction, loop in loops.items()
        for variant in VARIANTS
    }


def _faces(grid: np.ndarray) -> dict[str, np.ndarray]:
    return {"a[0]": grid[0], "a[:,0]": grid[:, 0], "a[:,:,0]": grid[:, :, 0]}


def _allocations(kernel: Callable, face: np.ndarray, contiguous: np.ndarray, rank: int, n: int) -> float | None:
    """Heap allocations per message on this rank: the difference between n and 2n messages."""
    import numba
    from numba.core.runtime import rtsys

    if not numba.config.NRT_STATS:
        return None
    counts = []
    for steps in (n, 2 * n):
        before = rtsys.get_allocation_stats().alloc
        kernel(face, contiguous, steps, rank)
        counts.append(rtsys.get_allocation_stats().alloc - before)
    return (counts[1] - counts[0]) / n


def in_job(options: argparse.Namespace) -> dict[str, Any] | None:
    """Time every face, direction and variant on ranks 0 and 1; rank 0 returns the results."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    if comm.Get_size() < 2:
        raise SystemExit("mpi4numba.bench strided: needs 2 processes (mpiexec -n 2)")
    kernels = _kernels()
    grid = np.random.default_rng(rank).random((options.size,) * 3)
    contiguous = np.random.default_rng(rank).random(options.size * options.size)
    results: dict[str, dict[str, Any]] = {}
    if rank < 2:
        for face_name, face in _faces(grid).items():
            for direction in DIRECTIONS:
                row: dict[str, Any] = {variant: [] for variant in VARIANTS}
                for variant in VARIANTS:  # compile, build the cached type
                    kernels[direction, variant](face, contiguous, options.warmup, rank)
                for round_ in range(options.repeat):
                    order = VARIANTS if round_ % 2 == 0 else VARIANTS[::-1]
                    for variant in order:
                        elapsed = kernels[direction, variant](face, contiguous, options.iterations, rank)
                        row[variant].append(1e6 * elapsed / options.iterations)
                for variant in VARIANTS:
                    allocs = _allocations(kernels[direction, variant], face, contiguous, rank, 10)
                    row[variant + " allocs"] = allocs
                results[f"{face_name} {direction}"] = row
            contiguous[:] = np.arange(contiguous.size)
            kernels["receive", "zero-copy"](face, contiguous, 1, rank)
            if rank == 0:  # the face holds rank 1's contiguous array, element for element
                assert np.array_equal(face.reshape(-1), contiguous), f"{face_name}: wrong data received"
    comm.Barrier()
    return results if rank == 0 else None


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f})"


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table: µs per message for both variants, ratio, allocations per message."""
    head = ["face direction", "zero-copy µs", "copy µs", "copy/zero-copy", "allocs/msg zero-copy", "allocs/msg copy"]
    rows = []
    for face in (f"{face} {direction}" for face in FACES for direction in DIRECTIONS):
        r = results[face]
        ratio = statistics.median(r["copy"]) / statistics.median(r["zero-copy"])
        allocs = ["n/a" if r[v + " allocs"] is None else f"{r[v + ' allocs']:g}" for v in VARIANTS]
        rows.append([face, _cell(r["zero-copy"]), _cell(r["copy"]), f"{ratio:.2f}", *allocs])
    return markdown(head, rows)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench strided``."""
    options = parse(argv)
    if not under_mpi_launcher():
        command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4numba.bench", "strided", *(argv or [])]
        env = {**os.environ, "NUMBA_NRT_STATS": os.environ.get("NUMBA_NRT_STATS", "1")}
        return subprocess.run(command, env=env).returncode
    results = in_job(options)
    if results is not None:
        from mpi4py import MPI

        edge = options.size
        print(
            f"# mpi4numba strided benchmark: faces of a {edge}x{edge}x{edge} float64 grid "
            f"({edge * edge * 8 // 1024} KiB each), 2 ranks, {MPI.Get_library_version().splitlines()[0].strip()}"
        )
        print(
            f"# µs per message (ping-pong: half a round trip), median over {options.repeat} rounds of "
            f"{options.iterations} messages (min); allocations per message from NRT statistics (rank 0)"
        )
        print(table(results), flush=True)
    return 0
