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

import ctypes

from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import (
    NativeValue,
    box,
    make_attribute_wrapper,
    models,
    register_model,
    typeof_impl,
    unbox,
)

from . import _capi
from ._api import api, lowering
from ._runtime import ABI, MPI
from .datatypes import mpi_datatype, pair_type

__all__ = ["StatusType", "status_type", "get_count"]

_FIELDS = {ABI.STATUS_SOURCE_OFFSET: "source", ABI.STATUS_TAG_OFFSET: "tag", ABI.STATUS_ERROR_OFFSET: "error"}
# The status as 32-bit words; the public fields are named, the ABI's private ones are not.
_WORDS = [(_FIELDS.get(offset, f"_word{offset // 4}"), types.int32) for offset in range(0, ABI.STATUS_BYTES, 4)]


class StatusType(types.Type):
    """Numba type of an ``MPI_Status`` held by value (the running ABI's bytes)."""

    def __init__(self) -> None:
        super().__init__(name=f"mpi4numba.Status({ABI.NAME})")


status_type = StatusType()


@register_model(StatusType)
class _StatusModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _WORDS)


for _field in ("source", "tag", "error"):
    make_attribute_wrapper(StatusType, _field, _field)


@typeof_impl.register(MPI.Status)
def _typeof_status(value, context):
    return status_type


def _address_of(status) -> int:
    return MPI._addressof(status)


def _from_bytes(raw: bytes):
    status = MPI.Status()
    ctypes.memmove(MPI._addressof(status), raw, ABI.STATUS_BYTES)
    return status


@unbox(StatusType)
def _unbox_status(typ, obj, c):
    helper = c.pyapi.unserialize(c.pyapi.serialize_object(_address_of))
    address = c.pyapi.call_function_objargs(helper, [obj])
    failed = cgutils.is_null(c.builder, address)
    llty = c.context.get_value_type(typ)
    result = cgutils.alloca_once_value(c.builder, llty(None))
    with c.builder.if_then(c.builder.not_(failed), likely=True):
        pointer = c.builder.inttoptr(c.pyapi.long_as_ulonglong(address), llty.as_pointer())
        c.builder.store(c.builder.load(pointer), result)
        c.pyapi.decref(address)
    return NativeValue(c.builder.load(result), is_error=failed)


@box(StatusType)
def _box_status(typ, val, c):
    slot = cgutils.alloca_once_value(c.builder, val)
    raw = c.pyapi.bytes_from_string_and_size(
        c.builder.bitcast(slot, cgutils.voidptr_t), c.context.get_constant(types.intp, ABI.STATUS_BYTES)
    )
    helper = c.pyapi.unserialize(c.pyapi.serialize_object(_from_bytes))
    result = c.pyapi.call_function_objargs(helper, [raw])
    c.pyapi.decref(raw)
    return result


def _element_type(like: types.Type) -> types.Type:
    """The element type that ``like`` (an array, a NumPy scalar type or a dtype) names."""
    if isinstance(like, types.Array):
        return like.dtype
    if isinstance(like, types.NumberClass):
        return like.instance_type
    if isinstance(like, types.DType):
        return like.dtype
    raise TypingError(
        "mpi4numba.get_count: the second argument must be a NumPy array (or a NumPy scalar "
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
        raise TypingError(f"mpi4numba.get_count: status must be a status (mpi4py MPI.Status or mpi4numba), got {status}")
    dtype = _element_type(like)
    name, per_element = mpi_datatype(dtype, "mpi4numba.get_count")
    if isinstance(dtype, types.Record) and pair_type(dtype) is None:
        # a struct type's message carries the fields without padding: count in that type
        if not isinstance(like, types.Array):
            raise TypingError("mpi4numba.get_count: for a structured dtype pass an array of it as 'like'")
        return _counting(lambda e, like: e.element_type(like)[0])
    return _counting(lambda e, like: e.handle(name), per_element)


def _counting(datatype, per_element: int = 1):
    """The body of get_count in elements of ``datatype(e, like)``; with ``per_element`` of
    them per array element (S<n>: bytes), a count that is not a whole number of elements
    is ``UNDEFINED``."""
    undefined = ABI.UNDEFINED
    if per_element == 1:
        return lowering(types.UniTuple(types.int32, 2))(
            lambda e, status, like: e(_capi.MPI_Get_count, status, datatype(e, like)))

    @lowering(types.Tuple((types.int32, types.int64)))
    def in_elements(e, status, like):
        code, count = e.unpack(e(_capi.MPI_Get_count, status, datatype(e, like)))
        whole = (count != undefined) & (count % per_element == 0)
        return e.tuple(code, e.select(whole, count // per_element, undefined))

    return in_elements
