"""``halo``: a 2-D Jacobi stencil with column halos: mpi4numba, numba-mpi and mpi4py side by side.

Run under mpiexec (``mpiexec -n 2 python -m mpi4numba.bench halo``), or without it: it then
starts that job itself (``-n 2``). Any number of processes works.

The domain is split by columns: each rank holds a C-ordered ``ROWS x (COLS + 2)`` float64
array whose first and last columns are halos (``--sizes``, per rank, default ``1024x256``
and ``256x16``). The columns are periodic (the ranks form a ring: rank 0's left
neighbour is the last rank); the first and last rows are fixed (Dirichlet). A step is
two ``sendrecv``: the last interior column to the right neighbour while the left halo
comes from the left one, then the first interior column to the left while the right halo
comes from the right; then the 5-point Jacobi update of the interior into the second
array, and the two arrays swap. The stencil is one ``@numba.njit`` function, the same for
every implementation:

* ``mpi4numba``: the step loop inside ``@numba.njit``, the halo column views ``u[:, 1]``,
  ``u[:, -2]``, ``u[:, 0]``, ``u[:, -1]`` passed to ``mpi4numba.sendrecv`` as they are
  (zero-copy), under the strided mode in force; where ``mpi4numba.set_strided`` exists,
  also under each mode (``datatype``, ``pack``, ``auto``); without it only the derived
  datatype exists, and the output says so;
* ``numba-mpi``: the same loop calling ``numba_mpi.sendrecv`` with the same views (it
  copies strided arrays into temporary contiguous ones); skipped, with a message, when
  numba-mpi is not installed or cannot load (it finds no library in Intel MPI's wheel);
* ``mpi4py``: the step loop in Python: each halo column copied into a preallocated
  contiguous buffer, ``comm.Sendrecv`` between contiguous buffers, the received one
  copied into the halo, then the njit stencil;
* ``stencil only``: the njit update without any exchange (a reference: the compute part
  of a step).

Every implementation runs ``--steps`` steps per round, in an order that rotates from
round to round, over ``--repeat`` rounds (after ``--warmup`` steps, which compile). The
time of a round is the slowest rank's; the table gives µs per step (median over rounds,
min in parentheses) and the ratio to numba-mpi and to mpi4py (below 1: faster). Each
implementation evolves its own copy of the same initial field; at the end the fields of
the implementations that exchange halos must be equal: the largest absolute difference
is printed and the exit status is 1 if it is not 0.
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

SIZES = ((1024, 256), (256, 16))
REFERENCE = "stencil only (no exchange)"


def _sizes(text: str, parser: argparse.ArgumentParser) -> tuple[tuple[int, int], ...]:
    sizes = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            rows, cols = (int(value) for value in item.lower().split("x"))
        except ValueError:
            parser.error(f"--sizes: ROWSxCOLS, comma-separated (got {item!r})")
        if rows < 3 or cols < 1:
            parser.error(f"--sizes: at least 3 rows and 1 column per rank (got {item!r})")
        sizes.append((rows, cols))
    if not sizes:
        parser.error("--sizes: at least one ROWSxCOLS")
    return tuple(sizes)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``halo``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench halo",
        description="2-D Jacobi stencil with column halos exchanged by sendrecv: mpi4numba (views, inside "
        "njit), numba-mpi (inside njit) and mpi4py (Python loop, contiguous copies), per step.",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(f"{rows}x{cols}" for rows, cols in SIZES),
        help="ROWSxCOLS per rank, comma-separated (default 1024x256,256x16): ROWS x (COLS+2) arrays",
    )
    parser.add_argument("--steps", type=int, default=200, help="steps per implementation and round (default 200)")
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    parser.add_argument("--warmup", type=int, default=4, help="untimed steps first, which compile (default 4)")
    options = parser.parse_args(argv)
    options.sizes = _sizes(options.sizes, parser)
    for name in ("steps", "repeat", "warmup"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return options


def _kernels() -> dict[str, Any]:
    """The stencil and the njit step loops; each loop returns its MPI status codes or-ed."""
    import numba

    import mpi4numba as mpi

    @numba.njit
    def stencil(u, v):  # 5-point Jacobi update of the interior of u into v
        rows, width = u.shape
        for i in range(1, rows - 1):
            for j in range(1, width - 1):
                v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])

    def steps_with(library):  # the same loop for mpi4numba and numba-mpi: their sendrecv
        @numba.njit
        def exchange_and_update(u, v, steps, left, right):
            cols = u.shape[1] - 2
            status = 0
            for _ in range(steps):
                status |= library.sendrecv(u[:, cols], right, u[:, 0], left, 0, 0)
                status |= library.sendrecv(u[:, 1], left, u[:, cols + 1], right, 1, 1)
                stencil(u, v)
                u, v = v, u
            return status

        return exchange_and_update

    @numba.njit
    def compute_only(u, v, steps, left, right):
        for _ in range(steps):
            stencil(u, v)
            u, v = v, u
        return 0

    kernels = {"stencil": stencil, "mpi4numba": steps_with(mpi), "compute": compute_only}
    try:
        import numba_mpi
    except (ImportError, RuntimeError):  # not installed, or finds no libmpi (Intel MPI's wheel)
        numba_mpi = None
    if numba_mpi is not None:
        kernels["numba-mpi"] = steps_with(numba_mpi)
    return kernels


def _mpi4py_loop(comm: Any, stencil: Callable) -> Callable:
    """The step loop as an mpi4py user writes it: halos through preallocated contiguous buffers."""
    buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def with_mpi4py(u: np.ndarray, v: np.ndarray, steps: int, left: int, right: int) -> int:
        rows, cols = u.shape[0], u.shape[1] - 2
        if rows not in buffers:
            buffers[rows] = tuple(np.empty(rows) for _ in range(4))
        to_right, from_left, to_left, from_right = buffers[rows]
        for _ in range(steps):
            to_right[:] = u[:, cols]
            comm.Sendrecv(to_right, right, 0, from_left, left, 0)
            u[:, 0] = from_left
            to_left[:] = u[:, 1]
            comm.Sendrecv(to_left, left, 1, from_right, right, 1)
            u[:, cols + 1] = from_right
            stencil(u, v)
            u, v = v, u
        return 0

    return with_mpi4py


class _Field:
    """One implementation's pair of arrays; ``current`` holds the latest step."""

    def __init__(self, initial: np.ndarray) -> None:
        self.current, self.other = initial.copy(), initial.copy()

    def advance(self, loop: Callable, steps: int, left: int, right: int) -> int:
        status = loop(self.current, self.other, steps, left, right)
        if steps % 2:  # the loop swapped its arrays an odd number of times
            self.current, self.other = self.other, self.current
        return int(status)


def _implementations(mpi: Any, comm: Any, kernels: dict[str, Any]) -> dict[str, tuple[Callable, str | None]]:
    """Label -> (step loop, strided mode to set or None), in table order."""
    in_force = _strategies.current(mpi)
    chosen: dict[str, tuple[Callable, str | None]] = {}
    if _strategies.available(mpi):
        chosen[f"mpi4numba ({in_force}, in force)"] = (kernels["mpi4numba"], None)
        for mode in _strategies.MODES:
            if mode != in_force:
                chosen[f"mpi4numba ({mode})"] = (kernels["mpi4numba"], mode)
    else:
        chosen["mpi4numba (datatype, the only strategy)"] = (kernels["mpi4numba"], None)
    if "numba-mpi" in kernels:
        chosen["numba-mpi"] = (kernels["numba-mpi"], None)
    chosen["mpi4py"] = (_mpi4py_loop(comm, kernels["stencil"]), None)
    chosen[REFERENCE] = (kernels["compute"], None)
    return chosen


def in_job(options: argparse.Namespace) -> tuple[dict[str, dict[str, list[float]]], float]:
    """Time every size and implementation; the µs per step (every rank) and the largest
    difference between the final fields (all ranks)."""
    from mpi4py import MPI

    import mpi4numba as mpi

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    left, right = (rank - 1) % size, (rank + 1) % size
    kernels = _kernels()
    implementations = _implementations(mpi, comm, kernels)
    labels = list(implementations)
    results: dict[str, dict[str, list[float]]] = {}
    difference = 0.0
    for rows, cols in options.sizes:
        initial = np.random.default_rng(1000 * rank + rows + cols).random((rows, cols + 2))
        fields = {label: _Field(initial) for label in labels}

        def advance(label: str, steps: int, field: _Field, where: str = f"{rows}x{cols}") -> float:
            loop, mode = implementations[label]
            comm.Barrier()
            with _strategies.using(mpi, mode):
                start = MPI.Wtime()
                status = field.advance(loop, steps, left, right)
                elapsed = MPI.Wtime() - start
            if status != 0:
                raise RuntimeError(f"halo {where}, {label}: MPI status {status}")
            return comm.allreduce(elapsed, op=MPI.MAX)

        for label in labels:
            advance(label, options.warmup, fields[label])
        timings: dict[str, list[float]] = {label: [] for label in labels}
        for round_ in range(options.repeat):
            shift = round_ % len(labels)
            for label in labels[shift:] + labels[:shift]:
                timings[label].append(1e6 * advance(label, options.steps, fields[label]) / options.steps)
        results[f"{rows}x{cols}"] = timings
        exchanged = [fields[label].current for label in labels if label != REFERENCE]
        local = max(float(np.max(np.abs(field - exchanged[0]))) for field in exchanged)
        difference = max(difference, comm.allreduce(local, op=MPI.MAX))
    return results, difference


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f})"


def table(results: dict[str, dict[str, list[float]]]) -> str:
    """Markdown table: µs per step of each implementation, and its ratios to numba-mpi and mpi4py."""
    references = [name for name in ("numba-mpi", "mpi4py") if all(name in row for row in results.values())]
    head = ["size per rank", "implementation", "µs per step", *(f"/ {name}" for name in references)]
    rows = []
    for size, timings in results.items():
        median = {label: statistics.median(values) for label, values in timings.items()}
        for label, values in timings.items():
            ratios = [ratio(median[label] / median[name]) for name in references]
            rows.append([size, label, _cell(values), *ratios])
    return markdown(head, rows, left=2)


def _report(options: argparse.Namespace, results: dict[str, dict[str, list[float]]], difference: float) -> None:
    from mpi4py import MPI

    import mpi4numba as mpi

    processes = MPI.COMM_WORLD.Get_size()
    library = MPI.Get_library_version().splitlines()[0].strip()
    level = mpi.thread_level()
    print(
        f"# mpi4numba halo benchmark: 2-D Jacobi, ROWS x (COLS+2) float64 per rank, columns periodic over "
        f"{processes} process{'es' if processes > 1 else ''}, MPI thread level {level}, {library}"
    )
    print(
        f"# µs per step (two sendrecv of a column + stencil), slowest rank, median over {options.repeat} rounds "
        f"of {options.steps} steps (min), implementations alternated within each round; ratios of medians"
    )
    if not _strategies.available(mpi):
        print(f"# {_strategies.MISSING}")
    if not any("numba-mpi" in timings for timings in results.values()):
        print("# numba-mpi is not installed or cannot load: its implementation and '/ numba-mpi' are skipped")
    print("# mpi4py: halo columns copied into preallocated contiguous buffers, comm.Sendrecv, copied back")
    print(table(results))
    verdict = "equal" if difference == 0 else "DIFFERENT"
    print(f"# fields after the last step: max abs difference between implementations: {difference:g} ({verdict})")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench halo``."""
    options = parse(argv)
    if not under_mpi_launcher():
        command = [find_mpiexec(), "-n", "2", sys.executable, "-m", "mpi4numba.bench", "halo", *(argv or [])]
        return subprocess.run(command, env=dict(os.environ)).returncode
    results, difference = in_job(options)
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() == 0:
        _report(options, results, difference)
    return 0 if difference == 0 else 1
