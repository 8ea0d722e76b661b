"""Arrays as MPI buffers ``(address, count, datatype, derived)`` where the lowering vocabulary
(:mod:`mpi4numba._support.lowering`) does not emit them in place: jitted helpers, compiled only
for the call sites that need them, for the struct types of structured dtypes, the nested types
of strided layouts, the resized blocks of collectives and counts over INT_MAX. A type is built
once and kept in :mod:`mpi4numba._core.typecache`; a ``derived`` one (no room there, or a large
count) is freed after the call. What users see of this is told in :mod:`mpi4numba.datatypes`.
"""

from __future__ import annotations

import hashlib

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import intrinsic, overload, register_jitable

from .._core import capi
from .._core import typecache as cache
from .._core.cachetag import guard_cache
from .._core.ccall import predefined
from .._core.handles import HANDLE_DTYPE, NATIVE_HANDLE, predefined_native
from .._core.typecache import MISS_FULL
from . import validate
from .dtypes import dtype_leaves, mpi_datatype, pair_type
from .largecount import INT_MAX, NEEDS_FALLBACK, large_datatype


def _fingerprint(record: types.Record, leaves: list) -> int:
    """A 63-bit digest of the layout: the same in every process, so cached code may use it."""
    digest = hashlib.blake2b(repr((record.size, leaves)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@intrinsic
def _store_leaf_types(typingctx, slots, like):
    """Write the predefined type of every leaf of ``like``'s record dtype, as native
    handles, into the array ``slots``."""
    leaves = dtype_leaves(like.dtype, 0)

    def codegen(context, builder, sig, args):
        guard_cache(context, builder)
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        slots = builder.bitcast(data, NATIVE_HANDLE.as_pointer())
        for i, (name, _, _) in enumerate(leaves):
            builder.store(predefined_native(builder, name), builder.gep(slots, [ir.Constant(ir.IntType(32), i)]))
        return context.get_dummy_value()

    return types.none(slots, like), codegen


@register_jitable  # the slow path (once per dtype): kept out of line
def _build_struct(array, lengths, offsets):
    n = len(lengths)
    blocks = np.empty(n, np.int32)
    displacements = np.empty(n, np.int64)
    for i in range(n):
        blocks[i] = lengths[i]
        displacements[i] = offsets[i]
    leaf_types = np.empty(n, HANDLE_DTYPE)
    _store_leaf_types(leaf_types, array)
    # the arrays themselves, not their ``ctypes.data``: Numba frees an array after the last
    # statement that names it, which for ``a.ctypes.data`` comes before the call
    code, loose = capi.MPI_Type_create_struct(n, blocks, displacements, leaf_types)
    datatype = loose
    if code == 0:  # padding and trailing space: one element spans the itemsize
        code, datatype = capi.MPI_Type_create_resized(loose, 0, array.itemsize)
        capi.MPI_Type_free(loose)
    if code == 0:
        code, datatype = capi.MPI_Type_commit(datatype)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for a structured dtype")
    return datatype


def struct_datatype(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(struct_datatype)
def _struct_datatype_impl(array):
    """``(datatype, derived)`` of a structured dtype: cached, or built per call (derived)."""
    leaves = dtype_leaves(array.dtype, 0)
    lengths = tuple(length for _, length, _ in leaves)
    offsets = tuple(offset for _, _, offset in leaves)
    key = (_fingerprint(array.dtype, leaves), array.dtype.size, len(leaves))

    def impl(array):
        row = cache.find(cache.STRUCT, key)
        if row >= 0:
            return cache.cached_handle(row), False
        return cache.keep(row, cache.STRUCT, key, _build_struct(array, lengths, offsets))

    return impl


def element_base(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(element_base)
def _element_base_impl(array):
    """``(datatype, derived, count per element)`` of an array's dtype: a predefined type,
    a pair type, or the (cached) struct type of a structured dtype."""
    validate.array(array, "the buffer")
    if isinstance(array.dtype, types.Record) and pair_type(array.dtype) is None:
        return lambda array: (*struct_datatype(array), 1)
    name, per_element = mpi_datatype(array.dtype)
    return lambda array: (predefined(name), False, per_element)


@register_jitable
def _spaced_elements(count, stride, base, per_element):
    """``(code, type)``: ``count`` array elements ``stride`` bytes apart, as
    ``contiguous(count, resized(element, stride))``."""
    element, code = base, 0
    if per_element != 1:
        code, element = capi.MPI_Type_contiguous(per_element, base)
    if code != 0:
        return code, element
    code, spaced = capi.MPI_Type_create_resized(element, 0, stride)
    if per_element != 1:
        capi.MPI_Type_free(element)
    if code != 0:
        return code, spaced
    code, level = capi.MPI_Type_contiguous(count, spaced)
    capi.MPI_Type_free(spaced)
    return code, level


@register_jitable  # the slow path: kept out of line
def _build_strided(shape, strides, itemsize, base, per_element):
    """Nested levels walking ``shape``/``strides``: the innermost contiguous run is one
    block, then one level per remaining axis. Axes are not merged even where their strides
    would allow it: MPICH packs one long hvector of single elements about 2.5x slower than
    nested levels (a[:, :, 0] of a 256^3 grid); and a first level of single elements is
    ``contiguous(resized(element))``, which MPICH packs about 2x faster than
    ``hvector(count, 1, stride)``, and which is right where Open MPI (4.1, 5.0) is wrong:
    its ``hvector(count, 1, -1, <a 1-byte type>)`` moves the elements forwards, writing
    past the start of a reversed view (``a[::-1]`` of uint8)."""
    axis = len(shape) - 1
    block, run = per_element, itemsize
    while axis >= 0 and (shape[axis] == 1 or strides[axis] == run):
        block *= shape[axis]
        run *= shape[axis]
        axis -= 1
    if axis < 0:
        code, datatype = capi.MPI_Type_contiguous(block, base)
    else:
        datatype, owned, code = base, False, 0
        count, stride = shape[axis], strides[axis]
        for outer in range(axis - 1, -2, -1):
            if outer >= 0 and shape[outer] == 1:
                continue
            if not owned and run == itemsize and stride != 0:
                code, level = _spaced_elements(count, stride, base, per_element)
            else:
                code, level = capi.MPI_Type_create_hvector(count, block, stride, datatype)
            if owned:
                capi.MPI_Type_free(datatype)
            datatype, owned, block = level, True, 1
            if code != 0 or outer < 0:
                break
            count, stride = shape[outer], strides[outer]
    if code == 0:
        code, datatype = capi.MPI_Type_commit(datatype)
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
        capi.MPI_Type_free(base)  # the new type keeps what it needs of it
        cache.count(cache.UNCACHED)
        return datatype, True
    key = (base, per_element, len(shape), *shape, *strides)
    row = cache.find(cache.STRIDED, key)
    if row >= 0:
        return cache.cached_handle(row), False
    return cache.keep(row, cache.STRIDED, key, _build_strided(shape, strides, itemsize, base, per_element))


@register_jitable
def _resized(inner, inner_derived, extent):
    """``(datatype, derived)``: ``inner`` with its extent set to ``extent`` bytes (cached)."""
    key = (inner, extent)
    row = MISS_FULL if inner_derived else cache.find(cache.RESIZED, key)
    if row >= 0:
        return cache.cached_handle(row), False
    code, loose = capi.MPI_Type_create_resized(inner, 0, extent)
    datatype = loose
    if code == 0:
        code, datatype = capi.MPI_Type_commit(loose)
    release(inner, inner_derived)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for the blocks of a strided array")
    return cache.keep(row, cache.RESIZED, key, datatype)


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


def buffer(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


def whole_buffer(address, count, base, derived):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(whole_buffer)
def _whole_buffer_impl(address, count, base, derived):
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


@overload(buffer)
def _buffer_impl(array):
    """``(address, count, datatype, derived)``: ``derived`` types must be freed after use."""
    validate.array(array, "the buffer")
    if array.layout == "C" or (array.ndim <= 1 and array.layout == "F"):

        def contiguous(array):
            base, derived, per_element = element_base(array)
            return whole_buffer(array.ctypes.data, array.size * per_element, base, derived)

        return contiguous

    def strided(array):
        base, base_derived, per_element = element_base(array)
        if array.flags.c_contiguous or array.size == 0:
            return whole_buffer(array.ctypes.data, array.size * per_element, base, base_derived)
        datatype, derived = strided_datatype(array, base, base_derived, per_element)
        return array.ctypes.data, 1, datatype, derived

    return strided


def element_type(array):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(element_type)
def _element_type_impl(array):
    """``(datatype, count per element)`` of an array's dtype, e.g. ``(BYTE, 4)`` for S4.

    Structured dtypes give their cached struct type (an error if the cache is full).
    """
    validate.array(array, "the buffer")

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
        capi.MPI_Type_free(datatype)
