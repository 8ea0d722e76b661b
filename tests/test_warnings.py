"""``python -We`` (warnings are errors) is clean: import, routines from Python and from
compiled code, the Numba cache guard (cold and warm cache, ranks compiling once between
them), the runner and ``info`` (driver tests: numba-mpi's users run their CI this way)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from helpers import ROOT, mpiexec

pytestmark = pytest.mark.driver

PROGRAM = textwrap.dedent(
    """
    import os

    import numba
    import numpy as np
    import mpi4numba as mpi

    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size

    @numba.njit(cache=True)
    def step(values, incoming):
        right, left = (mpi.rank() + 1) % mpi.size(), (mpi.rank() - 1) % mpi.size()  # not globals: frozen
        status, send = mpi.isend(values, right, 1)
        status |= mpi.recv(incoming, left, 1)
        status |= mpi.wait(send)
        total = np.zeros_like(values)
        status |= mpi.allreduce(values, total)
        status |= mpi.sendrecv(values[0], right, incoming[:1], left)  # a scalar sent
        return status, total

    values = np.arange(3.0) + rank
    incoming = np.zeros(3)
    status, total = step(values, incoming)
    assert status == 0 and incoming[0] == left and total[0] == sum(range(size)), (status, incoming, total)

    # from Python: lists of requests, character arrays, scalars, windows, topologies
    box = np.zeros(1, np.int64)
    _, receive = mpi.irecv(box, left, 2)
    _, send = mpi.isend(np.int64(rank), right, 2)
    assert mpi.waitall([receive, send]) == 0 and box[0] == left
    assert mpi.waitall([]) == 0
    word = np.array("hello" if rank == 0 else "?????", "c")
    assert mpi.bcast(word, 0) == 0 and word.tobytes() == b"hello"
    gathered = np.zeros(size)
    assert mpi.allgather(np.array([float(rank)]), gathered, 1) == 0 and list(gathered) == list(range(size))
    memory = np.zeros(1)
    code, window = mpi.win_create(memory)
    assert code == 0 and mpi.win_fence(window) == 0
    assert mpi.put(np.array([float(rank)]), right, 0, window) == 0
    assert mpi.win_fence(window) == 0 and mpi.win_free(window) == 0 and memory[0] == left
    code, grid = mpi.cart_create((size,), (True,))
    assert code == 0 and mpi.cart_shift(0, 1, grid)[1:] == (left, right) and mpi.comm_free(grid) == 0
    start = mpi.wtime()  # only differences count: Open MPI 4 counts from its first call (0.0)
    assert mpi.wtime() >= start and mpi.error_string(0) and mpi.barrier() == 0
    os.write(1, f"clean {rank}\\n".encode())  # one write: ranks share the pipe
    """
)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strict")
    path = folder / "strict.py"
    path.write_text(PROGRAM)
    return path


def assert_clean(done: subprocess.CompletedProcess, ranks: int) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output, output
    assert sorted(re.findall(r"clean (\d)", done.stdout)) == [str(r) for r in range(ranks)], output


def test_import_is_clean():
    done = subprocess.run(
        [sys.executable, "-We", "-c", "import mpi4numba, mpi4numba.bench"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_a_program_is_clean_with_a_cold_then_a_warm_cache(np_, program, tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "MPI4NUMBA_LOCK_DIR": str(tmp_path / "locks")}
    for _ in ("cold", "warm"):
        assert_clean(mpiexec(np_, "-We", str(program), env=env, timeout=600), np_)


def test_the_runner_and_info_are_clean(program, tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    assert_clean(mpiexec(2, "-We", "-m", "mpi4numba", str(program), env=env, timeout=600), 2)
    done = mpiexec(2, "-We", "-m", "mpi4numba", "info", "-q", env=env, timeout=300)
    assert "Warning" not in done.stdout + done.stderr and "Traceback" not in done.stderr, done.stdout + done.stderr


def test_a_cache_written_by_another_mpi4numba_is_replaced_quietly(program, tmp_path):
    """Cached code compiled against other mpi4numba sources (an upgrade) is recompiled;
    the note saying so is a warning, which under -We must not stop the program."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "mpi4numba", copy / "mpi4numba", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    )
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(copy)}
    assert_clean(mpiexec(2, "-We", str(program), env=env, timeout=600), 2)
    for run in ("-We", "-Wdefault"):  # the same upgrade twice; without -We the note shows
        with open(copy / "mpi4numba" / "_lowering.py", "a") as source:
            source.write(f"\n# a changed mpi4numba, run with {run}\n")
        done = mpiexec(2, run, str(program), env=env, timeout=600)
        if run == "-We":
            assert_clean(done, 2)
        else:
            assert done.returncode == 0 and "mpi4numba: recompiling" in done.stderr, done.stdout + done.stderr
