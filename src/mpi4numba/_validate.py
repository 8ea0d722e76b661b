"""Typing-time argument checks shared by all routines: one place, one wording."""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError

from .datatypes import mpi_datatype


def name_of(where: str) -> str:
    return f"mpi4numba.{where}"


def integer(value: types.Type, where: str, what: str) -> None:
    if isinstance(value, types.Omitted):
        value = types.typeof(value.value)
    if not isinstance(value, (types.Integer, types.IntEnumMember)):
        raise TypingError(f"{name_of(where)}: {what} must be an integer, got {value}")


def array(value: types.Type, where: str, what: str, writable: bool = False) -> types.Array:
    if not isinstance(value, types.Array):
        raise TypingError(f"{name_of(where)}: {what} must be a NumPy array, got {value}")
    mpi_datatype(value.dtype, name_of(where))
    if writable and not value.mutable:
        raise TypingError(f"{name_of(where)}: {what} is read-only and cannot receive data")
    return value


def same_dtype(a: types.Array, b: types.Array, where: str) -> None:
    if a.dtype != b.dtype:
        raise TypingError(f"{name_of(where)}: send and receive dtypes differ ({a.dtype} vs {b.dtype})")


def is_scalar(value: types.Type) -> bool:
    return isinstance(value, (types.Number, types.Boolean))


def send_data(value: types.Type, where: str, what: str, request: types.Type | None = None) -> types.Type:
    """What is only sent: an array, or (as numba-mpi accepts) a scalar, sent as one element.
    A scalar sent by a non-blocking routine lives in the request that routine makes."""
    if not is_scalar(value):
        return array(value, where, what)
    mpi_datatype(value, name_of(where))
    if request is not None and not isinstance(request, (types.NoneType, types.Omitted)):
        raise TypingError(f"{name_of(where)}: {what} is a scalar ({value}): it needs the request {where} makes "
                          "(which keeps the value); send an array to use your own request")
    return value

