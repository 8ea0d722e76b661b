"""Reductions: results checked against NumPy on the data every rank contributed."""

import numba
import numpy as np
import pytest
from helpers import NUMERIC_DTYPES, sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
ALL = [sample(np.float64, 4, r) for r in range(SIZE)]


@numba.njit(cache=True)
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


@pytest.mark.parametrize(
    "operator, numpy_op", [(mpi.Operator.MIN, np.min), (mpi.Operator.MAX, np.max), (mpi.Operator.PROD, np.prod)]
)
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
        if root == RANK:
            np.testing.assert_allclose(result, np.sum(ALL, axis=0))


def test_reduction_typing_errors():
    with pytest.raises(TypingError, match="dtypes differ"):
        mpi.allreduce(np.zeros(2, np.float32), np.zeros(2))
    with pytest.raises(TypingError, match="operator must be"):
        mpi.allreduce(np.zeros(2), np.zeros(2), "sum")


@numba.njit(cache=True)
def prefix_sums(values):
    inclusive = np.empty_like(values)
    exclusive = np.zeros_like(values)
    status = mpi.scan(values, inclusive) | mpi.exscan(values, exclusive)
    in_place = values.copy()
    status |= mpi.scan(mpi.IN_PLACE, in_place, mpi.Operator.MAX)
    return status, inclusive, exclusive, in_place


def test_scan_and_exscan():
    status, inclusive, exclusive, in_place = prefix_sums(ALL[RANK])
    assert status == 0
    np.testing.assert_allclose(inclusive, np.sum(ALL[: RANK + 1], axis=0))
    if RANK > 0:  # MPI leaves rank 0's exscan result undefined
        np.testing.assert_allclose(exclusive, np.sum(ALL[:RANK], axis=0))
    np.testing.assert_allclose(in_place, np.max(ALL[: RANK + 1], axis=0))
    upto = np.zeros(1, np.int64)
    assert mpi.scan(RANK + 1, upto) == 0 and upto[0] == (RANK + 1) * (RANK + 2) // 2


def test_allreduce_and_reduce_in_place():
    values = ALL[RANK].copy()
    assert mpi.allreduce(mpi.IN_PLACE, values) == 0
    np.testing.assert_allclose(values, np.sum(ALL, axis=0))
    strided = np.zeros((4, 2))
    strided[:, 1] = ALL[RANK]
    assert mpi.allreduce(MPI.IN_PLACE, strided[:, 1], mpi.Operator.MIN) == 0  # mpi4py's IN_PLACE too
    np.testing.assert_allclose(strided[:, 1], np.min(ALL, axis=0))
    for root in range(SIZE):
        values = ALL[RANK].copy()
        assert mpi.reduce(mpi.IN_PLACE, values, mpi.Operator.SUM, root) == 0  # every rank may pass IN_PLACE
        if root == RANK:
            np.testing.assert_allclose(values, np.sum(ALL, axis=0))


def test_integer_and_logical_operators():
    contributions = [np.array([r + 1, 3 * r, r % 2, 5], np.int32) for r in range(SIZE)]
    for operator, expected in (
        (mpi.Operator.BAND, np.bitwise_and.reduce(contributions)),
        (mpi.Operator.BOR, np.bitwise_or.reduce(contributions)),
        (mpi.Operator.BXOR, np.bitwise_xor.reduce(contributions)),
        (mpi.Operator.LAND, np.logical_and.reduce(contributions).astype(np.int32)),
        (mpi.Operator.LXOR, (np.sum(np.array(contributions) != 0, axis=0) % 2).astype(np.int32)),
    ):
        result = np.zeros(4, np.int32)
        assert mpi.allreduce(contributions[RANK], result, operator) == 0
        if operator in (mpi.Operator.LAND, mpi.Operator.LXOR):  # logical: any non-zero is true
            result, expected = result != 0, expected != 0
        np.testing.assert_array_equal(result, expected, err_msg=str(operator))


@numba.njit(cache=True)
def scatter_reductions(values, counts):
    block = np.zeros(2)
    status = mpi.reduce_scatter_block(values, block)
    mine = np.zeros(counts[mpi.rank()])
    status |= mpi.reduce_scatter(values[: counts.sum()], mine, counts)
    in_place = values.copy()
    status |= mpi.reduce_scatter_block(mpi.IN_PLACE, in_place)
    return status, block, mine, in_place


def test_reduce_scatter_and_block():
    values = [sample(np.float64, 2 * SIZE, r) for r in range(SIZE)]
    total = np.sum(values, axis=0)
    counts = np.array([1 + r % 2 for r in range(SIZE)], np.int32)
    status, block, mine, in_place = scatter_reductions(values[RANK], counts)
    assert status == 0
    np.testing.assert_allclose(block, total[2 * RANK : 2 * RANK + 2])
    start = counts[:RANK].sum()
    np.testing.assert_allclose(mine, total[start : start + counts[RANK]])
    np.testing.assert_allclose(in_place[:2], total[2 * RANK : 2 * RANK + 2])
    # int64 counts work too (converted), and an in-place reduce_scatter
    in_place = values[RANK].copy()
    assert mpi.reduce_scatter(mpi.IN_PLACE, in_place, counts.astype(np.int64)) == 0
    np.testing.assert_allclose(in_place[: counts[RANK]], total[start : start + counts[RANK]])


def test_minloc_maxloc_pairs_in_reduce_scatter_and_exscan():
    pair = np.dtype([("value", "f8"), ("index", "i4")], align=True)
    values = np.zeros(2 * SIZE, pair)
    values["value"] = (np.arange(2 * SIZE) + RANK) % 3
    values["index"] = RANK
    mine = np.zeros(2, pair)
    assert mpi.reduce_scatter_block(values, mine, mpi.Operator.MAXLOC) == 0
    everything = [(np.arange(2 * SIZE) + r) % 3 for r in range(SIZE)]
    best = np.max(everything, axis=0)[2 * RANK : 2 * RANK + 2]
    np.testing.assert_array_equal(mine["value"], best)
    first = [
        min(r for r in range(SIZE) if everything[r][i] == best[k]) for k, i in enumerate(range(2 * RANK, 2 * RANK + 2))
    ]
    np.testing.assert_array_equal(mine["index"], first)
    before = np.zeros(2 * SIZE, pair)
    assert mpi.exscan(values, before, mpi.Operator.MINLOC) == 0
    if RANK > 0:
        np.testing.assert_array_equal(before["value"], np.min(everything[:RANK], axis=0))


def test_structured_dtypes_are_not_summed():
    padded = np.dtype([("a", "u1"), ("b", "f8")], align=True)
    with pytest.raises(TypingError, match="structured dtypes cannot be reduced"):
        mpi.allreduce(np.zeros(2, padded), np.zeros(2, padded), mpi.Operator.SUM)
    with pytest.raises(TypingError, match="MINLOC/MAXLOC reduce"):
        mpi.allreduce(np.zeros(2, padded), np.zeros(2, padded), mpi.Operator.MINLOC)


@numba.njit(cache=True)
def band_of_doubles(values, result):
    return mpi.allreduce(values, result, mpi.Operator.BAND)


@numba.njit(cache=True)
def replace_in_reduce(values, result):
    return mpi.reduce(values, result, mpi.Operator.REPLACE, 0)


@pytest.mark.jit_only
def test_operators_that_do_not_apply_are_refused_before_mpi():
    values, result = np.ones(2), np.zeros(2)
    with pytest.raises(TypingError, match="mpi4numba.allreduce: Operator.BAND does not apply to float64"):
        band_of_doubles(values, result)  # written in the code: refused when compiling
    with pytest.raises(TypingError, match="mpi4numba.reduce: Operator.REPLACE applies to one-sided accumulates"):
        replace_in_reduce(values, result)
    with pytest.raises(ValueError, match="mpi4numba.scan: Operator.MAX does not apply to complex128"):
        mpi.scan(np.ones(1, np.complex128), np.zeros(1, np.complex128), mpi.Operator.MAX)  # known at run time
    with pytest.raises(ValueError, match="mpi4numba.allreduce: Operator.LOR does not apply to float32"):
        mpi.allreduce(np.ones(1, np.float32), np.zeros(1, np.float32), MPI._addressof(MPI.LOR))  # numba-mpi's value
    with pytest.raises(ValueError, match="mpi4numba.iallreduce: Operator.SUM does not apply to bool"):
        mpi.iallreduce(np.ones(1, np.bool_), np.zeros(1, np.bool_), mpi.Operator.SUM)
    np.testing.assert_array_equal(result, 0)  # nothing reached MPI
