"""Buffer helpers shared by the collectives: C-ordered views, counts arrays.

A process's own block (the send side of gather, the receive side of scatter) that is a
whole strided array goes to MPI through a derived datatype; the full-size buffers on the
root, blocks that are part of a strided array, and the buffers of reductions (MPI
applies predefined operators to predefined types only) are copied.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from .._core import capi
from .._core.commtype import comm_handle
from .datatypes import block_datatype, buffer, element_type

def contiguous(data):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(contiguous)
def _contiguous_impl(data):
    """``data`` itself if C-contiguous, else a C-ordered copy (results are copied back)."""
    if data.layout == "C":
        return lambda data: data

    def copy_unless_contiguous(data):
        if data.flags.c_contiguous:
            return data
        return np.ascontiguousarray(data)

    return copy_unless_contiguous

TOO_FEW_ENTRIES = "mpi4numba: counts and displacements need one entry per process"


def whole_strided(data, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(whole_strided)
def _whole_strided_impl(data, count):
    """Whether ``data`` is a non-contiguous array whose block is all of it: then a derived
    datatype describes it to MPI and nothing is copied."""
    if not isinstance(data, types.Array) or data.layout == "C":  # IN_PLACE, or contiguous
        return lambda data, count: False
    return lambda data, count: data.size == count and data.size > 0 and not data.flags.c_contiguous


@register_jitable
def copy_back_prefix(destination, source, count):
    """Write the first ``count`` C-order elements of contiguous ``source`` into ``destination``."""
    flat = source.ravel()
    i = 0
    for index in np.ndindex(destination.shape):
        if i >= count:
            break
        destination[index] = flat[i]
        i += 1


@register_jitable
def copy_back(recv_data, target, elements):
    """Results received into a temporary go back to the caller's (non-contiguous) array."""
    if target.ctypes.data != recv_data.ctypes.data:
        copy_back_prefix(recv_data, target, elements)


@register_jitable
def blocks(send_data, recv_data, count):
    """C-ordered send and receive buffers, the datatype, and the MPI count of ``count`` elements."""
    source = contiguous(send_data)
    target = contiguous(recv_data)
    datatype, per_element = element_type(source)
    return source, target, datatype, count * per_element


@register_jitable
def element_address(array, index):
    """Address of element ``index`` (in C order) of a C-contiguous array, unsigned."""
    return array.ctypes.data + np.uint64(index) * np.uint64(array.itemsize)


@register_jitable
def rank_size(comm):
    handle = comm_handle(comm)
    return capi.MPI_Comm_rank(handle)[1], capi.MPI_Comm_size(handle)[1]


@register_jitable
def element_datatype(data):
    """``(datatype, derived)`` with one MPI element per array element (S<n>: a contiguous type)."""
    datatype, per_element = element_type(data)
    if per_element == 1:
        return datatype, False
    code, block = capi.MPI_Type_contiguous(per_element, datatype)
    if code == 0:
        code, block = capi.MPI_Type_commit(block)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for fixed-width bytes")
    return block, True


def c_ints(values):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(c_ints)
def _c_ints_impl(values):
    """Counts/displacements as a C ``int`` array: int32 arrays as they are, others converted."""
    if not isinstance(values, types.Array) or not isinstance(values.dtype, types.Integer) or values.ndim != 1:
        raise TypingError(f"counts and displacements must be 1-D integer arrays, got {values}")
    if values.dtype == types.int32 and values.layout == "C":
        return lambda values: values

    def convert(values):
        converted = values.astype(np.int32)
        for i in range(values.size):
            if converted[i] != values[i]:
                raise ValueError("mpi4numba: a count or displacement does not fit a C int")
        return converted

    return convert


def displacements_or_default(counts, displacements):  # pragma: no cover - replaced below
    raise NotImplementedError


@overload(displacements_or_default)
def _displacements_impl(counts, displacements):
    """Given displacements as C ints, or (None) the blocks packed one after the other."""
    if isinstance(displacements, (types.NoneType, types.Omitted)):

        def packed(counts, displacements):
            result = np.zeros(counts.size, np.int32)
            for i in range(1, counts.size):
                result[i] = result[i - 1] + counts[i - 1]
            return result

        return packed
    return lambda counts, displacements: c_ints(displacements)


@register_jitable
def check_lengths(counts, displacements, size, message):
    """Every rank checks this before any MPI call: a rank that read past a short counts array
    would pass garbage to MPI while the others raise, and the job would hang."""
    if counts.size < size or displacements.size < size:
        raise ValueError(message)


@register_jitable
def check_layout(counts, displacements, size, capacity, what):
    """Every block ``[displacement, displacement + count)`` lies inside ``capacity`` elements."""
    if counts.size < size or displacements.size < size:
        raise ValueError(TOO_FEW_ENTRIES)
    for i in range(size):
        if counts[i] < 0 or displacements[i] < 0 or displacements[i] + counts[i] > capacity:
            raise ValueError(what)


def full_buffer(data, granularity, significant):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(full_buffer)
def _full_buffer_impl(data, granularity, significant):
    """A collective's buffer whose blocks are whole multiples of ``granularity`` elements, as
    ``(array, datatype, derived, divisor, per_unit, spacing)``: MPI sees ``k`` elements
    starting at element ``i`` (multiples of ``granularity``) as ``k // divisor * per_unit``
    elements of ``datatype`` at ``array.ctypes.data + i // divisor * spacing``. ``array``
    is ``data`` itself unless ``data`` had to be copied (then results are copied back
    with :func:`copy_back`). Nothing is built for a buffer that is not ``significant``
    (a non-root's)."""

    def contiguous(data, granularity, significant):
        datatype, per_element = element_type(data)
        return data, datatype, False, 1, per_element, data.itemsize

    if data.layout == "C":
        return contiguous

    def any_layout(data, granularity, significant):
        datatype, per_element = element_type(data)
        if not significant or data.flags.c_contiguous or data.size == 0:
            return data, datatype, False, 1, per_element, data.itemsize
        if granularity == data.size:  # one block, all of the array: its own strided type
            _, n, whole, derived = buffer(data)
            return data, whole, derived, data.size, n, 0
        block, derived, elements, spacing = block_datatype(data, granularity)
        if elements > 0:
            return data, block, derived, elements, 1, spacing
        return np.ascontiguousarray(data), datatype, False, 1, per_element, data.itemsize

    return any_layout


@register_jitable
def mpi_count(view, elements):
    """The MPI count of ``elements`` elements of a :func:`full_buffer` view."""
    return elements // view[3] * view[4]


@register_jitable
def block_address(view, index):
    """The address of element ``index`` (the start of a block) of a :func:`full_buffer` view."""
    return view[0].ctypes.data + np.uint64(index // view[3]) * np.uint64(view[5])


@register_jitable
def _common_divisor(sizes, offsets):
    """The greatest common divisor of every count and displacement (0 if all are 0)."""
    g = 0
    for values in (sizes, offsets):
        for i in range(values.size):
            a, b = g, abs(values[i])
            while b:
                a, b = b, a % b
            g = a
    return g


@register_jitable
def _in_units(values, elements):
    scaled = np.empty_like(values)
    for i in range(values.size):
        scaled[i] = values[i] // elements
    return scaled


@register_jitable
def _element_view(data):
    datatype, derived = element_datatype(data)
    return data, datatype, derived, 1, 1, data.itemsize


def full_buffer_v(data, sizes, offsets, significant):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(full_buffer_v)
def _full_buffer_v_impl(data, sizes, offsets, significant):
    """:func:`full_buffer` for the blocks of a v-collective (C ``int`` counts and
    displacements, one MPI element per array element): ``(view, sizes, offsets)``, with
    the counts and displacements in units of the view's datatype."""

    if data.layout == "C":
        return lambda data, sizes, offsets, significant: (_element_view(data), sizes, offsets)

    def any_layout(data, sizes, offsets, significant):
        if not significant or data.flags.c_contiguous or data.size == 0:
            return _element_view(data), sizes, offsets
        block, derived, elements, spacing = block_datatype(data, _common_divisor(sizes, offsets))
        if elements == 1:
            return (data, block, derived, 1, 1, spacing), sizes, offsets
        if elements > 1:
            return (data, block, derived, elements, 1, spacing), _in_units(sizes, elements), _in_units(offsets, elements)
        return _element_view(np.ascontiguousarray(data)), sizes, offsets

    return any_layout
