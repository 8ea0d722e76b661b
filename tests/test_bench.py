"""``python -m mpi4numba.bench``: helloworld, latency and strided, each run as its own mpiexec jobs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.driver

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = str(Path(sys.executable).parent / "mpiexec")
LABELS = ("ping-pong 8 B", "ping-pong 1 KiB", "ping-pong 64 KiB", "allreduce 1 double",
          "bcast 1 double", "barrier", "isend+irecv+waitall 8 B")
CELL = re.compile(r"^\d+\.\d{3} \(\d+\.\d{3}\)$")


def _env() -> dict[str, str]:
    """This environment, less what would make a child think it is already inside a job."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))}


def _run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def _needs_mpicc() -> None:
    from mpi4numba.bench._cbuild import BuildError, find_mpicc

    try:
        find_mpicc()
    except BuildError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_helloworld_matches_mpi4py(np_: int) -> None:
    ours = _run([MPIEXEC, "-n", str(np_), sys.executable, "-m", "mpi4numba.bench", "helloworld"]).stdout
    lines = ours.splitlines()
    assert len(lines) == np_
    width = len(str(np_ - 1))
    for rank, line in enumerate(lines):
        assert re.fullmatch(rf"Hello, World! I am process {rank:{width}d} of {np_} on \S.*\.", line), line
    reference = _run([MPIEXEC, "-n", str(np_), sys.executable, "-m", "mpi4py.bench", "helloworld"]).stdout
    assert ours == reference


def test_helloworld_quiet() -> None:
    done = _run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4numba.bench", "helloworld", "-q"])
    assert done.stdout == ""


def _table(stdout: str) -> dict[str, list[str]]:
    """Rows of the printed table: label -> its other cells."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| operation"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _check_table(stdout: str) -> None:
    rows = _table(stdout)
    assert sorted(rows) == sorted(LABELS), stdout
    for label, cells in rows.items():
        assert len(cells) == 5, (label, cells)
        for cell in cells[:3]:
            assert CELL.match(cell), (label, cell)
        for ratio in cells[3:]:
            assert float(ratio) > 0, (label, ratio)


def test_latency_launcher(tmp_path: Path) -> None:
    _needs_mpicc()
    raw = tmp_path / "raw.json"
    command = [sys.executable, "-m", "mpi4numba.bench", "latency", "--repeat", "1", "--iterations", "200",
               "--json", str(raw)]
    done = _run(command, timeout=600)
    _check_table(done.stdout)
    record = json.loads(raw.read_text())
    assert sorted(job["stack"] for job in record["jobs"]) == ["C", "mpi4numba", "mpi4py"]
    (level,) = {job["thread_level"] for job in record["jobs"]}  # one level for all stacks
    assert f"2 processes, MPI thread level {level}" in done.stdout


def test_latency_thread_level_reaches_every_job(tmp_path: Path) -> None:
    _needs_mpicc()
    raw = tmp_path / "raw.json"
    command = [sys.executable, "-m", "mpi4numba.bench", "latency", "--repeat", "1", "--iterations", "50",
               "--warmup", "5", "--thread-level", "serialized", "--json", str(raw)]
    done = _run(command, timeout=600)
    assert "MPI thread level serialized" in done.stdout
    assert {job["thread_level"] for job in json.loads(raw.read_text())["jobs"]} == {"serialized"}


def test_latency_inside_one_job() -> None:
    _needs_mpicc()
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4numba.bench", "latency", "--repeat", "1",
               "--iterations", "200"]
    done = _run(command, timeout=600)
    _check_table(done.stdout)
    assert "in one mpiexec job" in done.stdout


def test_strided_faces_small_grid() -> None:
    command = [sys.executable, "-m", "mpi4numba.bench", "strided", "--size", "32", "--repeat", "2",
               "--iterations", "10", "--warmup", "2"]
    done = _run(command, timeout=600)
    rows = _table(done.stdout)
    rows.pop("face")  # the header
    assert sorted(rows) == sorted(["a[0]", "a[:,0]", "a[:,:,0]"]), done.stdout
    for face in ("a[0]", "a[:,0]", "a[:,:,0]"):
        zero_copy, copy, ratio, zero_allocs, copy_allocs = rows[face]
        assert re.fullmatch(r"\d+\.\d \(\d+\.\d\)", zero_copy) and re.fullmatch(r"\d+\.\d \(\d+\.\d\)", copy)
        assert float(ratio) > 0
        assert zero_allocs == "0", (face, zero_allocs)  # zero-copy sends allocate nothing
    assert float(rows["a[:,0]"][4]) > 0  # the copying variant allocates per message
    assert "32x32x32 float64 grid" in done.stdout


def test_inplace_allreduce_table() -> None:
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4numba.bench", "inplace", "--repeat", "2",
               "--iterations", "20", "--warmup", "2"]
    done = _run(command, timeout=600)
    lines = done.stdout.splitlines()
    assert "thread level" in lines[0] and "2 processes" in lines[0], done.stdout
    rows = [line.split() for line in lines if not line.startswith("#") and "size" not in line]
    assert [" ".join(row[:2]) for row in rows] == ["8 B", "8 KiB", "1 MiB"], done.stdout
    for row in rows:
        assert re.fullmatch(r"\d+\.\d{3}", row[2]) and float(row[-1]) > 0, row


def test_inplace_rejects_bad_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "mpi4numba.bench", "inplace", "--repeat", "0"],
                          capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT)
    assert done.returncode == 2 and "--repeat must be at least 1" in done.stderr
