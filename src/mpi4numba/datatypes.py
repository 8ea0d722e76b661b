"""NumPy dtypes as MPI datatypes, and arrays as MPI buffers (pointer, count, datatype).

Supported element types: int8-64, uint8-64, float32/64, complex64/128, bool and
fixed-width bytes (``S<n>``). Any other dtype is a Numba typing error that names it.
A message holds an array's elements in C (row-major) index order. C-contiguous arrays
are passed as they are; any other layout (a strided view, a Fortran-ordered block) is
described to MPI by a derived datatype built from its shape and strides, so data is not
copied; the type is freed right after the call (MPI keeps it alive for operations still
in flight).
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._ccall import predefined

_NUMBA_TO_MPI = {
    types.int8: "INT8_T", types.int16: "INT16_T", types.int32: "INT32_T", types.int64: "INT64_T",
    types.uint8: "UINT8_T", types.uint16: "UINT16_T", types.uint32: "UINT32_T", types.uint64: "UINT64_T",
    types.float32: "FLOAT", types.float64: "DOUBLE",
    types.complex64: "C_FLOAT_COMPLEX", types.complex128: "C_DOUBLE_COMPLEX",
    types.boolean: "C_BOOL",
}

SUPPORTED_DTYPES = tuple(np.dtype(str(t)) for t in _NUMBA_TO_MPI) + (np.dtype("S1"),)


def mpi_datatype(dtype: types.Type, where: str) -> tuple[str, int]:
    """(predefined MPI datatype name, elements of it per array element) for a Numba dtype."""
    if dtype in _NUMBA_TO_MPI:
        return _NUMBA_TO_MPI[dtype], 1
    if isinstance(dtype, types.CharSeq):
        return "BYTE", dtype.count
    supported = ", ".join(str(t) for t in _NUMBA_TO_MPI) + ", bytes (S<n>)"
    raise TypingError(f"{where}: unsupported dtype {dtype}; mpi4numba supports {supported}")


def require_array(value: types.Type, where: str, what: str) -> None:
    if not isinstance(value, types.Array):
        raise TypingError(f"{where}: {what} must be a NumPy array, got {value}")


def _buffer_stub(array, where):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@register_jitable  # the slow path: kept out of line
def _strided_datatype(array, base, per_element):
    """Derived datatype (nested hvectors) that walks ``array`` through its strides."""
    ndim = array.ndim
    code, datatype = _capi.MPI_Type_create_hvector(
        array.shape[ndim - 1], per_element, array.strides[ndim - 1], base
    )
    for axis in range(ndim - 2, -1, -1):
        if code != 0:
            break
        code, outer = _capi.MPI_Type_create_hvector(array.shape[axis], 1, array.strides[axis], datatype)
        _capi.MPI_Type_free(datatype)
        datatype = outer
    if code == 0:
        code, datatype = _capi.MPI_Type_commit(datatype)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for a strided array")
    return datatype


@overload(_buffer_stub, prefer_literal=True, inline="always")
def _buffer_impl(array, where):
    """``(address, count, datatype, derived)``: ``derived`` types must be freed after use."""
    label = where.literal_value if isinstance(where, types.StringLiteral) else "mpi4numba"
    require_array(array, label, "the buffer")
    name, per_element = mpi_datatype(array.dtype, label)
    if array.layout == "C" or (array.ndim <= 1 and array.layout == "F"):

        def contiguous(array, where):
            return array.ctypes.data, array.size * per_element, predefined(name), False

        return contiguous

    def strided(array, where):
        base = predefined(name)
        if array.flags.c_contiguous or array.size == 0:
            return array.ctypes.data, array.size * per_element, base, False
        return array.ctypes.data, 1, _strided_datatype(array, base, per_element), True

    return strided


buffer = _buffer_stub


def element_type(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(element_type, inline="always")
def _element_type_impl(array):
    """``(datatype, count per element)`` of an array's dtype, e.g. ``(BYTE, 4)`` for S4."""
    require_array(array, "mpi4numba", "the buffer")
    name, per_element = mpi_datatype(array.dtype, "mpi4numba")
    return lambda array: (predefined(name), per_element)


@register_jitable(inline="always")
def release(datatype, derived):
    """Free a datatype that :func:`buffer` derived for a strided array."""
    if derived:
        _capi.MPI_Type_free(datatype)
