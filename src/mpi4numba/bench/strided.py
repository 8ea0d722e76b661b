"""``strided``: send strided views between 2 ranks: faces of a 3-D grid, columns of a 2-D array.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench strided``), or without it: it
then starts that job itself (``-n 2``, NRT statistics on). ``--layouts`` chooses the
tables (default ``faces,columns``); both time loops inside ``@numba.njit``.

**faces.** For each face of an ``N x N x N`` grid (``a[0]``, ``a[:, 0]``, ``a[:, :, 0]``):

* zero-copy: the face view itself, described to MPI by a cached derived datatype;
* copy: ``np.ascontiguousarray(face)`` is sent, and a received face goes into a new
  contiguous array that is then copied into the grid.

Three directions are timed: ``send`` (rank 0 sends the face, rank 1 receives into a
contiguous array), ``receive`` (rank 1 sends a contiguous array, rank 0 receives into the
face) and ``ping-pong`` (the face goes back and forth). It prints µs per message (median
over rounds, min in parentheses), the ratio copy / zero-copy (above 1: zero-copy is
faster), and heap allocations per message counted by Numba's NRT statistics.

**columns** (issue 18). Column ``u[:, 1]`` of a C-ordered ``ROWS x WIDTH`` float64 array
(``--rows``, default 256, 1024, 4096, 8192; ``--width``, default 258) is sent and
received into ``u[:, -1]``, in two patterns (``--patterns``): ``ping-pong`` (rank 0 sends,
rank 1 receives and sends back; µs per message is half a round trip) and ``sendrecv``
(each rank sends its column to the other and receives one, one ``sendrecv`` per message).
The variants, alternated within every round:

* ``datatype``, ``pack``, ``auto``: the column views passed to mpi4numba as they are,
  with ``mpi4numba.set_strided(mode)`` in force. A version without ``set_strided``
  always uses a derived datatype: only ``datatype`` is measured, and the output says so;
* ``njit copy``: what a user would write: the column copied into a preallocated
  contiguous buffer in njit code, sent, and the received buffer copied into the column;
* ``contiguous``: the same number of elements in contiguous arrays (the reference).

The time of a message is the slower rank's. Per layout it prints µs per message (median
over rounds, min in parentheses) and the two targets of issue 18: ``auto / min(pack,
datatype)`` (at most 1.1) and ``strided / contiguous`` (at most 1.5), where strided is
the view under ``auto`` (under ``datatype`` where there is no choice). ``--iterations``
is the number of messages per round for a 1024-row column; other lengths are scaled to
the same bytes per round (at least 10 messages).
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

from . import _strategies
from ._launch import find_mpiexec, under_mpi_launcher
from ._mpi_setup import LEVEL_NAMES
from ._table import markdown

FACES = ("a[0]", "a[:,0]", "a[:,:,0]")
DIRECTIONS = ("send", "receive", "ping-pong")
VARIANTS = ("zero-copy", "copy")
LAYOUTS = ("faces", "columns")
PATTERNS = ("ping-pong", "sendrecv")
ROWS = (256, 1024, 4096, 8192)
COLUMN_VARIANTS = (*_strategies.MODES, "njit copy", "contiguous")
AUTO_TARGET, CONTIGUOUS_TARGET = 1.1, 1.5  # issue 18


def _names(text: str, known: tuple[str, ...], option: str, parser: argparse.ArgumentParser) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f"{option}: choose among {', '.join(known)} (got {text!r})")
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``strided``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench strided",
        description="Strided views sent between 2 ranks: faces of a 3-D grid (derived datatype vs "
        "np.ascontiguousarray) and columns of a 2-D array (datatype, pack, auto, njit copy, contiguous).",
    )
    parser.add_argument("--layouts", default="faces,columns", help="faces, columns or both (default: both)")
    parser.add_argument("--size", type=int, default=256, help="faces: grid edge N (default 256: 512 KiB faces)")
    parser.add_argument(
        "--rows", default=",".join(map(str, ROWS)), help="columns: rows of the arrays (default 256,1024,4096,8192)"
    )
    parser.add_argument("--width", type=int, default=258, help="columns: columns of the arrays (default 258)")
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="columns: ping-pong, sendrecv or both")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=100,
        help="messages per round (default 100; columns: for 1024 rows, scaled to the same bytes for others)",
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed messages first (default 5)")
    options = parser.parse_args(argv)
    options.layouts = _names(options.layouts, LAYOUTS, "--layouts", parser)
    options.patterns = _names(options.patterns, PATTERNS, "--patterns", parser)
    try:
        options.rows = tuple(int(text) for text in options.rows.split(","))
    except ValueError:
        parser.error(f"--rows must be comma-separated integers (got {options.rows!r})")
    for name, least in (("size", 1), ("width", 3), ("repeat", 1), ("iterations", 1), ("warmup", 0)):
        if getattr(options, name) < least:
            parser.error(f"--{name} must be at least {least}")
    if min(options.rows) < 1:
        parser.error("--rows must be at least 1")
    return options


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


def _column_kernels() -> dict[str, Any]:
    """The timed column loops, by pattern (``copy`` suffix: the hand-written copy); each
    returns this rank's seconds per message."""
    import numba

    import mpi4numba as mpi

    @numba.njit
    def ping_pong(send, recv, n, rank):  # the views themselves, or contiguous arrays
        peer = 1 - rank
        start = mpi.wtime()
        for _ in range(n):
            if rank == 0:
                mpi.send(send, peer, 0)
                mpi.recv(recv, peer, 0)
            else:
                mpi.recv(recv, peer, 0)
                mpi.send(send, peer, 0)
        return (mpi.wtime() - start) / (2 * n)  # per message: half a round trip

    @numba.njit
    def exchange(send, recv, n, rank):
        peer = 1 - rank
        start = mpi.wtime()
        for _ in range(n):
            mpi.sendrecv(send, peer, recv, peer, 0, 0)
        return (mpi.wtime() - start) / n

    @numba.njit
    def ping_pong_copy(send, recv, outgoing, incoming, n, rank):  # as a user would write it
        peer = 1 - rank
        start = mpi.wtime()
        for _ in range(n):
            if rank == 0:
                outgoing[:] = send
                mpi.send(outgoing, peer, 0)
                mpi.recv(incoming, peer, 0)
                recv[:] = incoming
            else:
                mpi.recv(incoming, peer, 0)
                recv[:] = incoming
                outgoing[:] = send
                mpi.send(outgoing, peer, 0)
        return (mpi.wtime() - start) / (2 * n)

    @numba.njit
    def exchange_copy(send, recv, outgoing, incoming, n, rank):
        peer = 1 - rank
        start = mpi.wtime()
        for _ in range(n):
            outgoing[:] = send
            mpi.sendrecv(outgoing, peer, incoming, peer, 0, 0)
            recv[:] = incoming
        return (mpi.wtime() - start) / n

    return {
        "ping-pong": ping_pong,
        "sendrecv": exchange,
        "ping-pong copy": ping_pong_copy,
        "sendrecv copy": exchange_copy,
    }


def _column_variants(
    mpi: Any, kernels: dict[str, Any], pattern: str, rows: int, width: int, rank: int
) -> tuple[dict[str, Callable[[int], float]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per variant, a function of the message count that runs the loop (seconds per
    message, this rank), and the variant's send and receive buffers."""
    u = np.random.default_rng(rank).random((rows, width))
    send, recv = u[:, 1], u[:, -1]
    outgoing, incoming = np.empty(rows), np.empty(rows)
    flat_send, flat_recv = np.random.default_rng(rank).random(rows), np.empty(rows)
    view, copy = kernels[pattern], kernels[f"{pattern} copy"]
    variants: dict[str, Callable[[int], float]] = {}

    def by_view(mode: str | None, a: np.ndarray, b: np.ndarray) -> Callable:
        def run(n: int) -> float:
            with _strategies.using(mpi, mode):
                return view(a, b, n, rank)

        return run

    def by_copy(n: int) -> float:
        return copy(send, recv, outgoing, incoming, n, rank)

    for mode in _strategies.modes(mpi):
        variants[mode] = by_view(mode, send, recv)
    variants["njit copy"] = by_copy
    variants["contiguous"] = by_view(None, flat_send, flat_recv)
    buffers = dict.fromkeys(variants, (send, recv))
    buffers["contiguous"] = (flat_send, flat_recv)
    return variants, buffers


def _columns_job(options: argparse.Namespace, pair: Any) -> dict[str, dict[str, list[float]]]:
    """Time every column layout, pattern and variant on the 2 ranks of ``pair``."""
    from mpi4py import MPI

    import mpi4numba as mpi

    rank = pair.Get_rank()
    kernels = _column_kernels()
    results: dict[str, dict[str, list[float]]] = {}
    for rows in options.rows:
        n = max(10, round(options.iterations * 1024 / rows))
        for pattern in options.patterns:
            variants, buffers = _column_variants(mpi, kernels, pattern, rows, options.width, rank)
            names = list(variants)
            for name in names:  # compile, build the cached types
                pair.Barrier()
                variants[name](max(1, options.warmup))
            row: dict[str, list[float]] = {name: [] for name in names}
            for round_ in range(options.repeat):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    pair.Barrier()
                    seconds = variants[name](n)
                    row[name].append(1e6 * pair.allreduce(seconds, op=MPI.MAX))
            for name in names:  # every variant delivers the other rank's column, on both ranks
                send, recv = buffers[name]
                send[:] = 1000.0 * rank + np.arange(rows)
                recv[:] = -1.0
                pair.Barrier()
                variants[name](1)
                expected = 1000.0 * (1 - rank) + np.arange(rows)
                assert np.array_equal(recv, expected), f"{rows} rows {pattern}, {name}: wrong data received"
            results[f"u[:,1] {rows}x{options.width} {pattern}"] = row
    return results


def in_job(options: argparse.Namespace) -> dict[str, Any] | None:
    """Time the chosen layouts on ranks 0 and 1; rank 0 returns the results."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    if comm.Get_size() < 2:
        raise SystemExit("mpi4numba.bench strided: needs 2 processes (mpiexec -n 2)")
    results: dict[str, Any] = {}
    if "faces" in options.layouts:
        results["faces"] = _faces_job(options, comm)
    if "columns" in options.layouts:
        pair = comm.Split(0 if rank < 2 else MPI.UNDEFINED, rank)
        if rank < 2:
            results["columns"] = _columns_job(options, pair)
            pair.Free()
        comm.Barrier()
    return results if rank == 0 else None


def _faces_job(options: argparse.Namespace, comm: Any) -> dict[str, dict[str, Any]]:
    """Time every face, direction and variant on ranks 0 and 1."""
    rank = comm.Get_rank()
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
    return results


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


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "n/a" if numerator is None or denominator is None else f"{numerator / denominator:.2f}"


def column_table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table of the columns: µs per message of each variant and the two targets."""
    head = [
        "column pattern",
        *(f"{variant} µs" for variant in COLUMN_VARIANTS),
        f"auto/min(pack,datatype) (≤ {AUTO_TARGET})",
        f"strided/contiguous (≤ {CONTIGUOUS_TARGET})",
    ]
    rows = []
    for label, r in results.items():
        median = {variant: statistics.median(r[variant]) if variant in r else None for variant in COLUMN_VARIANTS}
        fastest = None if median["pack"] is None else min(median["pack"], median["datatype"])  # type: ignore[type-var]
        strided = median["auto"] if median["auto"] is not None else median["datatype"]
        cells = [_cell(r[variant]) if variant in r else "n/a" for variant in COLUMN_VARIANTS]
        rows.append([label, *cells, _ratio(median["auto"], fastest), _ratio(strided, median["contiguous"])])
    return markdown(head, rows)


def _report(options: argparse.Namespace, results: dict[str, Any]) -> None:
    """Rank 0's output: a header and a table for each layout measured."""
    from mpi4py import MPI

    import mpi4numba as mpi

    library = MPI.Get_library_version().splitlines()[0].strip()
    level = LEVEL_NAMES[mpi.query_thread()]
    if "faces" in results:
        edge = options.size
        print(
            f"# mpi4numba strided benchmark: faces of a {edge}x{edge}x{edge} float64 grid "
            f"({edge * edge * 8 // 1024} KiB each), 2 ranks, MPI thread level {level}, {library}"
        )
        print(
            f"# µs per message (ping-pong: half a round trip), median over {options.repeat} rounds of "
            f"{options.iterations} messages (min); allocations per message from NRT statistics (rank 0)"
        )
        print(table(results["faces"]), flush=True)
    if "columns" in results:
        if "faces" in results:
            print()
        print(
            f"# mpi4numba strided benchmark: column u[:,1] of C-ordered ROWSx{options.width} float64 arrays, "
            f"received into u[:,-1], 2 ranks, MPI thread level {level}, {library}"
        )
        print(
            f"# µs per message (ping-pong: half a round trip; sendrecv: one call), slower rank, median over "
            f"{options.repeat} rounds (min), variants alternated within each round; "
            f"{options.iterations} messages per round for 1024 rows, the same bytes for other lengths"
        )
        if _strategies.available(mpi):
            mode = _strategies.current(mpi)
            print(f"# strided modes set by mpi4numba.set_strided; the mode in force outside the bench: {mode}")
        else:
            print(f"# {_strategies.MISSING}")
        print(
            "# njit copy: column copied into a preallocated contiguous buffer, sent, copied back; "
            "contiguous: the same number of elements in contiguous arrays; strided = auto (datatype without a choice)"
        )
        print(column_table(results["columns"]), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench strided``."""
    options = parse(argv)
    if not under_mpi_launcher():
        command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4numba.bench", "strided", *(argv or [])]
        env = {**os.environ, "NUMBA_NRT_STATS": os.environ.get("NUMBA_NRT_STATS", "1")}
        return subprocess.run(command, env=env).returncode
    results = in_job(options)
    if results is not None:
        _report(options, results)
    return 0
