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

import numpy as np
from numba import carray
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload, register_jitable

from . import _capi
from ._api import api
from ._ccall import predefined
from ._commtype import comm_handle
from ._runtime import ABI, MPI

# For comparisons in Python only: on Open MPI these are addresses that differ between
# processes, so compiled code uses predefined("GROUP_NULL") (resolved by symbol) instead.
GROUP_NULL = MPI._handleof(MPI.GROUP_NULL)
GROUP_EMPTY = MPI._handleof(MPI.GROUP_EMPTY)
_ERR_GROUP = ABI.ERROR_CLASSES["ERR_GROUP"]

__all__ = ["comm_group", "group_incl", "group_excl", "group_size", "group_rank", "group_translate_ranks",
           "group_free"]

# Up to this many C ints are converted on the stack (no heap allocation on hot paths).
STACK_INTS = 16


def int_sequence(value: types.Type, where: str, what: str) -> None:
    """Check that ``value`` is a 1-D integer/bool array, or a tuple or list of integers."""
    if isinstance(value, types.Array):
        if value.ndim == 1 and isinstance(value.dtype, (types.Integer, types.Boolean)):
            return
    elif isinstance(value, (types.UniTuple, types.List)) and isinstance(value.dtype, (types.Integer, types.Boolean)):
        return
    elif isinstance(value, types.Tuple) and not value.types:
        return
    raise TypingError(f"mpi4numba.{where}: {what} must be a 1-D integer array, or a tuple or list of integers "
                      f"of one type, got {value}")


@intrinsic
def _stack_int32(typingctx):
    """A pointer to ``STACK_INTS`` C ints on the stack of the function being compiled."""

    def codegen(context, builder, sig, args):
        slots = cgutils.alloca_once(builder, ir.ArrayType(ir.IntType(32), STACK_INTS))
        return builder.bitcast(slots, ir.IntType(32).as_pointer())

    return types.CPointer(types.int32)(), codegen


def c_int_array(values):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(c_int_array, inline="always")  # inlined: the stack scratch must live in the caller's frame
def _c_int_array_impl(values):
    """``values`` as a C-contiguous int32 array: int32 arrays as they are, anything else
    copied (onto the stack when short); a value that does not fit a C int raises ValueError."""
    if isinstance(values, types.Array) and values.dtype == types.int32 and values.layout == "C":
        return lambda values: values
    if isinstance(values, (types.NoneType, types.Omitted)):  # optional arguments left out
        return lambda values: carray(_stack_int32(), 0)
    if isinstance(values, types.Tuple) and not values.types:
        return lambda values: carray(_stack_int32(), 0)
    # The scratch is taken here, in the caller's frame; the copy is an ordinary call.
    return lambda values: _copy_ints(values, _stack_int32())


@register_jitable
def _copy_ints(values, scratch):
    """``values`` as C ints, in the ``STACK_INTS`` ints at ``scratch`` if they fit, else on the heap."""
    n = len(values)
    out = carray(scratch, n) if n <= STACK_INTS else np.empty(n, np.int32)
    for i in range(n):
        out[i] = values[i]
        if out[i] != values[i]:
            raise ValueError("mpi4numba: a value does not fit a C int")
    return out


@api
def comm_group(comm=None):
    """``(status, group)``: the group of ``comm`` (``MPI_Comm_group``).

    >>> import mpi4numba
    >>> status, group = mpi4numba.comm_group()
    >>> status, mpi4numba.group_size(group)[1] == mpi4numba.size(), mpi4numba.group_free(group)[0]
    (0, True, 0)
    """

    def impl(comm=None):
        code, group = _capi.MPI_Comm_group(comm_handle(comm))
        return code, group if code == 0 else predefined("GROUP_NULL")

    return impl


def _group(value: types.Type, where: str, what: str = "group") -> None:
    if not isinstance(value, types.Integer):
        raise TypingError(f"mpi4numba.{where}: {what} must be a group handle (an integer), got {value}")


@api
def group_incl(group, ranks):
    """``(status, newgroup)``: the processes ``ranks`` of ``group``, in that order (``MPI_Group_incl``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, first = mpi4numba.group_incl(world, (0,))
    >>> status, mpi4numba.group_size(first), mpi4numba.group_free(first)[0], mpi4numba.group_free(world)[0]
    (0, (0, 1), 0, 0)
    """
    _group(group, "group_incl")
    int_sequence(ranks, "group_incl", "ranks")

    def impl(group, ranks):
        cranks = c_int_array(ranks)
        code, newgroup = _capi.MPI_Group_incl(group, cranks.size, cranks)
        return code, newgroup if code == 0 else predefined("GROUP_NULL")  # MPI may leave it unset

    return impl


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
    _group(group, "group_excl")
    int_sequence(ranks, "group_excl", "ranks")

    def impl(group, ranks):
        cranks = c_int_array(ranks)
        code, newgroup = _capi.MPI_Group_excl(group, cranks.size, cranks)
        return code, newgroup if code == 0 else predefined("GROUP_NULL")  # MPI may leave it unset

    return impl


@api
def group_size(group):
    """``(status, size)``: the number of processes in ``group`` (``MPI_Group_size``).

    >>> import mpi4numba
    >>> mpi4numba.group_size(mpi4numba.groups.GROUP_EMPTY)
    (0, 0)
    """
    _group(group, "group_size")
    return lambda group: _capi.MPI_Group_size(group)


@api
def group_rank(group):
    """``(status, rank)``: this process's rank in ``group``, ``UNDEFINED`` if not a member.

    >>> import mpi4numba
    >>> mpi4numba.group_rank(mpi4numba.groups.GROUP_EMPTY)[1] == mpi4numba.UNDEFINED
    True
    """
    _group(group, "group_rank")
    return lambda group: _capi.MPI_Group_rank(group)


@api
def group_translate_ranks(group1, ranks, group2):
    """``(status, ranks2)``: the ranks in ``group2`` of processes ``ranks`` of ``group1``, as
    an int32 array (``UNDEFINED`` where not a member; ``MPI_Group_translate_ranks``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, self_ = mpi4numba.comm_group(mpi4numba.COMM_SELF)
    >>> status, ranks = mpi4numba.group_translate_ranks(self_, (0,), world)
    >>> status, ranks[0] == mpi4numba.rank()
    (0, True)
    >>> mpi4numba.group_free(self_)[0], mpi4numba.group_free(world)[0]
    (0, 0)
    """
    _group(group1, "group_translate_ranks", "group1")
    _group(group2, "group_translate_ranks", "group2")
    int_sequence(ranks, "group_translate_ranks", "ranks")

    def impl(group1, ranks, group2):
        cranks = c_int_array(ranks)
        result = np.empty(cranks.size, np.int32)
        code = _capi.MPI_Group_translate_ranks(group1, cranks.size, cranks, group2, result)
        return code, result

    return impl


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
    _group(group, "group_free")

    def impl(group):
        null = predefined("GROUP_NULL")
        if group == null:
            return np.int32(_ERR_GROUP), null
        if group == predefined("GROUP_EMPTY"):
            return np.int32(0), null
        code, handle = _capi.MPI_Group_free(group)
        return code, (handle if code != 0 else null)

    return impl
