"""``strided``: send strided views between 2 ranks: faces of a 3-D grid, columns of a 2-D array.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench strided``), or without it: it
then starts that job itself (``-n 2``). ``--layouts`` chooses the layouts (default
``faces,columns``); the loops are timed inside ``@numba.njit``.

**faces**: the faces ``a[0]``, ``a[:, 0]``, ``a[:, :, 0]`` of an ``N x N x N`` float64 grid
(``--size``, default 256: 512 KiB faces), sent and received into the opposite face
(``a[-1]`` ...). **columns**: see below. Every layout is timed in the same patterns and
variants.

**columns** (issue 18). Column ``u[:, 1]`` of a C-ordered ``ROWS x WIDTH`` float64 array
(``--rows``, default 256, 1024, 4096, 8192; ``--width``, default 258) is sent and
received into ``u[:, -1]``. The patterns (``--patterns``): ``ping-pong`` (rank 0 sends,
rank 1 receives and sends back; µs per message is half a round trip), ``sendrecv``
(each rank sends its column to the other and receives one, one ``sendrecv`` per message)
and ``isend/irecv`` (the same exchange as ``irecv``, ``isend`` and ``waitall`` on
preallocated requests, as halo exchanges that overlap are written).
The variants, alternated within every round:

* ``datatype``, ``pack``, ``auto``: the column views passed to mpi4numba as they are,
  with ``mpi4numba.set_strided(mode)`` in force. A version without ``set_strided``
  always uses a derived datatype: only ``datatype`` is measured, and the output says so;
* ``njit copy``: what a user would write: the view copied into a preallocated
  contiguous buffer in njit code, sent, and the received buffer copied into the view;
* ``contiguous``: the same number of elements in contiguous arrays (the reference).

The time of a message is the slower rank's. Per layout it prints µs per message (median
over rounds, min in parentheses) and the two targets of issue 18: ``auto / min(pack,
datatype)`` (at most 1.1) and ``strided / contiguous`` (at most 1.5), where strided is
the view under ``auto`` (under ``datatype`` where there is no choice). ``--iterations``
is the number of messages per round for 8 KiB (a 1024-row column); other sizes are
scaled to the same bytes per round (at least 10 messages). Every variant's received
data is checked.
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
from ._table import markdown, ratio

LAYOUTS = ("faces", "columns")
PATTERNS = ("ping-pong", "sendrecv", "isend/irecv")
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
        description="Strided views sent between 2 ranks: faces of a 3-D grid and columns of a 2-D array "
        "(datatype, pack, auto, njit copy, contiguous).",
    )
    parser.add_argument("--layouts", default="faces,columns", help="faces, columns or both (default: both)")
    parser.add_argument("--size", type=int, default=256, help="faces: grid edge N (default 256: 512 KiB faces)")
    parser.add_argument(
        "--rows", default=",".join(map(str, ROWS)), help="columns: rows of the arrays (default 256,1024,4096,8192)"
    )
    parser.add_argument("--width", type=int, default=258, help="columns: columns of the arrays (default 258)")
    parser.add_argument(
        "--patterns",
        default=",".join(PATTERNS),
        help="columns: any of ping-pong, sendrecv, isend/irecv (comma-separated)",
    )
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


def _column_kernels() -> dict[str, Any]:
    """The timed loops, by pattern (``copy`` suffix: the hand-written copy); each
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
    def nonblocking(send, recv, n, rank):
        peer = 1 - rank
        requests = mpi.request_array(2)
        start = mpi.wtime()
        for _ in range(n):
            mpi.irecv(recv, peer, 0, request=requests[0:1])
            mpi.isend(send, peer, 0, request=requests[1:2])
            mpi.waitall(requests)
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

    @numba.njit
    def nonblocking_copy(send, recv, outgoing, incoming, n, rank):
        peer = 1 - rank
        requests = mpi.request_array(2)
        start = mpi.wtime()
        for _ in range(n):
            mpi.irecv(incoming, peer, 0, request=requests[0:1])
            outgoing[:] = send
            mpi.isend(outgoing, peer, 0, request=requests[1:2])
            mpi.waitall(requests)
            recv[:] = incoming
        return (mpi.wtime() - start) / n

    return {
        "ping-pong": ping_pong,
        "sendrecv": exchange,
        "isend/irecv": nonblocking,
        "ping-pong copy": ping_pong_copy,
        "sendrecv copy": exchange_copy,
        "isend/irecv copy": nonblocking_copy,
    }


def _column_variants(
    mpi: Any, kernels: dict[str, Any], pattern: str, send: np.ndarray, recv: np.ndarray, rank: int
) -> tuple[dict[str, Callable[[int], float]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per variant, a function of the message count that runs the loop (seconds per
    message, this rank), and the variant's send and receive buffers."""
    outgoing, incoming = np.empty(send.shape), np.empty(recv.shape)
    flat_send, flat_recv = np.random.default_rng(rank).random(send.size), np.empty(recv.size)
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


def _layouts(options: argparse.Namespace, rank: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, view sent, view received into)`` of every layout chosen."""
    layouts = []
    if "faces" in options.layouts:
        n = options.size
        grid = np.random.default_rng(rank).random((n, n, n))
        for face, first, last in (
            ("a[0]", grid[0], grid[-1]),
            ("a[:,0]", grid[:, 0], grid[:, -1]),
            ("a[:,:,0]", grid[:, :, 0], grid[:, :, -1]),
        ):
            layouts.append((f"{face} of {n}^3", first, last))
    if "columns" in options.layouts:
        for rows in options.rows:
            u = np.random.default_rng(rank).random((rows, options.width))
            layouts.append((f"u[:,1] {rows}x{options.width}", u[:, 1], u[:, -1]))
    return layouts


def _columns_job(options: argparse.Namespace, pair: Any) -> dict[str, dict[str, list[float]]]:
    """Time every layout, pattern and variant on the 2 ranks of ``pair``."""
    from mpi4py import MPI

    import mpi4numba as mpi

    rank = pair.Get_rank()
    kernels = _column_kernels()
    results: dict[str, dict[str, list[float]]] = {}
    for label, send, recv in _layouts(options, rank):
        n = max(10, round(options.iterations * 8192 / send.nbytes))
        for pattern in options.patterns:
            variants, buffers = _column_variants(mpi, kernels, pattern, send, recv, rank)
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
            for name in names:  # every variant delivers the other rank's view, on both ranks
                out, into = buffers[name]
                out[...] = (1000.0 * rank + np.arange(out.size)).reshape(out.shape)
                into[...] = -1.0
                pair.Barrier()
                variants[name](1)
                expected = (1000.0 * (1 - rank) + np.arange(into.size)).reshape(into.shape)
                assert np.array_equal(into, expected), f"{label} {pattern}, {name}: wrong data received"
            results[f"{label} {pattern}"] = row
    return results


def in_job(options: argparse.Namespace) -> dict[str, Any] | None:
    """Time the chosen layouts on ranks 0 and 1; rank 0 returns the results."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    if comm.Get_size() < 2:
        raise SystemExit("mpi4numba.bench strided: needs 2 processes (mpiexec -n 2)")
    results: dict[str, Any] = {}
    pair = comm.Split(0 if rank < 2 else MPI.UNDEFINED, rank)
    if rank < 2:
        results = _columns_job(options, pair)
        pair.Free()
    comm.Barrier()
    return results if rank == 0 else None


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f})"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "n/a" if numerator is None or denominator is None else ratio(numerator / denominator)


def column_table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table of the columns: µs per message of each variant and the two targets."""
    head = [
        "layout pattern",
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
    """Rank 0's output: a header and the table."""
    from mpi4py import MPI

    import mpi4numba as mpi

    library = MPI.Get_library_version().splitlines()[0].strip()
    level = mpi.thread_level()
    what = []
    if "faces" in options.layouts:
        what.append(f"faces of a {options.size}^3 float64 grid (received into the opposite face)")
    if "columns" in options.layouts:
        what.append(f"columns u[:,1] of C-ordered ROWSx{options.width} float64 arrays (received into u[:,-1])")
    print(f"# mpi4numba strided benchmark: {'; '.join(what)}, 2 ranks, MPI thread level {level}, {library}")
    print(
        f"# µs per message (ping-pong: half a round trip; sendrecv: one call), slower rank, median over "
        f"{options.repeat} rounds (min), variants alternated within each round; "
        f"{options.iterations} messages per round for 8 KiB, the same bytes for other sizes"
    )
    if _strategies.available(mpi):
        mode = _strategies.current(mpi)
        print(f"# strided modes set by mpi4numba.set_strided; the mode in force outside the bench: {mode}")
    else:
        print(f"# {_strategies.MISSING}")
    print(
        "# njit copy: the view copied into a preallocated contiguous buffer, sent, copied back; "
        "contiguous: the same number of elements in contiguous arrays; strided = auto (datatype without a choice)"
    )
    print(column_table(results), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench strided``."""
    options = parse(argv)
    if not under_mpi_launcher():
        command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4numba.bench", "strided", *(argv or [])]
        return subprocess.run(command, env=dict(os.environ)).returncode
    results = in_job(options)
    if results is not None:
        _report(options, results)
    return 0
