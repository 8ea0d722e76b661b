"""Choosing MPI's thread level before initialisation (driver tests: each needs a fresh MPI)."""

import pytest
from helpers import mpiexec

pytestmark = pytest.mark.driver


UNSET = {"MPI4NUMBA_THREAD_LEVEL": None, "MPI4PY_RC_THREAD_LEVEL": None}


def query(code: str, **env: str) -> str:
    done = mpiexec(1, "-c", code, env={**UNSET, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def test_default_is_what_mpi4py_chooses_even_if_mpi4py_is_imported_first():
    """Importing mpi4numba changes nothing: MPI starts at mpi4py's level, "multiple" by default."""
    assert query("import mpi4numba; print(mpi4numba.thread_level())") == "multiple"
    assert query("import mpi4numba; from mpi4py import MPI; print(MPI.Query_thread() == MPI.THREAD_MULTIPLE)") == "True"
    assert query("import mpi4numba; print(mpi4numba.thread_level())", MPI4PY_RC_THREAD_LEVEL="funneled") == "funneled"
    assert (
        query("import mpi4py; mpi4py.rc.thread_level = 'serialized'; import mpi4numba; print(mpi4numba.thread_level())")
        == "serialized"
    )


def test_environment_variable_and_function():
    assert query("import mpi4numba; print(mpi4numba.thread_level())", MPI4NUMBA_THREAD_LEVEL="single") == "single"
    assert (
        query("import mpi4numba; mpi4numba.set_thread_level('serialized'); print(mpi4numba.thread_level())")
        == "serialized"
    )
    assert query("import mpi4numba; print(mpi4numba.thread_level())", MPI4NUMBA_THREAD_LEVEL="funneled") == "funneled"


SHOW = "print(mpi4numba.thread_level(), os.environ.get('MPI4PY_RC_THREAD_LEVEL'))"


@pytest.mark.parametrize(
    "ours, theirs, start",
    [
        ("env", "env", "mpi4numba"),
        ("env", "env", "mpi4py"),
        ("env", "rc", "mpi4numba"),
        ("function", "env", "mpi4numba"),
        ("function", "env", "mpi4py"),
        ("function", "rc", "mpi4numba"),
    ],
)
def test_the_mpi4numba_setting_wins_over_mpi4py_s(ours, theirs, start):
    """mpi4numba's level (its variable or set_thread_level) over mpi4py's (its variable or
    mpi4py.rc set by the program), whoever starts MPI; mpi4py's variable is left as it was."""
    env = {"MPI4NUMBA_THREAD_LEVEL": "funneled"} if ours == "env" else {}
    if theirs == "env":
        env["MPI4PY_RC_THREAD_LEVEL"] = "multiple"
    lines = ["import os, mpi4py"]
    if theirs == "rc":
        lines.append("mpi4py.rc.thread_level = 'serialized'")
    lines.append("import mpi4numba")
    if ours == "function":
        lines.append("mpi4numba.set_thread_level('funneled')")
    if start == "mpi4py":
        lines.append("from mpi4py import MPI")
    done = mpiexec(1, "-c", "\n".join([*lines, SHOW]), env={**UNSET, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    level, variable = done.stdout.split()[-2:]
    assert level == "funneled", done.stdout
    assert variable == ("multiple" if theirs == "env" else "None")


def test_uncaught_exception_on_one_rank_aborts_the_job():
    code = (
        "import mpi4numba as mpi, numpy as np\n"
        "if mpi.rank() == 1: raise RuntimeError('boom on one rank')\n"
        "mpi.bcast(np.zeros(1), 1)\n"
    )  # the other ranks would wait here forever
    done = mpiexec(2, "-c", code, timeout=120)
    assert done.returncode != 0
    assert "[rank 1]" in done.stderr and "boom on one rank" in done.stderr


@pytest.mark.parametrize(
    "first", ["import mpi4numba as mpi; from mpi4py import MPI", "from mpi4py import MPI; import mpi4numba as mpi"]
)
def test_a_communicator_is_the_first_thing_njit_code_sees(first):
    code = (
        f"{first}; import numba, numpy as np\n"
        "@numba.njit\n"
        "def total(comm):\n"
        "    out = np.zeros(1)\n"
        "    mpi.allreduce(np.ones(1), out, comm=comm)\n"
        "    return comm.size, out[0]\n"
        "import sys; sys.stdout.write('%d %.1f\\n' % total(MPI.COMM_WORLD))\n"
    )  # one write per rank
    done = mpiexec(2, "-c", code, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2.0"] * 2
