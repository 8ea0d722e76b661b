"""Benchmarks and checks, run as ``python -m mpi4numba.bench <command>``.

Commands (each takes ``-h``):

* ``helloworld``, ``ringtest``, ``pingpong``: the options and output of
  ``python -m mpi4py.bench``, with the communication inside ``@numba.njit`` code. Run
  them under mpiexec: ``mpiexec -n 4 python -m mpi4numba.bench helloworld``.
* ``pi``: the pi example, allreduce inside the njit loop vs mpi4py from a Python loop,
  sweeping calls per interval (:mod:`mpi4numba.bench.pi`; ``--plot FILE``).
* ``suite``: OSU-style latency, bandwidth and collective latency from 0 B to 4 MiB for C,
  mpi4numba, mpi4py and numba-mpi side by side (:mod:`mpi4numba.bench.suite`).
* ``startup``: import time, cold compile and warm cache-load time per rank
  (:mod:`mpi4numba.bench.startup`).
* ``compile``: cold compile time of MPI call sites in fresh interpreters, mpi4numba and
  numba-mpi side by side (:mod:`mpi4numba.bench.compile`).
* ``latency``: small operations from C, mpi4numba and mpi4py side by side
  (:mod:`mpi4numba.bench.latency`).
* ``strided``: faces of a 256³ float64 grid sent and received through derived datatypes
  (zero-copy) vs ``np.ascontiguousarray`` + send, and columns of 2-D arrays by each
  strided mode vs a copy in njit vs contiguous (:mod:`mpi4numba.bench.strided`).
* ``halo``: a 2-D Jacobi stencil with column halos: mpi4numba, numba-mpi and mpi4py
  side by side, per step (:mod:`mpi4numba.bench.halo`).
* ``calibrate``: when packing a strided array beats a derived datatype on this MPI
  library: the table of ``auto`` (:mod:`mpi4numba.bench.calibrate`; ``--save``).
* ``inplace``: allreduce with ``IN_PLACE`` vs separate buffers, under mpiexec
  (:mod:`mpi4numba.bench.inplace`).
* ``persistent``: persistent collectives (set up once, then start + wait) and partitioned
  messages filled by threads, C and mpi4numba side by side (:mod:`mpi4numba.bench.persistent`).
* ``io``: a global array written into one file with MPI-IO (``file_write_at_all``),
  mpi4numba and mpi4py side by side, and NumPy's ``tofile`` on one process
  (:mod:`mpi4numba.bench.io`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

COMMANDS = {
    "helloworld": "Hello, World! from every process, in rank order",
    "ringtest": "time a message passed around a ring of processes",
    "pingpong": "ping-pong round trips between two processes over a range of sizes",
    "pi": "the pi example: allreduce inside njit vs mpi4py outside, sweeping calls per interval",
    "suite": "OSU-style latency, bandwidth and collective latency: C, mpi4numba, mpi4py, numba-mpi",
    "startup": "import time, cold JIT compile time and warm cache load time, per rank",
    "compile": "cold compile time of MPI call sites: mpi4numba and numba-mpi side by side",
    "latency": "latency of MPI operations from C, mpi4numba and mpi4py",
    "strided": "sending grid faces and array columns: derived datatypes, packing, copies",
    "halo": "2-D Jacobi with column halos: mpi4numba, numba-mpi and mpi4py per step",
    "calibrate": "when packing strided arrays beats derived datatypes on this MPI (auto's table)",
    "inplace": "allreduce with IN_PLACE vs out of place, from njit code",
    "persistent": "persistent collectives and partitioned messages: C and mpi4numba side by side",
    "io": "a global array written with MPI-IO: mpi4numba, mpi4py and NumPy's tofile, GB/s",
}


def main(argv: list[str] | None = None) -> int:
    """Run the command named by the first argument with the remaining ones."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench",
        description="mpi4numba benchmarks",
        epilog="commands:\n" + "\n".join(f"  {name:<12}{text}" for name, text in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=COMMANDS, metavar="command", help="one of: " + ", ".join(COMMANDS))
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options of the command (see COMMAND -h)")
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        parser.print_help(sys.stderr)
        return 2
    options = parser.parse_args(argv)
    module = importlib.import_module(f"{__name__}.{options.command}")
    # one line per run: not again from the jobs a benchmark launches (they inherit the variable)
    shows_machine = options.command in MEASURES and _first_process() and _SHOWN not in os.environ
    os.environ[_SHOWN] = "1"
    status = module.main(options.args)
    if shows_machine and not status:
        print(f"# {machine()}", flush=True)
    return status


_SHOWN = "MPI4NUMBA_BENCH_MACHINE_SHOWN"
# the commands whose figures are quoted: their output ends with the machine they ran on
# (helloworld, ringtest, pingpong and pi print what mpi4py's own benchmarks print)
MEASURES = ("suite", "startup", "compile", "latency", "strided", "halo", "calibrate", "inplace", "persistent", "io")


def _first_process() -> bool:
    """Rank 0 of the launcher that started this process, or started by no launcher."""
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"):
        if name in os.environ:
            return os.environ[name] == "0"
    return True


def machine() -> str:
    """The CPU, and the versions of what a figure depends on (the MPI library is named by
    each benchmark's own header)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}"]
    for package in ("mpi4numba", "numba", "numpy", "mpi4py", "numba-mpi"):
        with contextlib.suppress(PackageNotFoundError):
            versions.append(f"{package} {version(package)}")
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()}; {', '.join(versions)}"
