"""NumPy dtypes as MPI datatypes, and arrays as MPI buffers (pointer, count, datatype).

Supported element types: int8-64, uint8-64, float32/64, complex64/128, bool, fixed-width
bytes (``S<n>``) and structured dtypes made of these (padding, nested records and
sub-array fields included). Any other dtype is a Numba typing error that names it.

A message holds an array's elements in C (row-major) index order. C-contiguous arrays
are passed as they are; any other layout (a strided view, a Fortran-ordered block, a
negative step) is described to MPI by a derived datatype built from its shape and
strides, so data is not copied. Structured dtypes become ``MPI_Type_create_struct``
types resized to the itemsize; a two-field dtype laid out like the C struct
``{T value; int index;}`` (``np.dtype([("value", "f8"), ("index", "i4")], align=True)``)
is MPI's predefined pair type (``DOUBLE_INT`` ...), usable with MINLOC/MAXLOC.
Derived types are built once per process and kept in a cache (see ``_typecache``).
"""

from __future__ import annotations

import ctypes
import hashlib

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.np import numpy_support
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import intrinsic, overload, register_jitable

from . import _capi
from . import _typecache as cache
from ._ccall import HANDLE_DTYPE, _guard, _native_handle, predefined, predefined_native
from ._largecount import INT_MAX, NEEDS_FALLBACK, large_datatype
from ._typecache import MISS_FULL

_NUMBA_TO_MPI = {
    types.int8: "INT8_T", types.int16: "INT16_T", types.int32: "INT32_T", types.int64: "INT64_T",
    types.uint8: "UINT8_T", types.uint16: "UINT16_T", types.uint32: "UINT32_T", types.uint64: "UINT64_T",
    types.float32: "FLOAT", types.float64: "DOUBLE",
    types.complex64: "C_FLOAT_COMPLEX", types.complex128: "C_DOUBLE_COMPLEX",
    types.boolean: "C_BOOL",
}

SUPPORTED_DTYPES = tuple(np.dtype(str(t)) for t in _NUMBA_TO_MPI) + (np.dtype("S1"),)


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
        return (f"MINLOC/MAXLOC reduce (value, index) pairs: a structured dtype with a value field "
                f"({values}) and an int32 index field, got {record}")
    name, offset, size = _PAIRS[fields[0].type]
    return (f"the pair dtype {record} is not laid out like MPI's {name} (C struct: index at offset "
            f"{offset}, itemsize {size}); create it with np.dtype([...], align=True)")


def _leaves(dtype: types.Type, offset: int, where: str) -> list[tuple[str, int, int]]:
    """(predefined type, block length, byte offset) of every basic field, nested ones included."""
    if dtype in _NUMBA_TO_MPI:
        return [(_NUMBA_TO_MPI[dtype], 1, offset)]
    if isinstance(dtype, types.CharSeq):
        return [("BYTE", dtype.count, offset)]
    if isinstance(dtype, types.NestedArray):
        if isinstance(dtype.dtype, types.Record):
            return [leaf for i in range(dtype.nitems) for leaf in _leaves(dtype.dtype, offset + i * dtype.dtype.size, where)]
        ((name, length, _),) = _leaves(dtype.dtype, 0, where)
        return [(name, length * dtype.nitems, offset)]
    if isinstance(dtype, types.Record):
        return [leaf for field in dtype.fields.values() for leaf in _leaves(field.type, offset + field.offset, where)]
    supported = ", ".join(str(t) for t in _NUMBA_TO_MPI) + ", bytes (S<n>), structured dtypes of these"
    raise TypingError(f"{where}: unsupported dtype {dtype}; mpi4numba supports {supported}")


def leaf_types(record: types.Record, where: str) -> set[str]:
    """The predefined MPI types that a structured dtype's fields (nested ones included) are made of."""
    return {name for name, _, _ in _leaves(record, 0, where)}


def _fingerprint(record: types.Record, leaves: list) -> int:
    """A 63-bit digest of the layout: the same in every process, so cached code may use it."""
    digest = hashlib.blake2b(repr((record.size, leaves)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def mpi_datatype(dtype: types.Type, where: str) -> tuple[str, int]:
    """(predefined MPI datatype name, elements of it per array element) for a Numba dtype.

    A structured dtype is its pair type if it has that layout, else ``("BYTE", itemsize)``
    (its raw bytes); :func:`buffer` gives the struct type instead.
    """
    if dtype in _NUMBA_TO_MPI:
        return _NUMBA_TO_MPI[dtype], 1
    if isinstance(dtype, types.CharSeq):
        return "BYTE", dtype.count
    if isinstance(dtype, types.Record):
        _leaves(dtype, 0, where)
        return pair_type(dtype) or "BYTE", 1 if pair_type(dtype) else dtype.size
    return _leaves(dtype, 0, where)[0][:2]  # raises: unsupported


def pair_dtype(value: np.dtype | type | str = np.float64) -> np.dtype:
    """The structured dtype of (value, index) pairs for MINLOC/MAXLOC: ``value`` (float32,
    float64, int16, int32 or int64) and an int32 ``index``, laid out like MPI's pair types.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.datatypes import pair_dtype
    >>> mine = np.zeros(1, pair_dtype(np.float64))
    >>> mine["value"], mine["index"] = 2.5, mpi4numba.rank()  # the same value everywhere
    >>> best = np.empty_like(mine)
    >>> mpi4numba.allreduce(mine, best, mpi4numba.Operator.MAXLOC), best.tolist()  # a tie: the lowest index
    (0, [(2.5, 0)])
    """
    dtype = np.dtype([("value", np.dtype(value)), ("index", np.int32)], align=True)
    if pair_type(numpy_support.from_dtype(dtype)) is None:
        raise ValueError(f"mpi4numba: MPI has no (value, index) pair type for {np.dtype(value)}")
    return dtype


def datatype_cache_info() -> dict[str, int]:
    """Counters of this process's cache of derived datatypes: ``hits`` (a cached type was
    reused), ``cached`` (types built and kept), ``uncached`` (built and freed per call, the
    table being full) and ``entries``.

    >>> from mpi4numba.datatypes import datatype_cache_info
    >>> sorted(datatype_cache_info())
    ['cached', 'entries', 'hits', 'uncached']
    """
    return cache.cache_info()


def require_array(value: types.Type, where: str, what: str) -> None:
    if not isinstance(value, types.Array):
        raise TypingError(f"{where}: {what} must be a NumPy array, got {value}")


@intrinsic
def _store_leaf_types(typingctx, address, like):
    """Write the predefined type of every leaf of ``like``'s record dtype, as native
    handles, into the array at ``address``."""
    leaves = _leaves(like.dtype, 0, "mpi4numba")

    def codegen(context, builder, sig, args):
        _guard(context)
        slots = builder.inttoptr(args[0], _native_handle.as_pointer())
        for i, (name, _, _) in enumerate(leaves):
            builder.store(predefined_native(builder, name), builder.gep(slots, [ir.Constant(ir.IntType(32), i)]))
        return context.get_dummy_value()

    return types.none(address, like), codegen


@register_jitable  # the slow path (once per dtype): kept out of line
def _build_struct(array, lengths, offsets):
    n = len(lengths)
    blocks = np.empty(n, np.int32)
    displacements = np.empty(n, np.int64)
    for i in range(n):
        blocks[i] = lengths[i]
        displacements[i] = offsets[i]
    leaf_types = np.empty(n, HANDLE_DTYPE)
    _store_leaf_types(leaf_types.ctypes.data, array)
    code, loose = _capi.MPI_Type_create_struct(n, blocks.ctypes.data, displacements.ctypes.data, leaf_types.ctypes.data)
    datatype = loose
    if code == 0:  # padding and trailing space: one element spans the itemsize
        code, datatype = _capi.MPI_Type_create_resized(loose, 0, array.itemsize)
        _capi.MPI_Type_free(loose)
    if code == 0:
        code, datatype = _capi.MPI_Type_commit(datatype)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for a structured dtype")
    return datatype


def _struct_datatype(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_struct_datatype)
def _struct_datatype_impl(array):
    """``(datatype, derived)`` of a structured dtype: cached, or built per call (derived)."""
    leaves = _leaves(array.dtype, 0, "mpi4numba")
    lengths = tuple(length for _, length, _ in leaves)
    offsets = tuple(offset for _, _, offset in leaves)
    fingerprint, itemsize, n = _fingerprint(array.dtype, leaves), array.dtype.size, len(leaves)

    def impl(array):
        row = cache.find_struct(fingerprint, itemsize, n)
        if row >= 0:
            return cache.cached_handle(row), False
        datatype = _build_struct(array, lengths, offsets)
        if row == cache.MISS_FULL:
            cache.count(cache.UNCACHED)
            return datatype, True
        cache.store_struct(-row - 1, fingerprint, itemsize, n, datatype)
        cache.count(cache.CACHED)
        return datatype, False

    return impl


def element_base(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(element_base)
def _element_base_impl(array):
    """``(datatype, derived, count per element)`` of an array's dtype: a predefined type,
    a pair type, or the (cached) struct type of a structured dtype."""
    require_array(array, "mpi4numba", "the buffer")
    if isinstance(array.dtype, types.Record) and pair_type(array.dtype) is None:
        return lambda array: (*_struct_datatype(array), 1)
    name, per_element = mpi_datatype(array.dtype, "mpi4numba")
    return lambda array: (predefined(name), False, per_element)


@register_jitable
def _spaced_elements(count, stride, base, per_element):
    """``(code, type)``: ``count`` array elements ``stride`` bytes apart, as
    ``contiguous(count, resized(element, stride))``."""
    element, code = base, 0
    if per_element != 1:
        code, element = _capi.MPI_Type_contiguous(per_element, base)
    if code != 0:
        return code, element
    code, spaced = _capi.MPI_Type_create_resized(element, 0, stride)
    if per_element != 1:
        _capi.MPI_Type_free(element)
    if code != 0:
        return code, spaced
    code, level = _capi.MPI_Type_contiguous(count, spaced)
    _capi.MPI_Type_free(spaced)
    return code, level


@register_jitable  # the slow path: kept out of line
def _build_strided(shape, strides, itemsize, base, per_element):
    """Nested levels walking ``shape``/``strides``: the innermost contiguous run is one
    block, then one level per remaining axis. Axes are not merged even where their strides
    would allow it: MPICH packs one long hvector of single elements about 2.5x slower than
    nested levels (a[:, :, 0] of a 256^3 grid); and a first level of single elements is
    ``contiguous(resized(element))``, which MPICH packs about 2x faster than
    ``hvector(count, 1, stride)``."""
    axis = len(shape) - 1
    block, run = per_element, itemsize
    while axis >= 0 and (shape[axis] == 1 or strides[axis] == run):
        block *= shape[axis]
        run *= shape[axis]
        axis -= 1
    if axis < 0:
        code, datatype = _capi.MPI_Type_contiguous(block, base)
    else:
        datatype, owned, code = base, False, 0
        count, stride = shape[axis], strides[axis]
        for outer in range(axis - 1, -2, -1):
            if outer >= 0 and shape[outer] == 1:
                continue
            if not owned and run == itemsize and stride > 0:
                code, level = _spaced_elements(count, stride, base, per_element)
            else:
                code, level = _capi.MPI_Type_create_hvector(count, block, stride, datatype)
            if owned:
                _capi.MPI_Type_free(datatype)
            datatype, owned, block = level, True, 1
            if code != 0 or outer < 0:
                break
            count, stride = shape[outer], strides[outer]
    if code == 0:
        code, datatype = _capi.MPI_Type_commit(datatype)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for a strided array")
    return datatype


@register_jitable
def strided_datatype(array, base, base_derived, per_element):
    """``(datatype, derived)`` describing ``array`` through its strides; cached per
    (base, per_element, shape, strides), so a repeated layout costs one table lookup."""
    return layout_datatype(array.shape, array.strides, array.itemsize, base, base_derived, per_element)


@register_jitable
def layout_datatype(shape, strides, itemsize, base, base_derived, per_element):
    """:func:`strided_datatype` of the elements at ``shape``/``strides``."""
    if base_derived:  # an uncached base has a fresh handle: nothing to find
        datatype = _build_strided(shape, strides, itemsize, base, per_element)
        _capi.MPI_Type_free(base)  # the new type keeps what it needs of it
        cache.count(cache.UNCACHED)
        return datatype, True
    row = cache.find_strided(base, per_element, shape, strides)
    if row >= 0:
        return cache.cached_handle(row), False
    datatype = _build_strided(shape, strides, itemsize, base, per_element)
    if row == cache.MISS_FULL:
        cache.count(cache.UNCACHED)
        return datatype, True
    cache.store_strided(-row - 1, base, per_element, shape, strides, datatype)
    cache.count(cache.CACHED)
    return datatype, False


@register_jitable
def _resized(inner, inner_derived, extent):
    """``(datatype, derived)``: ``inner`` with its extent set to ``extent`` bytes (cached)."""
    row = MISS_FULL if inner_derived else cache.find_resized(inner, extent)
    if row >= 0:
        return cache.cached_handle(row), False
    code, loose = _capi.MPI_Type_create_resized(inner, 0, extent)
    datatype = loose
    if code == 0:
        code, datatype = _capi.MPI_Type_commit(loose)
    release(inner, inner_derived)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for the blocks of a strided array")
    if row == MISS_FULL:
        cache.count(cache.UNCACHED)
        return datatype, True
    cache.store_resized(-row - 1, inner, extent, datatype)
    cache.count(cache.CACHED)
    return datatype, False


@register_jitable
def _unit_axis(shape, strides, granularity):
    """The first axis of the smallest trailing block of ``shape`` whose element count
    divides ``granularity`` and which repeats at one positive spacing in memory, with that
    spacing and element count: ``(axis, spacing, elements)``; axis 0 if there is none."""
    ndim = len(shape)
    elements = 1
    for axis in range(ndim, 0, -1):
        if axis < ndim:
            elements *= shape[axis]
            if strides[axis] < 0 and shape[axis] > 1:
                return 0, 0, 0  # a negative step inside the block: its lower bound is not its start
        if elements == 0 or granularity % elements != 0:
            continue
        spacing, span, regular = 0, 1, True
        for outer in range(axis - 1, -1, -1):
            if shape[outer] == 1:
                continue
            if span == 1:
                spacing, span = strides[outer], shape[outer]
            elif strides[outer] == spacing * span:
                span *= shape[outer]
            else:
                regular = False
                break
        if regular and span == 1:  # a single block: any spacing will do
            spacing = 1
        if regular and spacing > 0:
            return axis, spacing, elements
    return 0, 0, 0


@register_jitable
def block_datatype(array, granularity):
    """``(datatype, derived, elements, spacing)`` for a non-contiguous ``array`` seen as a
    sequence of equal blocks of ``elements`` elements each, ``spacing`` bytes apart, one MPI
    element of ``datatype`` per block, where ``elements`` divides ``granularity`` (every
    count and displacement of a collective); ``elements`` is 0 if the layout has no such
    description."""
    axis, spacing, elements = _unit_axis(array.shape, array.strides, granularity)
    if axis == 0:
        return predefined("BYTE"), False, 0, 0
    shape, strides = array.shape, array.strides
    for outer in range(axis):  # the block: the trailing axes at the array's first element
        shape = tuple_setitem(shape, outer, 1)
        strides = tuple_setitem(strides, outer, 0)
    base, base_derived, per_element = element_base(array)
    inner, inner_derived = layout_datatype(shape, strides, array.itemsize, base, base_derived, per_element)
    datatype, derived = _resized(inner, inner_derived, spacing)
    return datatype, derived, elements, spacing


def _buffer_stub(array, where):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


def _whole(address, count, base, derived):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_whole)
def _whole_impl(address, count, base, derived):
    """A contiguous buffer as ``(address, count, datatype, derived)``. Where the library has
    no large-count routines, more than INT_MAX elements become one element of a derived type."""
    if not NEEDS_FALLBACK:
        return lambda address, count, base, derived: (address, count, base, derived)

    def large_or_not(address, count, base, derived):
        if count > INT_MAX:
            large = large_datatype(base, count)
            release(base, derived)
            return address, 1, large, True
        return address, count, base, derived

    return large_or_not


@overload(_buffer_stub, prefer_literal=True)
def _buffer_impl(array, where):
    """``(address, count, datatype, derived)``: ``derived`` types must be freed after use."""
    label = where.literal_value if isinstance(where, types.StringLiteral) else "mpi4numba"
    require_array(array, label, "the buffer")
    mpi_datatype(array.dtype, label)
    if array.layout == "C" or (array.ndim <= 1 and array.layout == "F"):

        def contiguous(array, where):
            base, derived, per_element = element_base(array)
            return _whole(array.ctypes.data, array.size * per_element, base, derived)

        return contiguous

    def strided(array, where):
        base, base_derived, per_element = element_base(array)
        if array.flags.c_contiguous or array.size == 0:
            return _whole(array.ctypes.data, array.size * per_element, base, base_derived)
        datatype, derived = strided_datatype(array, base, base_derived, per_element)
        return array.ctypes.data, 1, datatype, derived

    return strided


buffer = _buffer_stub


def element_type(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(element_type)
def _element_type_impl(array):
    """``(datatype, count per element)`` of an array's dtype, e.g. ``(BYTE, 4)`` for S4.

    Structured dtypes give their cached struct type (an error if the cache is full).
    """
    require_array(array, "mpi4numba", "the buffer")
    mpi_datatype(array.dtype, "mpi4numba")

    def impl(array):
        datatype, derived, per_element = element_base(array)
        if derived:
            release(datatype, derived)
            raise RuntimeError("mpi4numba: the datatype cache is full; no room for a structured dtype")
        return datatype, per_element

    return impl


@register_jitable
def release(datatype, derived):
    """Free a datatype that :func:`buffer` derived (and could not cache)."""
    if derived:
        _capi.MPI_Type_free(datatype)
