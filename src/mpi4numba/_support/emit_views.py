"""Buffers of several blocks, in lowered bodies: what collectives address.

A collective's full buffer (a root's, alltoall's, a v-routine's) holds one block per
process. :class:`View` says how MPI addresses it: as the caller's array when its blocks
are regular in memory, else as a C-ordered copy whose results are copied back after the
call. :meth:`Views.own_block` is a process's own block beside it (which may be packed,
like a point-to-point buffer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from numba.core import types

from .._core.emit import Value
from .buffers import copy_back, full_buffer, full_buffer_v
from .emit_buffers import Buffer, Buffers, is_contiguous_layout
from .strided import NO_MEMORY, block_view


class View(NamedTuple):
    """A collective's buffer of several blocks as MPI addresses it (see :func:`full_buffer`):
    ``k`` elements from element ``i`` (multiples of the blocks' size) are
    ``k // divisor * per_unit`` elements of ``datatype`` at ``data(array) + i // divisor *
    spacing``. ``array`` is the caller's array, or a C-ordered copy of it (results are then
    copied back); a ``derived`` datatype is freed after the call. The fields of a
    C-contiguous array are known when compiling (Python ints)."""

    array: Value
    datatype: Value
    derived: Value
    divisor: Value | int
    per_unit: Value | int
    spacing: Value | int


def _shares_datatype(like: View | None, data: Value) -> bool:
    """Whether C-contiguous ``data`` can use the datatype of view ``like``: a view of a
    C-contiguous array (its fields known when compiling) of the same dtype."""
    return like is not None and isinstance(like.divisor, int) and like.array.type.dtype == data.type.dtype


def _times(value: Value | int, factor: Value | int) -> Value | int:
    """``value * factor``, emitted only where a factor is known at run time only."""
    if isinstance(factor, int) and factor == 1:
        return value
    return value.mul(factor) if isinstance(value, Value) else factor.mul(value)  # type: ignore[union-attr]


def _divided(value: Value, divisor: Value | int) -> Value:
    return value if isinstance(divisor, int) and divisor == 1 else value.floordiv(divisor)


class Views(Buffers):
    """Full buffers of collectives, their counts and addresses, and a process's own block."""

    def view(self, data: Value, granularity: Value, significant: Value | bool = True, like: View | None = None) -> View:
        """:class:`View` of ``data``, whose blocks are multiples of ``granularity`` elements.
        Nothing is built for a buffer that is not ``significant`` (a non-root's full buffer).
        A C-contiguous ``data`` of the dtype of a C-contiguous view ``like`` shares its
        datatype."""
        if is_contiguous_layout(data.type):
            if _shares_datatype(like, data):
                return like._replace(array=data)  # type: ignore[union-attr]
            datatype, per_element = self.element_type(data)
            return View(data, datatype, self.const(False), 1, per_element, self.itemsize(data))
        return View(*self.unpack(self.jitted(full_buffer, data, granularity, significant)))

    def view_v(
        self, data: Value, sizes: Value, offsets: Value, significant: Value | bool = True, like: View | None = None
    ) -> tuple[View, Value, Value]:
        """``(view, sizes, offsets)`` of the buffer of a v-collective: one MPI element per
        array element, the blocks' C int ``sizes`` and ``offsets`` in units of the view
        (``like`` as for :meth:`view`)."""
        if is_contiguous_layout(data.type):
            if _shares_datatype(like, data):
                return like._replace(array=data), sizes, offsets  # type: ignore[union-attr]
            datatype, derived = self.element_datatype(data)
            return View(data, datatype, derived, 1, 1, self.itemsize(data)), sizes, offsets
        view, sizes, offsets = self.unpack(self.jitted(full_buffer_v, data, sizes, offsets, significant))
        return View(*self.unpack(view)), sizes, offsets

    def view_count(self, view: View, elements: Value) -> Value:
        """The MPI count of ``elements`` elements of ``view``."""
        return _times(_divided(elements, view.divisor), view.per_unit)  # type: ignore[return-value]

    def view_address(self, view: View, index: Value) -> Value:
        """The address of element ``index`` (the start of a block) of ``view``."""
        spacing = self.cast(view.spacing, types.uintp)  # a Python int: a constant
        return self.data(view.array).add(self.cast(_divided(index, view.divisor), types.uintp).mul(spacing))

    def copy_back(self, data: Value, view: View, elements: Value) -> None:
        """The first ``elements`` results received into ``view`` (a copy, where ``data`` had no
        regular blocks) go back to ``data``, the caller's array."""
        if view.array is not data:
            self.jitted(copy_back, data, view.array, elements)

    def release_view(self, *views: View) -> None:
        """Free the derived datatypes of ``views`` (each once: views made ``like`` another share it)."""
        for view in {id(view.datatype): view for view in views}.values():
            self.release_datatype(view.datatype, view.derived)

    def own_block(
        self, block: Value, elements: Value, granularity: Value, like: View, receives: bool
    ) -> tuple[Value, Value, Value, Callable[[Value], None]]:
        """A process's own buffer in a collective: the first ``elements`` elements of ``block``,
        in MPI units that divide ``granularity`` (the elements of one MPI count: see
        :meth:`view`), the side the process ``receives`` or sends. Returns ``(address, units
        of granularity elements, datatype, finish)``; ``finish(code)`` after the call puts
        what was received into ``block`` and frees what was made for the call (a datatype
        shared with ``like`` stays ``like``'s to free). A strided block of numbers may be
        packed (see :meth:`buffer`)."""
        if self.may_pack(block):
            buf = Buffer(*self.unpack(self.jitted(block_view, block, elements, granularity, not receives)))
            self.check(buf.scratch.ne(NO_MEMORY), MemoryError, "mpi4numba: no memory to pack a strided buffer")

            def finish_packed(code: Value) -> None:
                if receives:
                    self.received_all(buf, block, code.eq(0), elements)
                self.release(buf)

            return buf.address, buf.count, buf.datatype, finish_packed
        own = self.view(block, granularity, like=like)

        def finish_view(code: Value) -> None:
            if receives:
                self.copy_back(block, own, elements)
            if own.datatype is not like.datatype:  # a datatype shared with ``like`` is freed with it
                self.release_view(own)

        return self.data(own.array), self.view_count(own, granularity), own.datatype, finish_view
