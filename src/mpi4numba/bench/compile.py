"""``compile``: cold compile time of MPI call sites, mpi4numba and numba-mpi side by side.

Run it without mpiexec (each measurement is a fresh single-process interpreter)::

    python -m mpi4numba.bench compile [--rounds 5] [--json FILE]

Cases, each timed as the first call (compile + run) of an ``@numba.njit`` function in a
fresh interpreter with an empty ``NUMBA_CACHE_DIR``:

* ``first``: the first njit function of the process, calling ``allreduce`` on float64
  arrays (what a user's first MPI call site costs, Numba's own start-up included);
* ``dtype``: the same call site compiled again for int64 arrays (each new dtype);
* ``multi``: a new function making 6 MPI calls (rank, allreduce, bcast, barrier,
  sendrecv, size) whose routines and types were all compiled before in other functions;
* ``floor``: for reference, a first njit function with no MPI call at all.

Stacks alternate within each round (mpi4numba first in even rounds, numba-mpi first in
odd ones); numba-mpi is measured when it is installed. It prints medians over rounds
(minimum in parentheses) and the ratio mpi4numba / numba-mpi.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ._table import markdown, ratio

CASES = {
    "first": "first njit function calling allreduce (float64)",
    "dtype": "the same call site, each new dtype (int64)",
    "multi": "a function with 6 MPI calls, types already seen",
    "floor": "reference: a first njit function without MPI",
}
WORKER = Path(__file__).with_name("_compile_worker.py")

Results = dict[str, dict[str, list[float]]]  # stack -> case -> seconds per round


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``compile``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench compile",
        description="Cold compile time of MPI call sites in fresh interpreters: mpi4numba and numba-mpi.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds over stacks and cases (default 5)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--json", metavar="FILE", help="write every measurement to FILE")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed per measurement")
    options = parser.parse_args(argv)
    options.cases = [c for c in options.cases.split(",") if c]
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    unknown = set(options.cases) - set(CASES)
    if unknown or not options.cases:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {', '.join(CASES)}")
    return options


def stacks() -> list[str]:
    """mpi4numba, and numba-mpi where it is installed."""
    return ["mpi4numba"] + (["numba-mpi"] if importlib.util.find_spec("numba_mpi") else [])


def measure(stack: str, case: str, timeout: float) -> float:
    """Seconds of one cold measurement in a fresh interpreter and an empty Numba cache."""
    cache = tempfile.mkdtemp(prefix="mpi4numba-compile-")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))
    }
    env["NUMBA_CACHE_DIR"] = cache
    try:
        done = subprocess.run(
            [sys.executable, str(WORKER), stack, case], capture_output=True, text=True, timeout=timeout, env=env
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{stack} {case} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    record = json.loads(lines[-1])
    if record["status"] != 0:
        raise RuntimeError(f"{stack} {case}: MPI returned {record['status']}")
    return record["seconds"]


def run(options: argparse.Namespace) -> Results:
    """Every stack and case, ``--rounds`` times, stacks alternating."""
    names = stacks()
    results: Results = {stack: {case: [] for case in options.cases} for stack in names}
    for round_ in range(options.rounds):
        print(f"compile: round {round_ + 1}/{options.rounds} ...", file=sys.stderr, flush=True)
        order = names if round_ % 2 == 0 else names[::-1]
        for case in options.cases:
            for stack in order:
                results[stack][case].append(measure(stack, case, options.timeout))
    return results


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f})" if values else "-"


def table(results: Results) -> str:
    """Markdown table: median seconds (minimum) per stack, and the ratio of medians."""
    names = list(results)
    head = ["case", *(f"{stack} s" for stack in names)]
    if "numba-mpi" in results:
        head.append("mpi4numba / numba-mpi")
    rows = []
    for case in next(iter(results.values())):
        row = [CASES[case], *(_cell(results[stack][case]) for stack in names)]
        if "numba-mpi" in results:
            ours, theirs = (statistics.median(results[s][case]) for s in ("mpi4numba", "numba-mpi"))
            row.append(ratio(ours / theirs))
        rows.append(row)
    return markdown(head, rows)


def report(options: argparse.Namespace, results: Results) -> None:
    """Print the header and table; write the JSON file if asked."""
    import numba

    versions = f"numba {numba.__version__}"
    if "numba-mpi" in results:
        from importlib.metadata import version

        versions += f", numba-mpi {version('numba-mpi')}"
    print(
        f"# cold compile, fresh interpreter and empty NUMBA_CACHE_DIR per measurement, {options.rounds} "
        f"rounds; {versions}"
    )
    print("# seconds of the timed first call (compile + run): median (minimum)")
    print(table(results), flush=True)
    if options.json:
        Path(options.json).write_text(json.dumps({"options": vars(options), "results": results}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench compile``."""
    options = parse(argv)
    try:
        report(options, run(options))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"mpi4numba.bench compile: {exc}", file=sys.stderr)
        return 1
    return 0
