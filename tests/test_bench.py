"""``python -m mpi4numba.bench``: helloworld and latency, each run as its own mpiexec jobs."""

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
