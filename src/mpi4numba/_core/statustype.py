"""``MPI_Status`` held by value in compiled code: its Numba type, data model, boxing.

A status is a :class:`StatusType` value holding the raw bytes of the running ABI's
``MPI_Status`` (``STATUS_BYTES``), like a tuple: no heap memory. ``status.source``,
``status.tag`` and ``status.error`` read the fields at the ABI's offsets. Boxed, it is an
``mpi4py.MPI.Status`` with the same bytes; an ``MPI.Status`` unboxes to a copy of its bytes.
"""

from __future__ import annotations

import ctypes

from numba.core import cgutils, types
from numba.extending import (
    NativeValue,
    box,
    make_attribute_wrapper,
    models,
    register_model,
    typeof_impl,
    unbox,
)

from .runtime import ABI, MPI

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
