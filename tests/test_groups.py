"""Groups: subsets of COMM_WORLD's group, rank translation, communicators built from them."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba import comm as comm_module
from mpi4numba import groups

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
EVENS = np.arange(0, SIZE, 2)


@numba.njit
def even_communicator_sum(evens):
    """Build the communicator of even ranks from a group and reduce over it, all compiled."""
    status, world = groups.comm_group()
    code, even = groups.group_incl(world, evens)
    status |= code
    code, odd = groups.group_excl(world, evens)
    status |= code
    code, newcomm = comm_module.comm_create(even)
    status |= code
    total = np.zeros(1, np.int64)
    if groups.group_rank(even)[1] != mpi.UNDEFINED:
        status |= mpi.allreduce(mpi.rank() + 1, total, mpi.Operator.SUM, newcomm)
        status |= mpi.comm_free(newcomm)
    sizes = (groups.group_size(world)[1], groups.group_size(even)[1], groups.group_size(odd)[1])
    for group in (even, odd, world):
        status |= groups.group_free(group)[0]
    return status, sizes, total[0]


def test_group_incl_excl_and_comm_create_in_njit():
    status, sizes, total = even_communicator_sum(EVENS)
    assert status == 0
    assert sizes == (SIZE, EVENS.size, SIZE - EVENS.size)
    assert total == (EVENS + 1).sum() if RANK % 2 == 0 else total == 0


def test_comm_create_from_python_gives_comm_null_outside_the_group():
    status, world = groups.comm_group()
    status, last = groups.group_incl(world, (SIZE - 1,))
    status, newcomm = comm_module.comm_create(last)
    assert status == 0
    if RANK == SIZE - 1:
        assert newcomm.Get_size() == 1 and mpi.rank(newcomm) == 0
        assert comm_module.comm_compare(newcomm, MPI.COMM_SELF) == (0, comm_module.CONGRUENT)
        assert mpi.comm_free(newcomm) == 0
    else:
        assert newcomm == MPI.COMM_NULL
    assert groups.group_free(last)[0] == 0 and groups.group_free(world)[0] == 0


def test_translate_ranks_matches_reversed_order():
    status, world = groups.comm_group()
    reversed_ranks = np.arange(SIZE)[::-1].copy()
    status, backwards = groups.group_incl(world, reversed_ranks)
    assert status == 0 and groups.group_rank(backwards) == (0, SIZE - 1 - RANK)
    status, translated = groups.group_translate_ranks(backwards, np.arange(SIZE, dtype=np.int16), world)
    assert status == 0 and translated.dtype == np.int32
    np.testing.assert_array_equal(translated, reversed_ranks)
    status, self_group = groups.comm_group(MPI.COMM_SELF)
    status, mine = groups.group_translate_ranks(world, tuple(range(SIZE)), self_group)
    expected = np.full(SIZE, mpi.UNDEFINED)
    expected[RANK] = 0
    np.testing.assert_array_equal(mine, expected)
    for group in (self_group, backwards, world):
        assert groups.group_free(group)[0] == 0


@numba.njit
def translate_repeatedly(world, ranks, steps):
    total = 0
    for _ in range(steps):
        status, translated = groups.group_translate_ranks(world, ranks, world)
        total += status + translated.sum()
    return total


@pytest.mark.jit_only
def test_rank_lists_of_every_form():
    status, world = groups.comm_group()
    for n in (3, 20):  # on the stack, past the stack scratch (16 C ints)
        expected = [i % SIZE for i in range(n)]
        for ranks in (tuple(expected), expected, np.array(expected), np.repeat(np.array(expected, np.int16), 2)[::2]):
            status, translated = groups.group_translate_ranks(world, ranks, world)
            assert status == 0 and translated.tolist() == expected
            assert translate_repeatedly(world, ranks, 1) == sum(expected)
            before = rtsys.get_allocation_stats()
            assert translate_repeatedly(world, ranks, 50) == 50 * sum(expected)
            after = rtsys.get_allocation_stats()
            assert after.alloc - after.free == before.alloc - before.free  # every scratch freed
    assert groups.group_free(world)[0] == 0


def test_groups_agree_with_mpi4py():
    status, world = groups.comm_group()
    unsigned = world & 0xFFFF_FFFF_FFFF_FFFF  # mpi4py's form of a handle (a negative int on Intel MPI)
    assert MPI.Group.Compare(MPI.Group.fromhandle(unsigned), MPI.COMM_WORLD.Get_group()) == MPI.IDENT
    assert groups.group_free(world)[0] == 0


def test_group_free_is_safe():
    status, world = groups.comm_group()
    status, world = groups.group_free(world)
    assert status == 0 and world == groups.GROUP_NULL
    assert mpi.error_class(groups.group_free(world)[0]) == MPI.ERR_GROUP  # never reaches MPI
    assert groups.group_free(groups.GROUP_EMPTY) == (0, groups.GROUP_NULL)
    assert groups.group_size(groups.GROUP_EMPTY) == (0, 0)


def test_bad_ranks_give_errors():
    status, world = groups.comm_group()
    assert groups.group_incl(world, (SIZE,))[0] != 0  # not a member
    with pytest.raises(ValueError, match="does not fit a C int"):
        groups.group_incl(world, np.array([2**40]))
    with pytest.raises(TypingError, match="group_incl: ranks must be a 1-D integer array"):
        groups.group_incl(world, np.zeros(2))
    with pytest.raises(TypingError, match="group must be a group handle"):
        groups.group_size(1.5)
    groups.group_free(world)
