"""NumPy dtypes as MPI's predefined datatypes: which exist, their names, pair types.

The vocabulary of typing checks (see :mod:`mpi4numba._support.validate`) and of the
derived datatypes built for other layouts (see :mod:`mpi4numba._support.datatypes`).
An unsupported dtype is a ``TypingError`` that says ``mpi4numba: ...``; the routine's
name is filled in by ``@api``.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba.core import types
from numba.core.errors import TypingError

_NUMBA_TO_MPI = {
    types.int8: "INT8_T",
    types.int16: "INT16_T",
    types.int32: "INT32_T",
    types.int64: "INT64_T",
    types.uint8: "UINT8_T",
    types.uint16: "UINT16_T",
    types.uint32: "UINT32_T",
    types.uint64: "UINT64_T",
    types.float32: "FLOAT",
    types.float64: "DOUBLE",
    types.complex64: "C_FLOAT_COMPLEX",
    types.complex128: "C_DOUBLE_COMPLEX",
    types.boolean: "C_BOOL",
}

SUPPORTED_DTYPES = (*tuple(np.dtype(str(t)) for t in _NUMBA_TO_MPI), np.dtype("S1"))


def _c_pair(value: type) -> tuple[int, int]:
    """(offset of ``index``, size) of the C struct ``{value_type value; int index;}``."""

    class Pair(ctypes.Structure):
        _fields_ = [("value", value), ("index", ctypes.c_int)]

    return Pair.index.offset, ctypes.sizeof(Pair)


# value type -> (MPI pair type, offset of the int, struct size) on this platform
_PAIRS = {
    types.float32: ("FLOAT_INT", *_c_pair(ctypes.c_float)),
    types.float64: ("DOUBLE_INT", *_c_pair(ctypes.c_double)),
    types.int16: ("SHORT_INT", *_c_pair(ctypes.c_short)),
    types.int32: ("TWOINT", *_c_pair(ctypes.c_int)),
    getattr(types, f"int{8 * ctypes.sizeof(ctypes.c_long)}"): ("LONG_INT", *_c_pair(ctypes.c_long)),
}


def _pair_fields(record: types.Record) -> tuple | None:
    """The (value, int32) fields of a two-field record, or None."""
    fields = list(record.fields.values())
    if len(fields) == 2 and fields[0].type in _PAIRS and fields[1].type == types.int32:
        return fields[0], fields[1]
    return None


def pair_type(record: types.Type) -> str | None:
    """MPI's predefined pair type for a record laid out as ``{T value; int index;}``."""
    fields = _pair_fields(record) if isinstance(record, types.Record) else None
    if fields is None:
        return None
    name, offset, size = _PAIRS[fields[0].type]
    if fields[0].offset == 0 and fields[1].offset == offset and record.size == size:
        return name
    return None


def pair_problem(record: types.Type) -> str:
    """Why ``record`` is not a (value, index) pair MINLOC/MAXLOC can reduce."""
    fields = _pair_fields(record) if isinstance(record, types.Record) else None
    if fields is None:
        values = ", ".join(str(t) for t in _PAIRS)
        return (
            f"MINLOC/MAXLOC reduce (value, index) pairs: a structured dtype with a value field "
            f"({values}) and an int32 index field, got {record}"
        )
    name, offset, size = _PAIRS[fields[0].type]
    return (
        f"the pair dtype {record} is not laid out like MPI's {name} (C struct: index at offset "
        f"{offset}, itemsize {size}); create it with np.dtype([...], align=True)"
    )


def dtype_leaves(dtype: types.Type, offset: int) -> list[tuple[str, int, int]]:
    """(predefined type, block length, byte offset) of every basic field, nested ones included."""
    if dtype in _NUMBA_TO_MPI:
        return [(_NUMBA_TO_MPI[dtype], 1, offset)]
    if isinstance(dtype, types.CharSeq):
        return [("BYTE", dtype.count, offset)]
    if isinstance(dtype, types.NestedArray):
        if isinstance(dtype.dtype, types.Record):
            return [
                leaf for i in range(dtype.nitems) for leaf in dtype_leaves(dtype.dtype, offset + i * dtype.dtype.size)
            ]
        ((name, length, _),) = dtype_leaves(dtype.dtype, 0)
        return [(name, length * dtype.nitems, offset)]
    if isinstance(dtype, types.Record):
        return [leaf for field in dtype.fields.values() for leaf in dtype_leaves(field.type, offset + field.offset)]
    supported = ", ".join(str(t) for t in _NUMBA_TO_MPI) + ", bytes (S<n>), structured dtypes of these"
    raise TypingError(f"mpi4numba: unsupported dtype {dtype}; mpi4numba supports {supported}")


def leaf_types(record: types.Record) -> set[str]:
    """The predefined MPI types that a structured dtype's fields (nested ones included) are made of."""
    return {name for name, _, _ in dtype_leaves(record, 0)}


def mpi_datatype(dtype: types.Type) -> tuple[str, int]:
    """(predefined MPI datatype name, elements of it per array element) for a Numba dtype.

    A structured dtype is its pair type if it has that layout, else ``("BYTE", itemsize)``
    (its raw bytes); :func:`buffer` gives the struct type instead.
    """
    if dtype in _NUMBA_TO_MPI:
        return _NUMBA_TO_MPI[dtype], 1
    if isinstance(dtype, types.CharSeq):
        return "BYTE", dtype.count
    if isinstance(dtype, types.Record):
        dtype_leaves(dtype, 0)
        return pair_type(dtype) or "BYTE", 1 if pair_type(dtype) else dtype.size
    return dtype_leaves(dtype, 0)[0][:2]  # raises: unsupported
