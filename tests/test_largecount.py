"""Large counts: the derived-type description of a long message (under mpiexec at any size),
and real messages of more than 2**31 - 1 elements (a driver test, when memory allows)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from helpers import ROOT, mpiexec

import mpi4numba as mpi
from mpi4numba._core import capi
from mpi4numba._core.ccall import predefined
from mpi4numba._core.runtime import LARGE_COUNT
from mpi4numba._support import largecount


@numba.njit(cache=True)
def _ring_with_large_datatype(count, chunk):
    """Every rank sends ``count`` doubles to the next one as ONE element of the derived type."""
    rank, size = mpi.rank(), mpi.size()
    send = np.arange(count) + 1000.0 * rank
    recv = np.zeros(count + 3)  # room after the message: it must stay untouched
    datatype = largecount.large_datatype(predefined("DOUBLE"), count, chunk)
    code = capi.MPI_Sendrecv(
        send, 1, datatype, (rank + 1) % size, 7, recv, 1, datatype, (rank - 1) % size, 7, predefined("COMM_WORLD")
    )
    capi.MPI_Type_free(datatype)
    return code, recv


@pytest.mark.parametrize("count, chunk", [(100, 7), (21, 7), (5, 8)])
@pytest.mark.jit_only
def test_large_datatype_covers_exactly_count_elements(count, chunk):
    code, recv = _ring_with_large_datatype(count, chunk)
    source = (mpi.rank() - 1) % mpi.size()
    assert code == 0
    np.testing.assert_array_equal(recv[:count], np.arange(count) + 1000.0 * source)
    np.testing.assert_array_equal(recv[count:], 0.0)


def test_slices_split_only_without_large_count_routines():
    big = 2**31 + 5
    assert largecount.slices(10) == 1
    assert largecount.slices(big) == (1 if LARGE_COUNT else 2)


def _memory_available() -> int:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.driver
def test_messages_above_int_max_elements():
    """send/recv, bcast and allreduce of 2**31 + 9 bytes between two processes."""
    need = 10 * 2**30
    if _memory_available() < need:
        pytest.skip(f"needs {need / 2**30:.0f} GiB of free memory")
    done = mpiexec(2, str(ROOT / "tests" / "scripts" / "large_messages.py"), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK") == 3, done.stdout
