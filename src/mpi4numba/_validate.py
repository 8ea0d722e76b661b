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
