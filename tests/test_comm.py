"""Communicators: world/self, dup/split/free from njit and Python, mpi4py interoperability."""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from mpi4py import MPI

import mpi4numba as mpi
from mpi4numba import comm as comm_module
from mpi4numba.comm import CONGRUENT, IDENT, SIMILAR, UNEQUAL, comm_compare

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
WORLD = MPI.COMM_WORLD


@numba.njit(cache=True)
def rank_size_of(comm):
    return mpi.rank(comm), mpi.size(comm), comm.rank, comm.Get_size()


@numba.njit(cache=True)
def split_sum(color):
    status, sub = mpi.comm_split(color, -mpi.rank())
    total = np.zeros(1, np.int64)
    mpi.allreduce(mpi.rank() + 1, total, mpi.Operator.SUM, sub)
    return status, sub, total[0], mpi.rank(sub), mpi.size(sub)


@numba.njit(cache=True)
def uses_world_global():
    return mpi.rank(WORLD), mpi.size(mpi.COMM_SELF)


def test_rank_and_size_match_mpi4py():
    assert (mpi.rank(), mpi.size()) == (RANK, SIZE)
    assert mpi.rank.py_func() == RANK and mpi.size.py_func() == SIZE
    assert rank_size_of(WORLD) == (RANK, SIZE, RANK, SIZE)
    assert rank_size_of(MPI.COMM_SELF) == (0, 1, 0, 1)
    assert uses_world_global() == (RANK, 1)
    assert mpi.comm_size(mpi.COMM_SELF) == (0, 1)


def test_split_in_njit_used_from_python_and_mpi4py():
    color = RANK % 2
    status, sub, total, sub_rank, sub_size = split_sum(color)
    members = [r for r in range(SIZE) if r % 2 == color]
    assert status == 0 and total == sum(r + 1 for r in members)
    assert isinstance(sub, MPI.Intracomm) and sub.Get_size() == sub_size == len(members)
    assert sub_rank == sub.Get_rank() == len(members) - 1 - members.index(RANK)  # key = -rank
    assert sub.allreduce(1) == len(members)  # usable as an mpi4py communicator
    assert sub.Get_errhandler() == MPI.ERRORS_RETURN
    assert mpi.comm_free(sub) == 0


def test_mpi4py_communicator_passed_to_njit():
    dup = WORLD.Dup()
    assert rank_size_of(dup) == (RANK, SIZE, RANK, SIZE)
    result = np.zeros(1)
    assert mpi.allreduce(2.0, result, mpi.Operator.SUM, dup) == 0 and result[0] == 2.0 * SIZE
    assert mpi.comm_free(dup) == 0
    assert dup == MPI.COMM_NULL  # freeing in compiled code is seen by the mpi4py object


def test_freed_communicator_gives_an_error_not_a_crash():
    status, dup = mpi.comm_dup()
    assert status == 0 and mpi.size(dup) == SIZE
    assert mpi.comm_free(dup) == 0
    assert mpi.error_class(mpi.comm_rank(dup)[0]) == mpi.ERR_COMM
    assert mpi.error_class(mpi.barrier(dup)) == mpi.ERR_COMM
    assert mpi.comm_free(dup) != 0


def test_created_communicators_return_errors():
    status, dup = mpi.comm_dup()
    assert mpi.error_class(mpi.send(np.zeros(1), SIZE + 1, 0, dup)) == mpi.ERR_RANK
    mpi.comm_free(dup)


def test_undefined_color_gives_comm_null():
    status, sub = mpi.comm_split(mpi.UNDEFINED if RANK == 0 else 1)
    assert status == 0
    if RANK == 0:
        assert sub == MPI.COMM_NULL
    else:
        assert sub.Get_size() == SIZE - 1
        mpi.comm_free(sub)


HALVES = MPI.COMM_WORLD.Split(RANK % 2, RANK)


@numba.njit  # its communicator exists only in this process: not cacheable
def uses_runtime_communicator_global():
    total = np.zeros(1, np.int64)
    status = mpi.allreduce(1, total, mpi.Operator.SUM, HALVES)
    return status, total[0], mpi.size(HALVES)


def test_runtime_communicator_as_global():
    # its handle exists only in this process: Numba compiles it in (not cacheable)
    members = len([r for r in range(SIZE) if r % 2 == RANK % 2])
    assert uses_runtime_communicator_global() == (0, members, members)


def test_split_type_shared_gives_node_communicators():
    status, node = comm_module.comm_split_type(comm_module.COMM_TYPE_SHARED, RANK)
    assert status == 0 and 1 <= node.Get_size() <= SIZE
    reference = WORLD.Split_type(MPI.COMM_TYPE_SHARED, key=RANK)
    assert comm_module.comm_compare(node, reference) == (0, comm_module.CONGRUENT)
    assert mpi.rank(node) == reference.Get_rank()
    reference.Free()
    assert mpi.comm_free(node) == 0
    status, nothing = comm_module.comm_split_type(mpi.UNDEFINED)
    assert status == 0 and nothing == MPI.COMM_NULL


@numba.njit(cache=True)
def compare_in_njit():
    from_world = mpi.COMM_WORLD
    status, dup = mpi.comm_dup()
    status, reversed_order = mpi.comm_split(0, -mpi.rank())
    results = (
        comm_compare(from_world, from_world)[1],
        comm_compare(dup, from_world)[1],
        comm_compare(reversed_order, from_world)[1],
        comm_compare(mpi.COMM_SELF, from_world)[1],
    )
    mpi.comm_free(dup)
    mpi.comm_free(reversed_order)
    return results


def test_comm_compare():
    ident, congruent, similar, unequal = compare_in_njit()
    assert ident == IDENT and congruent == CONGRUENT
    assert similar == (SIMILAR if SIZE > 1 else CONGRUENT)
    assert unequal == (UNEQUAL if SIZE > 1 else CONGRUENT)
    assert (IDENT, CONGRUENT, SIMILAR, UNEQUAL) == (MPI.IDENT, MPI.CONGRUENT, MPI.SIMILAR, MPI.UNEQUAL)
    status, dup = mpi.comm_dup()
    assert mpi.comm_free(dup) == 0
    assert mpi.error_class(comm_compare(dup, WORLD)[0]) == mpi.ERR_COMM


def test_a_freed_communicator_compiled_in_as_a_constant_is_seen_as_freed():
    dup = MPI.COMM_WORLD.Dup()

    @numba.njit
    def size_through_global():
        return mpi.comm_size(dup)[0], mpi.barrier(dup)

    assert size_through_global() == (0, 0)
    dup.Free()
    reuse = MPI.COMM_WORLD.Dup()  # MPI may hand the freed handle out again
    codes = size_through_global()  # the handle is read at each call: MPI_ERR_COMM, not a stale handle
    reuse.Free()
    assert mpi.error_class(codes[0]) == mpi.ERR_COMM and mpi.error_class(codes[1]) == mpi.ERR_COMM


FIRST_NAME_A_COMMUNICATOR = """
import numba, mpi4numba as mpi
@numba.njit
def barriers(n):
    comm = mpi.COMM_SELF  # the first name of mpi4numba used anywhere, while Numba compiles
    codes = 0
    for _ in range(n):
        codes += mpi.barrier(comm)
    return codes
print(barriers(3))
"""


@pytest.mark.driver
def test_a_communicator_as_the_first_name_used_compiles(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", FIRST_NAME_A_COMMUNICATOR],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)},
    )
    assert done.returncode == 0 and done.stdout.split() == ["0"], done.stdout + done.stderr
