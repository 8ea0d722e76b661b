"""@njit(cache=True) across processes and across MPI implementations (driver tests)."""

import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import mpiexec

pytestmark = pytest.mark.driver

SCRIPT = textwrap.dedent(
    """
    import json
    import numba
    import numpy as np
    import mpi4numba as mpi

    @numba.njit(cache=True)
    def reduce_ranks(value):
        total = np.empty(1)
        status = mpi.allreduce(value, total)
        requests = mpi.request_array(2)
        incoming = np.zeros(1)
        mpi.isend(np.array([value]), (mpi.rank() + 1) % mpi.size(), 4, request=requests[:1])
        mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), 4, None, requests[1:])
        status |= mpi.waitall(requests)
        return status, total[0], incoming[0], mpi.rank(), mpi.size()

    result = reduce_ranks(float(mpi.rank() + 1))
    print(json.dumps({"result": list(result),
                      "hits": sum(reduce_ranks.stats.cache_hits.values()),
                      "misses": sum(reduce_ranks.stats.cache_misses.values())}))
    """
)


def run(tmp_path: Path, np_: int = 2, python: str = sys.executable) -> list[dict]:
    script = tmp_path / "cached_program.py"
    if not script.exists():
        script.write_text(SCRIPT)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"), "MPI4NUMBA_ABORT_ON_ERROR": "1"}
    done = mpiexec(np_, str(script), env=env, python=python, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    reports = [json.loads(text) for text in re.findall(r"\{[^{}]*\}", done.stdout)]
    assert len(reports) == np_, done.stdout + done.stderr
    for report in reports:
        status, total, incoming, rank, size = report["result"]
        assert status == 0 and total == size * (size + 1) / 2
        assert incoming == (rank - 1) % size + 1  # the left neighbour's value crossed over
    return reports


def test_second_run_loads_from_cache_on_every_rank(tmp_path):
    first = run(tmp_path)
    assert sum(r["misses"] for r in first) >= 1  # compiled (a rank may load what another saved)
    second = run(tmp_path)
    assert [(r["hits"], r["misses"]) for r in second] == [(1, 0), (1, 0)]


# venvs on other MPI ABIs (os.pathsep between them): ./dev test-openmpi names MPICH's,
# ./dev test-mpiabi MPICH's and Open MPI's, so that every pair of the three ABIs is run
OTHER_PYTHONS = [path for path in os.environ.get("MPI4NUMBA_OTHER_PYTHON", "").split(os.pathsep) if path]


@pytest.mark.skipif(not OTHER_PYTHONS, reason="set MPI4NUMBA_OTHER_PYTHON to venvs on other MPIs (./dev test-openmpi)")
@pytest.mark.parametrize("other_python", OTHER_PYTHONS or [""], ids=lambda path: Path(path).parts[-3] if path else "")
def test_cache_from_another_mpi_is_never_run(tmp_path, other_python):
    other = run(tmp_path, python=other_python)  # e.g. MPICH writes the cache
    assert sum(r["misses"] for r in other) >= 1
    mine = run(tmp_path)  # this MPI finds that cache: it must recompile, not run it
    assert sum(r["misses"] for r in mine) >= 1
    again = run(tmp_path)
    assert [(r["hits"], r["misses"]) for r in again] == [(1, 0), (1, 0)]
    back = run(tmp_path, python=other_python)  # and this MPI's entry is never run there
    assert all(r["result"][0] == 0 for r in back) and sum(r["misses"] for r in back) >= 1
    shutil.rmtree(tmp_path / "numba-cache", ignore_errors=True)
