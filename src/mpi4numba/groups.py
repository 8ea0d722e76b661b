"""Process groups: the group of a communicator, subsets of it, rank translation.

A group is its MPI handle, a plain integer in compiled code and in Python (the same
number mpi4py's ``MPI.Group.handle`` gives). Groups are local objects: building one is
not a collective call. Turn a group into a communicator with :func:`~mpi4numba.comm_create`
and free it with :func:`group_free`, which returns ``GROUP_NULL`` to rebind the variable::

    code, group = group_free(group)

so that a freed handle is not used again (freeing ``GROUP_NULL`` gives ``ERR_GROUP``,
freeing ``GROUP_EMPTY`` does nothing; neither reaches MPI).

Rank lists are 1-D integer arrays, tuples or lists of integers; other than ``int32``
arrays they are converted for the call (on the stack when short).
"""

from __future__ import annotations

from numba.core import types

from ._core import capi
from ._core.handles import HANDLE
from ._core.runtime import ABI, MPI
from ._support.api import api
from ._support.lowering import lowering
from ._support.validate import group_handle, int_sequence

# For comparisons in Python only: on Open MPI these are addresses that differ between
# processes, so compiled code uses the handle of the running MPI (e.handle) instead.
GROUP_NULL = MPI._handleof(MPI.GROUP_NULL)
GROUP_EMPTY = MPI._handleof(MPI.GROUP_EMPTY)
_ERR_GROUP = ABI.ERROR_CLASSES["ERR_GROUP"]

__all__ = ["comm_group", "group_incl", "group_excl", "group_size", "group_rank", "group_translate_ranks", "group_free"]


def _group_or_null(e, code, group):
    """``(code, group)``, the group ``GROUP_NULL`` if MPI failed (it may leave it unset)."""
    return e.tuple(code, e.select(code == 0, group, e.handle("GROUP_NULL")))


def _status_and_value(c_function):
    """The body of group_size/group_rank: ``(status, value)`` of ``c_function(group)``."""
    return lowering(types.UniTuple(types.int32, 2))(lambda e, group: e(c_function, group))


_CODE_GROUP = types.Tuple((types.int32, HANDLE))
_COMM_GROUP = lowering(_CODE_GROUP)(lambda e, comm: _group_or_null(e, *e.unpack(e(capi.MPI_Comm_group, e.comm(comm)))))
_GROUP_SIZE, _GROUP_RANK = _status_and_value(capi.MPI_Group_size), _status_and_value(capi.MPI_Group_rank)


def _subset(c_function):
    """The body of group_incl/group_excl: ``c_function(group, n, ranks)`` makes the new group."""

    @lowering(_CODE_GROUP)
    def body(e, group, ranks):
        cranks = e.c_ints(ranks)
        return _group_or_null(e, *e.unpack(e(c_function, group, e.size(cranks), cranks)))

    return body


_GROUP_INCL, _GROUP_EXCL = _subset(capi.MPI_Group_incl), _subset(capi.MPI_Group_excl)


def _subset_arguments(group, ranks) -> None:
    """The arguments of group_incl/group_excl: a group and ranks in it."""
    group_handle(group)
    int_sequence(ranks, "ranks")


@lowering(types.Tuple((types.int32, types.Array(types.int32, 1, "C"))))
def _GROUP_TRANSLATE_RANKS(e, group1, ranks, group2):
    cranks = e.c_ints(ranks)
    result = e.zeros(e.size(cranks))
    return e.tuple(e(capi.MPI_Group_translate_ranks, group1, e.size(cranks), cranks, group2, result), result)


@lowering(_CODE_GROUP)
def _GROUP_FREE(e, group):
    null = e.handle("GROUP_NULL")  # GROUP_NULL and GROUP_EMPTY never reach MPI
    code, result = e.variable(e.const(_ERR_GROUP, types.int32)), e.variable(null)
    with e.when(group != null):
        code.set(0)
        with e.when(group != e.handle("GROUP_EMPTY")):
            status, handle = e.unpack(e(capi.MPI_Group_free, group))
            code.set(status)
            result.set(e.select(status == 0, null, handle))
    return e.tuple(code.get(), result.get())


@api
def comm_group(comm=None):
    """``(status, group)``: the group of ``comm`` (``MPI_Comm_group``).

    >>> import mpi4numba
    >>> status, group = mpi4numba.comm_group()
    >>> status, mpi4numba.group_size(group)[1] == mpi4numba.size(), mpi4numba.group_free(group)[0]
    (0, True, 0)
    """
    return _COMM_GROUP


@api
def group_incl(group, ranks):
    """``(status, newgroup)``: the processes ``ranks`` of ``group``, in that order (``MPI_Group_incl``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, first = mpi4numba.group_incl(world, (0,))
    >>> status, mpi4numba.group_size(first), mpi4numba.group_free(first)[0], mpi4numba.group_free(world)[0]
    (0, (0, 1), 0, 0)
    """
    _subset_arguments(group, ranks)
    return _GROUP_INCL


@api
def group_excl(group, ranks):
    """``(status, newgroup)``: ``group`` without the processes ``ranks`` (``MPI_Group_excl``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, rest = mpi4numba.group_excl(world, (0,))
    >>> status, mpi4numba.group_size(rest)[1] == mpi4numba.size() - 1
    (0, True)
    >>> mpi4numba.group_free(rest)[0], mpi4numba.group_free(world)[0]
    (0, 0)
    """
    _subset_arguments(group, ranks)
    return _GROUP_EXCL


@api
def group_size(group):
    """``(status, size)``: the number of processes in ``group`` (``MPI_Group_size``).

    >>> import mpi4numba
    >>> mpi4numba.group_size(mpi4numba.groups.GROUP_EMPTY)
    (0, 0)
    """
    group_handle(group)
    return _GROUP_SIZE


@api
def group_rank(group):
    """``(status, rank)``: this process's rank in ``group``, ``UNDEFINED`` if not a member.

    >>> import mpi4numba
    >>> mpi4numba.group_rank(mpi4numba.groups.GROUP_EMPTY)[1] == mpi4numba.UNDEFINED
    True
    """
    group_handle(group)
    return _GROUP_RANK


@api
def group_translate_ranks(group1, ranks, group2):
    """``(status, ranks2)``: the ranks in ``group2`` of processes ``ranks`` of ``group1``, as
    an int32 array (``UNDEFINED`` where not a member; ``MPI_Group_translate_ranks``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, self_ = mpi4numba.comm_group(mpi4numba.COMM_SELF)
    >>> status, ranks = mpi4numba.group_translate_ranks(self_, (0,), world)
    >>> status, int(ranks[0]) == mpi4numba.rank()
    (0, True)
    >>> mpi4numba.group_free(self_)[0], mpi4numba.group_free(world)[0]
    (0, 0)
    """
    group_handle(group1, "group1")
    group_handle(group2, "group2")
    int_sequence(ranks, "ranks")
    return _GROUP_TRANSLATE_RANKS


@api
def group_free(group):
    """``(status, GROUP_NULL)``: free ``group`` (``MPI_Group_free``); rebind the variable to
    the second value so the freed handle is not used again.

    >>> import mpi4numba
    >>> status, group = mpi4numba.comm_group()
    >>> status, group = mpi4numba.group_free(group)
    >>> status, group == mpi4numba.groups.GROUP_NULL, mpi4numba.group_free(group)[0] != 0
    (0, True, True)
    """
    group_handle(group)
    return _GROUP_FREE
