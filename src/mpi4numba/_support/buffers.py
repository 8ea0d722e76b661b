"""Buffer helpers shared by the collectives: C-ordered views, counts arrays.

A process's own block (the send side of gather, the receive side of scatter) that is a
whole strided array goes to MPI through a derived datatype; the full-size buffers on the
root, blocks that are part of a strided array, and the buffers of reductions (MPI
applies predefined operators to predefined types only) are copied.
"""

from __future__ import annotations

import numpy as np
from numba.extending import overload, register_jitable

from .._core import capi
from .datatypes import block_datatype, buffer, element_type

TOO_FEW_ENTRIES = "mpi4numba: counts and displacements need one entry per process"


@register_jitable
def copy_back_prefix(destination, source, count):
    """Write the first ``count`` C-order elements of contiguous ``source`` into ``destination``."""
    flat = source.ravel()
    i = 0
    for index in np.ndindex(destination.shape):
        if i >= count:
            break
        destination[index] = flat[i]
        i += 1  # noqa: SIM113  (enumerate of np.ndindex does not compile in nopython mode)


@register_jitable
def copy_back(recv_data, target, elements):
    """Results received into a temporary go back to the caller's (non-contiguous) array."""
    if target.ctypes.data != recv_data.ctypes.data:
        copy_back_prefix(recv_data, target, elements)


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


def full_buffer(data, granularity, significant):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(full_buffer)
def _full_buffer_impl(data, granularity, significant):
    """A collective's buffer whose blocks are whole multiples of ``granularity`` elements, as
    the fields of a :class:`~mpi4numba._support.lowering.View` (``MPIEmitter.view`` names
    them): ``data`` itself or a C-ordered copy, the datatype of a unit, whether it is
    derived, and how elements map to units and addresses. Nothing is built for a buffer
    that is not ``significant`` (a non-root's)."""

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
            return (
                (data, block, derived, elements, 1, spacing),
                _in_units(sizes, elements),
                _in_units(offsets, elements),
            )
        return _element_view(np.ascontiguousarray(data)), sizes, offsets

    return any_layout
