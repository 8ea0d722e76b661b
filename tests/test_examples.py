"""The examples, the SLURM recipes and the documentation, each run as a user would.

Driver tests: each launches its own mpiexec jobs (``examples/heat2d.py`` is run by
``tests/test_topology.py``). Compiled code goes to one Numba cache directory for the
module, so only the first job of each example compiles. The SLURM scripts run under
``bash`` with the ``SLURM_*`` variables set and a fake ``srun`` first on ``PATH``.
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

FAKE_SRUN = r"""#!/bin/bash
# Fake srun: "srun [options] command..." -> mpiexec -n $SLURM_NTASKS command...;
# a step with --ntasks-per-node=1 (per-node set-up or clean-up) runs once, as on one node.
all="$*"
per_node=0
ntasks=${SLURM_NTASKS:-1}
while [[ $# -gt 0 && $1 == -* ]]; do
    case $1 in
        --ntasks-per-node=1) per_node=1 ;;
        --ntasks=*) ntasks=${1#--ntasks=} ;;
        -n|-N|--ntasks|--nodes) [[ $1 == -n || $1 == --ntasks ]] && ntasks=$2; shift ;;
    esac
    shift
done
echo "per_node=$per_node ntasks=$ntasks: ${all//$'\n'/ }" >> "$FAKE_SRUN_LOG"
if [[ $per_node == 1 ]]; then
    exec "$@"
fi
exec "$FAKE_MPIEXEC" -n "$ntasks" "$@"
"""

# Stands in for the cluster's python3 when a job creates its environment: a venv that sees
# this test's packages (no download), pip told to use no index.
FAKE_PYTHON3 = r"""#!/bin/bash
if [[ $1 == -m && $2 == venv ]]; then
    "$REAL_PYTHON" -m venv --without-pip "$3" || exit
    site=$("$3/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    parent=$("$REAL_PYTHON" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "import site; site.addsitedir('$parent')" > "$site/test-parent.pth"  # its .pth files too
    echo "created $3" >> "$FAKE_SRUN_LOG"
    exit
fi
exec "$REAL_PYTHON" "$@"
"""


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


def _fake_slurm(tmp_path: Path, numba_cache: str, **extra: str) -> dict[str, str]:
    """A bin directory with the fake srun (and python3) first on PATH, and SLURM's variables."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", FAKE_SRUN), ("python3", FAKE_PYTHON3)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return _env(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        FAKE_MPIEXEC=MPIEXEC,
        REAL_PYTHON=sys.executable,
        FAKE_SRUN_LOG=str(tmp_path / "srun.log"),
        NUMBA_CACHE_DIR=numba_cache,
        TMPDIR=str(tmp_path),
        SLURM_JOB_ID="4242",
        SLURM_NTASKS="2",
        SLURM_JOB_NUM_NODES="1",
        SLURM_CPUS_PER_TASK="1",
        SLURM_SUBMIT_DIR=str(ROOT),
        **extra,
    )


def test_tasks_anywhere_sbatch_with_existing_venv(tmp_path: Path, numba_cache: str) -> None:
    env = _fake_slurm(tmp_path, numba_cache, MPI4NUMBA_VENV=sys.prefix)
    script = ROOT / "examples" / "slurm" / "tasks_anywhere.sbatch"
    stdout = _run(["bash", str(script), "examples/bcast_array.py", "--length", "5"], env)
    lines = stdout.splitlines()
    _check_hello(lines[:2], 2)
    _check_bcast(lines[2:], 2, 5, 0)
    steps = (tmp_path / "srun.log").read_text().splitlines()
    python = str(Path(sys.prefix) / "bin" / "python")
    assert steps == [
        f"per_node=0 ntasks=2: --mpi=pmi2 {python} examples/helloworld.py",
        f"per_node=0 ntasks=2: --mpi=pmi2 {python} examples/bcast_array.py --length 5",
    ]


def test_whole_nodes_sbatch_creates_venv(tmp_path: Path, numba_cache: str) -> None:
    libmpi = sorted(Path(sys.prefix, "lib").glob("libmpi.so.*"))
    if not libmpi:
        pytest.skip("the job's new venv finds MPI through MPI4PY_LIBMPI: needs an MPI wheel in this venv")
    # offline: the new venv sees this one's packages, pip has no index, mpi4py gets the wheel's libmpi
    env = _fake_slurm(
        tmp_path,
        numba_cache,
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        MPI4NUMBA_INSTALL="mpi4numba",
        MPI4PY_LIBMPI=str(libmpi[0]),
    )
    script = ROOT / "examples" / "slurm" / "whole_nodes.sbatch"
    stdout = _run(["bash", str(script), "examples/pi.py", "--intervals", "3000", "--times", "20", "--repeat", "1"], env)
    venv = tmp_path / "mpi4numba-venv-4242"
    assert f"creating {venv} on 1 node(s): pip install mpi4numba" in stdout
    _check_hello([line for line in stdout.splitlines() if line.startswith("Hello")], 2)
    _check_pi(stdout, 2)
    steps = (tmp_path / "srun.log").read_text().splitlines()
    python = f"{venv}/bin/python"
    per_node = "per_node=1 ntasks=1: --nodes=1 --ntasks=1 --ntasks-per-node=1"
    assert steps[0].startswith(f"{per_node} bash -c ")  # the set-up step, once per node
    assert steps[1:] == [
        f"created {venv}",
        f"per_node=0 ntasks=2: --mpi=pmi2 --cpu-bind=cores {python} examples/helloworld.py",
        (
            f"per_node=0 ntasks=2: --mpi=pmi2 --cpu-bind=cores {python} examples/pi.py --intervals 3000 --times 20 "
            "--repeat 1"
        ),
        f"{per_node} rm -rf {venv}",
    ]
    assert not venv.exists()  # removed when the job ended


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
