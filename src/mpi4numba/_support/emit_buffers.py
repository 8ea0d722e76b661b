"""Arrays as MPI buffers, in lowered bodies: ``(address, count, datatype)`` of an array.

A C-contiguous array of a predefined dtype is its data pointer, its size and a handle
constant, emitted in place; other layouts and structured dtypes go through the jitted
helpers of :mod:`mpi4numba._support.datatypes` (derived datatypes, built once per
layout and cached), compiled only for the call sites that need them. A strided array of
numbers that one call sends or receives may instead be packed into scratch (see
:mod:`mpi4numba._support.strided`). What a buffer made for a call needs afterwards
(a derived datatype to free, scratch to unpack and give back) is :meth:`Buffers.release`'s.
"""

from __future__ import annotations

from typing import NamedTuple

from llvmlite import ir
from numba.core import cgutils, types

from .._core import capi
from .._core.emit import Value
from .._core.inplace import IN_PLACE_ADDRESS, is_in_place
from .buffers import element_datatype
from .datatypes import buffer, element_type, struct_datatype, whole_buffer
from .dtypes import mpi_datatype, pair_type
from .emit_handles import Handles
from .largecount import NEEDS_FALLBACK
from .strided import NO_MEMORY, c_order, from_c_order, give_back, packable, strided_view, unpack_all, unpack_received


class Buffer(NamedTuple):
    """An array as MPI sees it: ``count`` elements of ``datatype`` at ``address``;
    a ``derived`` datatype is freed by :meth:`Buffers.release` after the call, and so is
    the ``scratch`` of a strided array that may have been packed (its pool block, -1 if it
    was not: see :mod:`mpi4numba._support.strided`)."""

    address: Value
    count: Value
    datatype: Value
    derived: Value
    scratch: Value | None = None

    @property
    def as_args(self) -> tuple[Value, Value, Value]:
        """``(address, count, datatype)``, as MPI's C functions take a buffer."""
        return self.address, self.count, self.datatype


class Ordered(NamedTuple):
    """An array's elements in C order for one MPI call (see :meth:`Buffers.c_ordered`)."""

    address: Value
    block: Value | None  # pool scratch holding a copy, or None: the array's own memory


def is_contiguous_layout(array: types.Array) -> bool:
    """Whether the Numba type alone says the array's elements are in C order in memory."""
    return array.layout == "C" or (array.ndim <= 1 and array.layout == "F")


class Buffers(Handles):
    """Addresses, sizes and datatypes of arrays; buffers of one call and their release."""

    # --- an array's memory ---

    def data(self, array: Value) -> Value:
        """The address of an array's first element, as ``uintp`` (like ``array.ctypes.data``)."""
        pointer = self.context.make_array(array.type)(self.context, self.builder, array.llvm).data
        return Value(self, types.uintp, self.builder.ptrtoint(pointer, ir.IntType(64)))

    def size(self, array: Value) -> Value:
        return self.attr(array, "size")

    def itemsize(self, array: Value) -> int:
        return self.context.get_abi_sizeof(self.context.get_data_type(array.type.dtype))

    def element_address(self, array: Value, index: Value) -> Value:
        """The address of element ``index`` (C order) of a C-contiguous array, as ``uintp``."""
        offset = self.cast(index, types.uintp).mul(self.const(self.itemsize(array), types.uintp))
        return self.data(array).add(offset)

    def in_place(self) -> Value:
        """``MPI_IN_PLACE`` of the running ABI, as an address (``uintp``)."""
        return self.const(IN_PLACE_ADDRESS)

    # --- datatypes of elements ---

    def element_type(self, array: Value) -> tuple[Value, Value | int]:
        """``(datatype, MPI elements per array element)`` of an array's dtype, e.g.
        ``(BYTE, 4)`` for S4; a structured dtype is its cached struct type."""
        dtype = array.type.dtype
        if isinstance(dtype, types.Record) and pair_type(dtype) is None:
            datatype, per_element = self.unpack(self.jitted(element_type, array))
            return datatype, per_element
        name, per_element = mpi_datatype(dtype)
        return self.handle(name), per_element

    def element_datatype(self, array: Value) -> tuple[Value, Value]:
        """``(datatype, derived)`` with one MPI element per element of ``array``: a predefined
        type, or (rare: jitted) a derived one for fixed-width bytes and structured dtypes,
        freed by :meth:`release_datatype` after the call."""
        dtype = array.type.dtype
        if not isinstance(dtype, types.Record) or pair_type(dtype) is not None:
            name, per_element = mpi_datatype(dtype)
            if per_element == 1:
                return self.handle(name), self.const(False)
        datatype, derived = self.unpack(self.jitted(element_datatype, array))
        return datatype, derived

    def release_datatype(self, datatype: Value, derived: Value) -> None:
        """Free ``datatype`` after the call if it was made for it (``derived``)."""
        if derived.constant is not False:
            with self.when(derived):
                self(capi.MPI_Type_free, datatype)

    # --- the buffer of one call ---

    def buffer(self, array: Value, address: Value | None = None, fill: Value | bool | None = None) -> Buffer:
        """``array`` as an MPI buffer, in C index order (see :mod:`mpi4numba.datatypes`); a
        scalar (a send-only value) is one element, in a slot on the stack or at ``address``.
        With ``fill`` given, a strided array of numbers may be packed into scratch (filled
        with its elements if ``fill`` is true: the sending side; see :meth:`received`)."""
        ty = array.type
        if isinstance(ty, (types.Number, types.Boolean)):
            return self.scalar_buffer(array, address)
        if not is_contiguous_layout(ty):
            if fill is not None and self.may_pack(array):
                return Buffer(*self.unpack(self.jitted(strided_view, array, fill)))
            return Buffer(*self.unpack(self.jitted(buffer, array)))
        address, size = self.data(array), self.size(array)
        if isinstance(ty.dtype, types.Record) and pair_type(ty.dtype) is None:
            datatype, derived = self.unpack(self.jitted(struct_datatype, array))
            count = size
        else:
            name, per_element = mpi_datatype(ty.dtype)
            datatype, derived = self.handle(name), self.const(False)
            count = size if per_element == 1 else size.mul(per_element)
        if NEEDS_FALLBACK:  # more than INT_MAX elements: one element of a derived type
            return Buffer(*self.unpack(self.jitted(whole_buffer, address, count, datatype, derived)))
        return Buffer(address, count, datatype, derived)

    def scalar_buffer(self, value: Value, address: Value | None = None) -> Buffer:
        """One element holding ``value``: in a slot of the caller's stack frame (blocking
        calls) or already stored at ``address`` (a request's stash)."""
        name, _ = mpi_datatype(value.type)
        if address is None:
            data_type = self.context.get_data_type(value.type)
            slot = cgutils.alloca_once(self.builder, data_type)
            self.builder.store(self.context.get_value_as_data(self.builder, value.type, value.llvm), slot)
            address = Value(self, types.uintp, self.builder.ptrtoint(slot, ir.IntType(64)))
        return Buffer(address, self.const(1, types.intp), self.handle(name), self.const(False))

    def send_buffer(self, array: Value) -> Buffer:
        """:meth:`buffer` of data a blocking call sends: a strided array may be packed."""
        return self.buffer(array, fill=True)

    def receive_buffer(self, array: Value) -> Buffer:
        """:meth:`buffer` of data a blocking call receives: a strided array may be received
        into scratch, which :meth:`received` then unpacks."""
        return self.buffer(array, fill=False)

    def may_pack(self, array: Value) -> bool:
        """Whether the type of ``array`` lets a transfer pack it (strided, of numbers)."""
        ty = array.type
        return isinstance(ty, types.Array) and not is_contiguous_layout(ty) and packable(ty.dtype)

    def received(self, buf: Buffer, array: Value, code: Value, status: Value) -> None:
        """After a receive into ``buf`` (``code``, ``status``: its results), the elements that
        arrived go into ``array`` if ``buf`` is scratch."""
        if buf.scratch is not None:
            self.jitted(unpack_received, array, buf.address, buf.scratch, code, status, buf.datatype)

    def received_all(self, buf: Buffer, array: Value, wanted: Value, count: Value | None = None) -> None:
        """After a receive of a message of known size into ``buf`` (``count`` elements, default
        all of ``array``), they go into ``array`` if ``buf`` is scratch and ``wanted``."""
        if buf.scratch is not None:
            self.jitted(
                unpack_all, array, buf.address, buf.scratch, self.size(array) if count is None else count, wanted
            )

    def release(self, *buffers: Buffer) -> None:
        """Free the derived datatypes of ``buffers`` that could not be cached, and give their
        scratch back."""
        for buf in buffers:
            self.release_datatype(buf.datatype, buf.derived)
            if buf.scratch is not None:
                self.jitted(give_back, buf.scratch, buf.address)

    # --- C-ordered memory, for calls that take it ---

    def require_c_order(self, data: Value, message: str) -> None:
        """Raise ``ValueError(message)`` unless ``data`` (or IN_PLACE) is C-contiguous, checked
        at run time where its type does not tell: MPI works on the buffer itself after the
        call returns, so a C-ordered copy would not do."""
        if is_in_place(data.type) or is_contiguous_layout(data.type):
            return
        # NumPy's C-contiguous flag: every axis longer than 1 steps over the axes after it
        shape, strides = self.unpack(self.attr(data, "shape")), self.unpack(self.attr(data, "strides"))
        in_order, empty, step = self.const(True), self.const(False), self.const(self.itemsize(data))
        for extent, stride in zip(reversed(shape), reversed(strides)):
            in_order = in_order.and_(extent.eq(1).or_(stride.eq(step)))
            empty = empty.or_(extent.eq(0))
            step = step.mul(extent)
        self.check(in_order.or_(empty), ValueError, message)

    def c_ordered(self, data: Value) -> Ordered:
        """``data``'s elements in C order for an MPI call that takes C-ordered memory: its own
        memory if C-contiguous (by its type, or at run time), else a copy in pool scratch;
        :meth:`from_c_order` returns the results and the scratch after the call."""
        if is_contiguous_layout(data.type):
            return Ordered(self.data(data), None)
        address, block = self.unpack(self.jitted(c_order, data))
        self.check(block.ne(NO_MEMORY), MemoryError, "mpi4numba: no memory for a C-ordered copy of a strided buffer")
        return Ordered(address, block)

    def from_c_order(self, data: Value, ordered: Ordered, elements: Value | int = 0) -> None:
        """After the call on :meth:`c_ordered`'s ``ordered``, its first ``elements`` elements
        (results received; 0 for a buffer only sent) go into ``data``; scratch is given back."""
        if ordered.block is not None:
            self.jitted(from_c_order, data, ordered.address, ordered.block, self.cast(elements, types.intp))
