"""The MPI vocabulary of routine bodies lowered to LLVM IR (see :mod:`mpi4numba._core.emit`).

:class:`MPIEmitter` adds what most routines are made of: predefined handles,
communicator and operator handles, and arrays as MPI buffers. A C-contiguous buffer of a
predefined dtype is its data pointer, its size and a handle constant, emitted in place;
other layouts and structured dtypes go through the jitted helpers of
:mod:`mpi4numba.datatypes` (derived datatypes, built once per layout and cached), which
are compiled only for the call sites that need them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import NamedTuple

from llvmlite import ir
from numba.core import cgutils, types

from .._core import capi
from .._core.cachetag import guard_cache
from .._core.commtype import comm_handle, comm_type, new_comm
from .._core.emit import Emitter, Value
from .._core.errorcodes import error_code
from .._core.handles import REQUEST_ARRAY, handle_from_native, predefined_native
from .._core.inplace import IN_PLACE_ADDRESS, is_in_place
from .._core.keepalive import new_request, stash
from .._core.scratch import int32_scratch, new_zeros
from .buffers import copy_back, element_datatype, full_buffer, full_buffer_v
from .datatypes import buffer, element_type, struct_datatype, whole_buffer
from .deferred import MAX_NDIM, claim_record, deferred_view, hold, settle
from .dtypes import mpi_datatype, pair_type
from .largecount import NEEDS_FALLBACK
from .operators import op_handle, refusal, refused_operators
from .strided import (
    block_view,
    c_order,
    from_c_order,
    give_back,
    packable,
    strided_view,
    unpack_all,
    unpack_received,
)


class Lowering(NamedTuple):
    """A routine's result type and the body that emits it (see :mod:`mpi4numba._core.emit`)."""

    restype: types.Type
    body: Callable


def lowering(restype: types.Type) -> Callable[[Callable], Lowering]:
    """Decorate a body ``body(e, *arguments)`` that returns the routine's result."""
    return lambda body: Lowering(restype, body)


def new_communicator(call: Callable) -> Lowering:
    """A body returning ``(status, newcomm)`` for ``call(e, *arguments)``, which emits the MPI
    call that makes the handle (``COMM_NULL`` if it failed: MPI may leave it unset)."""

    @lowering(types.Tuple((types.int32, comm_type)))
    def body(e, *arguments):
        code, handle = e.unpack(call(e, *arguments))
        return e.tuple(code, e(new_comm, e.select(code == 0, handle, e.handle("COMM_NULL"))))

    return body


STARTED = types.Tuple((types.int32, REQUEST_ARRAY))  # (code, request) of a non-blocking routine


class Buffer(NamedTuple):
    """An array as MPI sees it: ``count`` elements of ``datatype`` at ``address``;
    a ``derived`` datatype is freed by :meth:`MPIEmitter.release` after the call, and so is
    the ``scratch`` of a strided array that may have been packed (its pool block, -1 if it
    was not: see :mod:`mpi4numba._support.strided`)."""

    address: Value
    count: Value
    datatype: Value
    derived: Value
    scratch: Value | None = None


def is_contiguous_layout(array: types.Array) -> bool:
    """Whether the Numba type alone says the array's elements are in C order in memory."""
    return array.layout == "C" or (array.ndim <= 1 and array.layout == "F")


class Ordered(NamedTuple):
    """An array's elements in C order for one MPI call (see :meth:`MPIEmitter.c_ordered`)."""

    address: Value
    block: Value | None  # pool scratch holding a copy, or None: the array's own memory


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


class MPIEmitter(Emitter):
    """An :class:`~mpi4numba._core.emit.Emitter` that also speaks MPI."""

    def handle(self, name: str) -> Value:
        """A predefined handle (``"COMM_WORLD"``, ``"DOUBLE"`` ...) of the running MPI, as intp."""
        guard_cache(self.context, self.builder)
        return Value(self, types.intp, handle_from_native(self.builder, predefined_native(self.builder, name)))

    def comm(self, comm: Value) -> Value:
        """The handle of a communicator argument (``None``/omitted: ``COMM_WORLD``)."""
        if comm.type == types.none:
            return self.handle("COMM_WORLD")
        return self(comm_handle, comm)

    def op(self, operator: Value, refused: tuple = (), dtype: types.Type | None = None) -> Value:
        """The ``MPI_Op`` of an ``Operator`` (or numba-mpi's integer value for one); one of the
        ``refused`` operators (see :func:`mpi4numba.operators.refused_operators`) raises
        ``ValueError`` naming the routine, the operator and ``dtype``, before MPI sees it."""
        handle = self(op_handle, operator)
        for member in refused:
            self.check(handle != self.handle(member.name), ValueError, refusal(member, dtype))
        return handle

    def reduction(self, operator: Value, recvobj: Value) -> tuple[Value, Value]:
        """``(op, datatype)`` of a reduction into ``recvobj``: an operator known only at run
        time that does not apply to its elements raises ``ValueError`` before MPI sees it."""
        dtype = recvobj.type.dtype
        return self.op(operator, refused_operators(operator.type, dtype), dtype), self.handle(mpi_datatype(dtype)[0])

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
        return self.data(array) + self.cast(index, types.uintp) * self.const(self.itemsize(array), types.uintp)

    def in_place(self) -> Value:
        """``MPI_IN_PLACE`` of the running ABI, as an address (``uintp``)."""
        return self.const(IN_PLACE_ADDRESS)

    def element_type(self, array: Value) -> tuple[Value, Value | int]:
        """``(datatype, MPI elements per array element)`` of an array's dtype, e.g.
        ``(BYTE, 4)`` for S4; a structured dtype is its cached struct type."""
        dtype = array.type.dtype
        if isinstance(dtype, types.Record) and pair_type(dtype) is None:
            datatype, per_element = self.unpack(self(element_type, array))
            return datatype, per_element
        name, per_element = mpi_datatype(dtype)
        return self.handle(name), per_element

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
                return Buffer(*self.unpack(self(strided_view, array, fill)))
            return Buffer(*self.unpack(self(buffer, array)))
        address, size = self.data(array), self.size(array)
        if isinstance(ty.dtype, types.Record) and pair_type(ty.dtype) is None:
            datatype, derived = self.unpack(self(struct_datatype, array))
            count = size
        else:
            name, per_element = mpi_datatype(ty.dtype)
            datatype, derived = self.handle(name), self.const(False)
            count = size if per_element == 1 else size * per_element
        if NEEDS_FALLBACK:  # more than INT_MAX elements: one element of a derived type
            return Buffer(*self.unpack(self(whole_buffer, address, count, datatype, derived)))
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
            self(unpack_received, array, buf.address, buf.scratch, code, status, buf.datatype)

    def received_all(self, buf: Buffer, array: Value, wanted: Value, count: Value | None = None) -> None:
        """After a receive of a message of known size into ``buf`` (``count`` elements, default
        all of ``array``), they go into ``array`` if ``buf`` is scratch and ``wanted``."""
        if buf.scratch is not None:
            self(unpack_all, array, buf.address, buf.scratch, self.size(array) if count is None else count, wanted)

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
            buf = Buffer(*self.unpack(self(block_view, block, elements, granularity, not receives)))

            def finish_packed(code: Value) -> None:
                if receives:
                    self.received_all(buf, block, code == 0, elements)
                self.release(buf)

            return buf.address, buf.count, buf.datatype, finish_packed
        own = self.view(block, granularity, like=like)

        def finish_view(code: Value) -> None:
            if receives:
                self.copy_back(block, own, elements)
            if own.datatype is not like.datatype:  # a datatype shared with ``like`` is freed with it
                self.release_view(own)

        return self.data(own.array), self.view_count(own, granularity), own.datatype, finish_view

    def release(self, *buffers: Buffer) -> None:
        """Free the derived datatypes of ``buffers`` that could not be cached, and give their
        scratch back."""
        for buf in buffers:
            self.release_datatype(buf.datatype, buf.derived)
            if buf.scratch is not None:
                self(give_back, buf.scratch, buf.address)

    def rank_size(self, comm: Value) -> tuple[Value, Value]:
        """This process's rank in ``comm`` and its size (a communicator argument)."""
        handle = self.comm(comm)
        return self(capi.MPI_Comm_rank, handle)[1], self(capi.MPI_Comm_size, handle)[1]

    def null_on_failure(self, code: Value, request: Value) -> None:
        """Set the first element of a request array to ``REQUEST_NULL`` if ``code`` is an error."""
        with self.when(code != 0, likely=False):
            null = self.cast(self.handle("REQUEST_NULL"), request.type.dtype)
            self(operator.setitem, request, 0, null)

    def start_request(
        self,
        data: Value,
        request: Value,
        start: Callable[[Buffer, Value], Value],
        sends: bool = False,
        receives: bool = False,
    ) -> Value:
        """``(code, request)`` of a call that starts a request on the buffer of ``data``;
        ``start(buffer, address of the request)`` emits the call. Without a ``request``
        (None), a new request array is made that keeps ``data`` alive for as long as it
        lives; if the call fails the request is ``REQUEST_NULL``. A strided ``data`` that
        the call ``sends`` or ``receives`` once may go through scratch that lives until the
        request completes (see :mod:`mpi4numba._support.deferred`). A scalar lives in the new
        request array, which a pending-transfer record holds until a send completes (every
        record taken: the call returns ``TOO_MANY_PENDING``, before MPI sees it)."""
        if isinstance(data.type, (types.Number, types.Boolean)):  # the value lives in the request
            request = self(new_request, self.tuple())
            buf = self.buffer(data, address=self(stash, request, data, data))
            if not sends:  # a persistent send: its request array keeps the value
                code = start(buf, self.data(request))
                self.null_on_failure(code, request)
                return self.tuple(code, request)
            slot = self(claim_record)
            code = self.variable(self.const(0, types.int32))
            with self.when(slot < 0, likely=False):
                code.set(self(error_code, self.literal("TOO_MANY_PENDING")))
            with self.when(slot >= 0, likely=True):
                code.set(start(buf, self.data(request)))
                self(hold, slot, request, code.get(), self.cast(self(operator.getitem, request, 0), types.int64))
            self.null_on_failure(code.get(), request)
            return self.tuple(code.get(), request)
        elif (sends or receives) and self.may_pack(data) and data.type.ndim <= MAX_NDIM:
            if request.type == types.none:
                request = self(new_request, self.tuple(data))
            *fields, slot = self.unpack(self(deferred_view, data, receives))
            buf = Buffer(*fields)
            code = start(buf, self.data(request))
            self(settle, slot, code, self.cast(self(operator.getitem, request, 0), types.int64))
            self.release(buf)
            self.null_on_failure(code, request)
            return self.tuple(code, request)
        else:
            buf = self.buffer(data)
            if request.type == types.none:
                request = self(new_request, self.tuple(data))
        code = start(buf, self.data(request))
        self.release(buf)
        self.null_on_failure(code, request)
        return self.tuple(code, request)

    def started(self, held: tuple[Value, ...], start: Callable[[Value], Value]) -> Value:
        """``(code, request)`` (of type :data:`STARTED`) of a call that starts an operation on
        a new request, which keeps the arrays of ``held`` alive; ``start(request)`` emits the
        call. If the call fails the request is ``REQUEST_NULL``."""
        request = self(new_request, self.tuple(*held))
        code = start(request)
        self.null_on_failure(code, request)
        return self.tuple(code, request)

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
            in_order = in_order & ((extent == 1) | (stride == step))
            empty = empty | (extent == 0)
            step = step * extent
        self.check(in_order | empty, ValueError, message)

    # --- integer arrays for MPI calls (counts, displacements, ranks, dims ...) ---

    def zeros(self, count: Value, dtype: str = "int32") -> Value:
        """A new zero-filled array of ``count`` elements of the Numba type named ``dtype``
        (empty if ``count`` is negative)."""
        return self(new_zeros, count, self.literal(dtype))

    def int32_scratch(self, count: Value | int) -> Value:
        """``count`` C ints for one call: on the caller's stack when few, else on the heap."""
        return self(int32_scratch, count)

    def c_ints(self, values: Value, message: str = "mpi4numba: a value does not fit a C int") -> Value:
        """``values`` (a 1-D integer array, or a tuple or list of integers) as a C-contiguous
        int32 array for MPI: an int32 C array as it is, anything else copied into
        :meth:`int32_scratch` (tuples unrolled, arrays and lists in a loop); a value that does
        not fit a C int raises ``ValueError(message)``."""
        ty = values.type
        if isinstance(ty, types.Array) and ty.dtype == types.int32 and ty.layout == "C":
            return values

        def store(scratch: Value, index: Value | int, value: Value) -> None:
            narrow = self.cast(value, types.int32)
            if not (
                isinstance(value.type, types.Boolean)
                or value.type.bitwidth < 32
                or (value.type.bitwidth == 32 and value.type.signed)
            ):
                self.check(narrow == value, ValueError, message)
            self(operator.setitem, scratch, index, narrow)

        if isinstance(ty, types.BaseTuple):
            items = self.unpack(values)
            scratch = self.int32_scratch(len(items))
            for index, item in enumerate(items):
                store(scratch, index, item)
            return scratch
        count = self(len, values)
        scratch = self.int32_scratch(count)
        with self.loop(count) as index:
            store(scratch, index, self(operator.getitem, values, index))
        return scratch

    def packed(self, sizes: Value) -> Value:
        """The displacements (C ints) of blocks of ``sizes`` elements one after the other."""
        offsets = self.int32_scratch(self.size(sizes))
        start = self.variable(self.const(0, types.int32))
        with self.loop(self.size(sizes)) as i:
            self(operator.setitem, offsets, i, start.get())
            start.set(start.get() + self(operator.getitem, sizes, i))
        return offsets

    def if_success(self, code: Value, call: Callable[[], Value]) -> Value:
        """The status of ``call()`` (which emits an MPI call) if ``code`` is success, else
        ``code``: the call is made only after the calls before it succeeded."""
        status = self.variable(self.cast(code, types.int32))
        with self.when(code == 0):
            status.set(call())
        return status.get()

    def vector_blocks(self, counts: Value, displacements: Value, entries: Value, message: str) -> tuple[Value, Value]:
        """Counts and displacements of a v-collective (None displacements: packed blocks) as C
        ints, with at least ``entries`` of each (else ``ValueError(message)``). Every process
        checks this before the call: one that read past a short array would hang the others."""
        too_big = "mpi4numba: a count or displacement does not fit a C int"
        sizes = self.c_ints(counts, too_big)
        offsets = self.packed(sizes) if displacements.type == types.none else self.c_ints(displacements, too_big)
        self.check((self.size(sizes) >= entries) & (self.size(offsets) >= entries), ValueError, message)
        return sizes, offsets

    def blocks_inside(self, sizes: Value, offsets: Value, entries: Value, capacity: Value, message: str) -> None:
        """Raise ``ValueError(message)`` unless each of the first ``entries`` blocks lies inside
        ``capacity`` elements (counts and displacements not negative)."""
        with self.loop(entries) as i:
            size, offset = self(operator.getitem, sizes, i), self(operator.getitem, offsets, i)
            self.check((size >= 0) & (offset >= 0) & (offset + size <= capacity), ValueError, message)

    # --- buffers of several blocks (collectives): views ---

    def view(self, data: Value, granularity: Value, significant: Value | bool = True, like: View | None = None) -> View:
        """:class:`View` of ``data``, whose blocks are multiples of ``granularity`` elements.
        Nothing is built for a buffer that is not ``significant`` (a non-root's full buffer).
        A C-contiguous ``data`` of the dtype of a C-contiguous view ``like`` shares its
        datatype."""
        if is_contiguous_layout(data.type):
            if _shares_datatype(like, data):
                return like._replace(array=data)
            datatype, per_element = self.element_type(data)
            return View(data, datatype, self.const(False), 1, per_element, self.itemsize(data))
        return View(*self.unpack(self(full_buffer, data, granularity, significant)))

    def view_v(
        self, data: Value, sizes: Value, offsets: Value, significant: Value | bool = True, like: View | None = None
    ) -> tuple[View, Value, Value]:
        """``(view, sizes, offsets)`` of the buffer of a v-collective: one MPI element per
        array element, the blocks' C int ``sizes`` and ``offsets`` in units of the view
        (``like`` as for :meth:`view`)."""
        if is_contiguous_layout(data.type):
            if _shares_datatype(like, data):
                return like._replace(array=data), sizes, offsets
            datatype, derived = self.element_datatype(data)
            return View(data, datatype, derived, 1, 1, self.itemsize(data)), sizes, offsets
        view, sizes, offsets = self.unpack(self(full_buffer_v, data, sizes, offsets, significant))
        return View(*self.unpack(view)), sizes, offsets

    def view_count(self, view: View, elements: Value) -> Value:
        """The MPI count of ``elements`` elements of ``view``."""
        units = elements if isinstance(view.divisor, int) and view.divisor == 1 else elements // view.divisor
        return units if isinstance(view.per_unit, int) and view.per_unit == 1 else units * view.per_unit

    def view_address(self, view: View, index: Value) -> Value:
        """The address of element ``index`` (the start of a block) of ``view``."""
        units = index if isinstance(view.divisor, int) and view.divisor == 1 else index // view.divisor
        spacing = (
            self.const(view.spacing, types.uintp)
            if isinstance(view.spacing, int)
            else self.cast(view.spacing, types.uintp)
        )
        return self.data(view.array) + self.cast(units, types.uintp) * spacing

    def c_ordered(self, data: Value) -> Ordered:
        """``data``'s elements in C order for an MPI call that takes C-ordered memory: its own
        memory if C-contiguous (by its type, or at run time), else a copy in pool scratch;
        :meth:`from_c_order` returns the results and the scratch after the call."""
        if is_contiguous_layout(data.type):
            return Ordered(self.data(data), None)
        address, block = self.unpack(self(c_order, data))
        return Ordered(address, block)

    def from_c_order(self, data: Value, ordered: Ordered, elements: Value | int = 0) -> None:
        """After the call on :meth:`c_ordered`'s ``ordered``, its first ``elements`` elements
        (results received; 0 for a buffer only sent) go into ``data``; scratch is given back."""
        if ordered.block is not None:
            self(from_c_order, data, ordered.address, ordered.block, self.cast(elements, types.intp))

    def copy_back(self, data: Value, view: View, elements: Value) -> None:
        """The first ``elements`` results received into ``view`` (a copy, where ``data`` had no
        regular blocks) go back to ``data``, the caller's array."""
        if view.array is not data:
            self(copy_back, data, view.array, elements)

    def release_view(self, *views: View) -> None:
        """Free the derived datatypes of ``views`` (each once: views made ``like`` another share it)."""
        for view in {id(view.datatype): view for view in views}.values():
            self.release_datatype(view.datatype, view.derived)

    def element_datatype(self, array: Value) -> tuple[Value, Value]:
        """``(datatype, derived)`` with one MPI element per element of ``array``: a predefined
        type, or (rare: jitted) a derived one for fixed-width bytes and structured dtypes,
        freed by :meth:`release_datatype` after the call."""
        dtype = array.type.dtype
        if not isinstance(dtype, types.Record) or pair_type(dtype) is not None:
            name, per_element = mpi_datatype(dtype)
            if per_element == 1:
                return self.handle(name), self.const(False)
        datatype, derived = self.unpack(self(element_datatype, array))
        return datatype, derived

    def release_datatype(self, datatype: Value, derived: Value) -> None:
        if derived.constant is not False:
            with self.when(derived):
                self(capi.MPI_Type_free, datatype)
