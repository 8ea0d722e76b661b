"""``MPI_Status`` as a value: what a receive or a probe found (source, tag, error, size).

In compiled code a status is a :class:`StatusType` value that holds the raw bytes of the
running ABI's ``MPI_Status`` (``STATUS_BYTES``) by value, like a tuple: no heap memory.
``status.source``, ``status.tag`` and ``status.error`` read the fields at the ABI's
offsets. Returned to Python it becomes an ``mpi4py.MPI.Status`` holding the same bytes
(so ``status.Get_count(MPI.DOUBLE)`` works there too); an ``MPI.Status`` passed to a
routine of mpi4numba becomes a ``StatusType`` value.

Statuses come from :func:`~mpi4numba.p2p.probe`, :func:`~mpi4numba.p2p.iprobe`,
:func:`~mpi4numba.p2p.mprobe`, :func:`~mpi4numba.p2p.mrecv` and
:func:`~mpi4numba.p2p.recv_status`; :func:`get_count` says how many elements a message has.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError

from ._core import capi
from ._core.runtime import ABI
from ._core.statustype import StatusType, status_type
from ._support.api import api, lowers
from ._support.datatypes import mpi_datatype, pair_type

__all__ = ["StatusType", "status_type", "get_count"]


def _element_type(like: types.Type) -> types.Type:
    """The element type that ``like`` (an array, a NumPy scalar type or a dtype) names."""
    if isinstance(like, types.Array):
        return like.dtype
    if isinstance(like, types.NumberClass):
        return like.instance_type
    if isinstance(like, types.DType):
        return like.dtype
    raise TypingError(
        "mpi4numba: the second argument must be a NumPy array (or a NumPy scalar "
        f"type or dtype) whose dtype the message holds, got {like}"
    )


@api
def get_count(status, like):
    """``(code, count)``: how many elements of ``like``'s dtype the message of ``status``
    holds (``MPI_Get_count``); ``count`` is ``UNDEFINED`` if not a whole number of them.

    ``like`` is an array (its dtype is used), or a NumPy scalar type or dtype.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_status
    >>> from mpi4numba.status import get_count
    >>> me = mpi4numba.rank()
    >>> outgoing = np.arange(3.0)
    >>> _, request = mpi4numba.isend(outgoing, me)
    >>> code, status = recv_status(np.empty(8), me)
    >>> mpi4numba.wait(request), get_count(status, np.empty(0)), status.source == me
    (0, (0, 3), True)
    """
    if not isinstance(status, StatusType):
        raise TypingError(f"mpi4numba: status must be a status (mpi4py MPI.Status or mpi4numba), got {status}")
    return types.UniTuple(types.int32, 2) if _per_element(like) == 1 else types.Tuple((types.int32, types.int64))


def _per_element(like: types.Type) -> int:
    """How many MPI elements make one element of ``like``'s dtype (S<n>: n bytes); a struct
    type's message carries the fields without padding: it is counted in that type."""
    dtype = _element_type(like)
    if isinstance(dtype, types.Record) and pair_type(dtype) is None:
        if not isinstance(like, types.Array):
            raise TypingError("mpi4numba: for a structured dtype pass an array of it as 'like'")
        return 1
    return mpi_datatype(dtype)[1]


@lowers(get_count)
def _get_count(e, status, like):
    dtype = _element_type(like.type)
    if isinstance(dtype, types.Record) and pair_type(dtype) is None:
        datatype, _ = e.element_type(like)  # the struct type, counted as a whole
    else:
        datatype = e.handle(mpi_datatype(dtype)[0])
    per_element = _per_element(like.type)
    code, count = e.unpack(e(capi.MPI_Get_count, status, datatype))
    if per_element == 1:
        return e.tuple(code, count)
    # a count that is not a whole number of elements is UNDEFINED
    whole = count.ne(ABI.UNDEFINED).and_(count.mod(per_element).eq(0))
    return e.tuple(code, e.select(whole, count.floordiv(per_element), ABI.UNDEFINED))
