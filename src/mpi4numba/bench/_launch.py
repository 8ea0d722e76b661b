"""Starting MPI jobs from a benchmark run without mpiexec, and telling whether we run under one.

Shared by the benchmarks that launch their own ``mpiexec`` jobs (``latency``, ``startup``,
``strided``, ``suite``). A job hands its result back to the launcher as one line of JSON
on rank 0's stdout, after :data:`MARKER`, so that anything else the job prints is ignored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

MARKER = "MPI4NUMBA_BENCH "
# set by an MPI launcher in every process it starts (MPICH/Intel MPI Hydra, Open MPI, PMIx)
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def under_mpi_launcher() -> bool:
    """Whether this process was started by mpiexec (or srun with PMI/PMIx)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def find_mpiexec() -> str:
    """The mpiexec beside this Python (a virtual environment's MPI), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else "mpiexec"


def run_job(command: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one mpiexec job with a time limit; the JSON record its rank 0 printed."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(process)
        raise RuntimeError(f"timed out after {timeout:g} s: {' '.join(command)}") from None
    except BaseException:  # Ctrl-C: the job is in its own session, so end it here
        stop(process)
        raise
    records = [line[len(MARKER) :] for line in out.splitlines() if line.startswith(MARKER)]
    if process.returncode != 0 or len(records) != 1:
        raise RuntimeError(
            f"failed (exit status {process.returncode}): {' '.join(command)}\n{out[-3000:]}{err[-3000:]}"
        )
    return json.loads(records[0])


def stop(process: subprocess.Popen) -> None:
    """End a job: its whole process group (mpiexec and what it started)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.communicate(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
