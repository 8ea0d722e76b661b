"""Collectives: results checked against NumPy on the data every rank contributed."""

import numba
import numpy as np
import pytest
from helpers import NUMERIC_DTYPES, sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
ALL = [sample(np.float64, 4, r) for r in range(SIZE)]


@numba.njit
def allreduce_in_loop(values, operator, steps):
    result = np.empty_like(values)
    status = 0
    for _ in range(steps):
        status |= mpi.allreduce(values, result, operator)
    return status, result


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=lambda d: np.dtype(d).name)
def test_allreduce_every_dtype(dtype):
    contributions = [sample(dtype, 6, r) for r in range(SIZE)]
    operator = mpi.Operator.LOR if dtype == np.bool_ else mpi.Operator.SUM
    status, result = allreduce_in_loop(contributions[RANK], operator, 2)
    assert status == 0
    if dtype == np.bool_:
        expected = np.logical_or.reduce(contributions)
    else:
        expected = np.sum(contributions, axis=0, dtype=dtype)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("operator, numpy_op", [(mpi.Operator.MIN, np.min), (mpi.Operator.MAX, np.max),
                                                (mpi.Operator.PROD, np.prod)])
def test_allreduce_operators(operator, numpy_op):
    result = np.empty(4)
    assert mpi.allreduce(ALL[RANK], result, operator) == 0
    np.testing.assert_allclose(result, numpy_op(ALL, axis=0))


def test_allreduce_scalar_and_numba_mpi_operator_values():
    result = np.empty(1)
    assert mpi.allreduce(RANK + 1, result) == 0
    assert result[0] == SIZE * (SIZE + 1) / 2
    legacy_max = MPI._addressof(MPI.MAX)  # what numba-mpi clients pass
    zero_d = np.array(0.0)
    assert mpi.allreduce(float(RANK), zero_d, legacy_max) == 0
    assert zero_d == SIZE - 1


def test_allreduce_non_contiguous():
    grid = np.arange(20.0).reshape(4, 5) * (RANK + 1)
    out = np.zeros((5, 4)).T  # Fortran-ordered destination
    assert mpi.allreduce(grid[:, :], out) == 0
    np.testing.assert_array_equal(out, np.arange(20.0).reshape(4, 5) * SIZE * (SIZE + 1) / 2)
    column = np.zeros((4, 3))[:, 1]
    assert mpi.allreduce(grid[:, 2], column) == 0
    np.testing.assert_array_equal(column, grid[:, 2] / (RANK + 1) * SIZE * (SIZE + 1) / 2)


def test_reduce_to_every_root():
    for root in range(SIZE):
        result = np.zeros(4)
        assert mpi.reduce(ALL[RANK], result, mpi.Operator.SUM, root) == 0
        if RANK == root:
            np.testing.assert_allclose(result, np.sum(ALL, axis=0))


def test_bcast_arrays_bytes_and_views():
    for root in range(SIZE):
        data = np.arange(5, dtype=np.int16) * (root + 1) if RANK == root else np.zeros(5, np.int16)
        assert mpi.bcast(data, root) == 0
        np.testing.assert_array_equal(data, np.arange(5) * (root + 1))
    text = np.array(list("mpi4numba"), dtype="S1") if RANK == 0 else np.zeros(9, "S1")
    assert mpi.bcast(text, 0) == 0
    assert b"".join(text) == b"mpi4numba"
    grid = np.arange(12.0).reshape(3, 4) if RANK == 0 else np.zeros((3, 4))
    assert mpi.bcast(grid[:, 1::2], 0) == 0
    np.testing.assert_array_equal(grid[:, 1::2], np.arange(12.0).reshape(3, 4)[:, 1::2])


def test_scatter_gather_allgather():
    for root in range(SIZE):
        parts = np.arange(3 * SIZE, dtype=np.int32) if RANK == root else np.zeros(0, np.int32)
        mine = np.zeros(3, np.int32)
        assert mpi.scatter(parts, mine, 3, root) == 0
        np.testing.assert_array_equal(mine, np.arange(3) + 3 * RANK)
        everyone = np.zeros(3 * SIZE, np.int32)
        assert mpi.gather(mine * 2, everyone, 3, root) == 0
        if RANK == root:
            np.testing.assert_array_equal(everyone, np.arange(3 * SIZE) * 2)
    everyone = np.zeros((SIZE, 2), np.complex128)
    assert mpi.allgather(np.array([RANK, 1j * RANK]), everyone, 2) == 0
    np.testing.assert_array_equal(everyone, [[r, 1j * r] for r in range(SIZE)])


def test_barrier_and_bad_root():
    assert mpi.barrier() == 0
    assert mpi.error_class(mpi.bcast(np.zeros(1), SIZE + 1)) == mpi.ERR_ROOT


def test_short_buffers_raise_before_entering_the_collective():
    with pytest.raises(ValueError, match="fewer than count"):
        mpi.allgather(np.zeros(2), np.zeros(2 * SIZE - 1), 2)  # every rank fails alike
    with pytest.raises(ValueError, match="fewer elements"):
        mpi.allreduce(np.zeros(3), np.zeros(2))


def test_reduction_typing_errors():
    with pytest.raises(TypingError, match="dtypes differ"):
        mpi.allreduce(np.zeros(2, np.float32), np.zeros(2))
    with pytest.raises(TypingError, match="operator must be"):
        mpi.allreduce(np.zeros(2), np.zeros(2), "sum")
