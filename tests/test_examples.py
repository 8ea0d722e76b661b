"""The examples and the documentation, each run as a user would.

Driver tests: each launches its own mpiexec jobs (``examples/heat2d.py`` is run by
``tests/test_topology.py``). Compiled code goes to one Numba cache directory for the
module, so only the first job of each example compiles. The SLURM scripts of
``examples/slurm`` run under a real SLURM in ``./dev test-slurm``.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.driver

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = str(Path(sys.executable).parent / "mpiexec")
SIZES = [1, 2, 3]


def _env(**extra: str) -> dict[str, str]:
    """This environment, less what would make a child think it is already inside a job."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_", "SLURM_"))
    }
    env.pop("PYTHONUNBUFFERED", None)  # unbuffered, the ranks' print()s can interleave mid-line
    env.setdefault("MPIEXEC_TIMEOUT", "300")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("numba-cache"))


def _run(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(command)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _example(np_: int, name: str, *args: str, cache: str) -> str:
    command = [MPIEXEC, "-n", str(np_), sys.executable, str(ROOT / "examples" / name), *args]
    return _run(command, _env(NUMBA_CACHE_DIR=cache))


def _check_hello(lines: list[str], size: int) -> None:
    assert len(lines) == size, lines
    hosts = set()
    for rank, line in enumerate(lines):  # in rank order: each rank waits for the previous one
        match = re.fullmatch(rf"Hello, World! I am process {rank} of {size} on (\S+)\.", line)
        assert match, line
        hosts.add(match.group(1))
    assert len(hosts) == 1, hosts  # one machine here


def _check_bcast(lines: list[str], size: int, length: int, root: int) -> None:
    expected = 0.5 * np.arange(length) ** 2
    seen = set()
    for line in lines:
        match = re.fullmatch(rf"rank (\d+) of {size} has \[(.*)\] from rank {root}: OK", line)
        assert match, line
        values = np.array(match.group(2).split(), dtype=float)
        assert np.array_equal(values, expected), line
        seen.add(int(match.group(1)))
    assert seen == set(range(size))


def _check_pi(stdout: str, size: int) -> None:
    match = re.search(rf"^pi = (\S+) \(error \S+\) on {size} processes", stdout, re.MULTILINE)
    assert match, stdout
    assert abs(float(match.group(1)) - math.pi) < 1e-6


@pytest.mark.parametrize("np_", SIZES)
def test_helloworld(np_: int, numba_cache: str) -> None:
    _check_hello(_example(np_, "helloworld.py", cache=numba_cache).splitlines(), np_)


@pytest.mark.parametrize("np_", SIZES)
def test_bcast_array(np_: int, numba_cache: str) -> None:
    root = np_ - 1  # not always rank 0
    stdout = _example(np_, "bcast_array.py", "--length", "7", "--root", str(root), cache=numba_cache)
    _check_bcast(stdout.splitlines(), np_, 7, root)


@pytest.mark.parametrize("np_", SIZES)
def test_pi(np_: int, numba_cache: str) -> None:
    stdout = _example(np_, "pi.py", "--intervals", "3000", "--times", "20", "--repeat", "1", cache=numba_cache)
    _check_pi(stdout, np_)


def test_docs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--quiet",
        "-f",
        str(ROOT / "mkdocs.yml"),
        "-d",
        str(tmp_path / "site"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    reference = (tmp_path / "site" / "reference" / "point-to-point" / "index.html").read_text()
    assert 'id="mpi4numba.p2p.isend"' in reference  # the API reference came from the docstrings
