"""How a window travels through Numba code and Python: a 1-element array of ``WinType``,
and the per-process table of the windows mpi4numba made.

``WinType`` is the ABI's handle type (``int32`` for MPICH, a pointer-sized unsigned
integer for Open MPI), as ``RequestType`` is for requests. The array returned by the
window constructors owns an NRT allocation of 8-byte words:

* word 0, the element the array exposes: the native ``MPI_Win`` handle. ``win_free``
  writes ``MPI_WIN_NULL`` there, so every copy of the window that shares the allocation
  sees it freed;
* word 1, hidden: the NRT meminfo of the array given to ``win_create``, held (incref'd)
  until the allocation is released, so the exposed memory cannot be deallocated while
  the window may still be used. A destructor drops that reference;
* word 2: the number of processes in the window's group, then one ``(bytes,
  disp_unit)`` pair per process (by rank): the extent of every process's part of the
  window, gathered when the window is created.

NumPy views of window memory (``win_allocate``, ``win_shared_query``) hold a reference
to the same allocation, so the handle cell outlives them.

The window table maps the handle of every live window made by mpi4numba to its
allocation (a handle table of 4096 rows, :mod:`mpi4numba._core.handletable`, exported to
the JIT linker by symbol name like the datatype cache; windows made and freed by several
threads at once keep it whole). It is what says a handle may reach MPI: the routines call MPI
only for a handle found there, so a window freed through another array holding its
handle (a NumPy copy), or a handle mpi4numba did not make, gives ``ERR_WIN`` instead
of reaching MPI with a freed or unknown window. RMA calls find the target's extent
through it; its row holds a reference to the allocation, so the base stays alive as
long as the MPI window exists, even if every array of it is dropped. ``win_free``
removes the row; a new window whose handle still has a row (its window was freed behind
mpi4numba's back, MPI reused the handle) takes that row's place.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array
from numba.np.numpy_support import from_dtype

from .._core import onesided
from .._core.cachetag import guard_cache
from .._core.handles import HANDLE, HANDLE_DTYPE, NATIVE_HANDLE, handle_from_native, handle_to_native
from .._core.handletable import HandleTable
from .._core.keepalive import acquire, release
from .._core.runtime import ABI
from .dtypes import mpi_datatype

WinType = HANDLE_DTYPE
win_numba_dtype = from_dtype(WinType)
window_array_type = types.Array(win_numba_dtype, 1, "C")

ERR_WIN = ABI.ERROR_CLASSES["ERR_WIN"]
OUTSIDE_GROUP = -1  # target_extent() of a rank that is not a process of the window

_WORD_BYTES = 8  # each word is 8 bytes wide, whatever the handle width
_BASE_WORD, _GROUP_WORD, _PAIRS_WORD = 1, 2, 3
ROW_BITS = 12  # 4096 rows: more live windows than MPICH allows (one context id each)
_LIVE = 1  # the tag of every row: handle -> the meminfo of the window's allocation
_meminfo_type = types.MemInfoPointer(types.voidptr)
_i8p = cgutils.voidptr_t
_i64 = ir.IntType(64)


# int mpi4numba_window_error(int code): see explained_window_error (Python, reached only on failure)
_EXPLAIN_SYMBOL = "mpi4numba_window_error"
_EXPLAIN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(onesided.explain_window_error)
_i32 = ir.IntType(32)


def register_table() -> None:
    """Make the window table and the explanation of failed creations resolvable by the JIT
    linker (on import and before cached code loads)."""
    _TABLE.export()
    llvm.add_symbol(_EXPLAIN_SYMBOL, ctypes.cast(_EXPLAIN, ctypes.c_void_p).value)


_TABLE = HandleTable("mpi4numba_window_table", 1 << ROW_BITS, 1, 1, register_table)
register_table()


def require_window(win: types.Type) -> None:
    if not (isinstance(win, types.Array) and win.dtype == win_numba_dtype and win.ndim == 1):
        raise TypingError(
            f"mpi4numba: win must be a window (a 1-D WinType array from win_create, "
            f"win_allocate or win_allocate_shared), got {win}"
        )


def element_dtype(dtype: types.Type) -> types.Type:
    """The Numba scalar type named by a ``dtype`` argument (``np.float64``, ``np.dtype('f8')``)."""
    if isinstance(dtype, types.NumberClass):
        scalar = dtype.instance_type
    elif isinstance(dtype, types.DType):
        scalar = dtype.dtype
    elif isinstance(dtype, types.Function) and dtype.typing_key is bool:
        scalar = types.boolean
    else:
        raise TypingError(f"mpi4numba: dtype must be a NumPy dtype such as np.float64, got {dtype}")
    name, per_element = mpi_datatype(scalar)
    if per_element != 1:
        raise TypingError(f"mpi4numba: window memory cannot have dtype {scalar}")
    return scalar


def _word(builder, data: ir.Value, index) -> ir.Value:
    """Pointer to word ``index`` (an int or an i64) of the allocation at ``data``."""
    index = ir.Constant(_i64, index) if isinstance(index, int) else index
    return builder.gep(builder.bitcast(data, _i64.as_pointer()), [index])


def _pair(builder, words: ir.Value, rank: ir.Value, first: int) -> ir.Value:
    """Pointer to the ``(bytes, disp_unit)`` pair of ``rank``, the pairs starting at word ``first``."""
    return _word(builder, words, builder.add(builder.shl(rank, ir.Constant(_i64, 1)), ir.Constant(_i64, first)))


def _dtor(context, module) -> ir.Function:
    """``void dtor(void *data, size_t size, void *info)``: drop the base array's reference."""
    fnty = ir.FunctionType(ir.VoidType(), [_i8p, context.get_value_type(types.uintp), _i8p])
    fn = cgutils.get_or_insert_function(module, fnty, "mpi4numba_window_dtor")
    if fn.is_declaration:
        fn.linkage = "linkonce_odr"
        builder = ir.IRBuilder(fn.append_basic_block())
        meminfo_ll = context.get_value_type(_meminfo_type)
        slot = builder.bitcast(_word(builder, fn.args[0], _BASE_WORD), meminfo_ll.as_pointer())
        release(builder, builder.load(slot))
        builder.ret_void()
    return fn


def _cell(context, builder, arrty, value) -> ir.Value:
    """Pointer to the native handle in word 0 of a window array."""
    data = context.make_array(arrty)(context, builder, value).data
    return builder.bitcast(data, NATIVE_HANDLE.as_pointer())


@intrinsic
def new_window(typingctx, handle, base, group):
    """A window array holding ``handle``, room for the extents of ``group`` processes
    (zeros), and a reference to ``base`` (an array, or None) for as long as it lives."""
    if not isinstance(handle, types.Integer) or not isinstance(group, types.Integer):
        raise TypingError(f"new_window() takes a handle and a group size, got {handle}, {group}")

    def codegen(context, builder, sig, args):
        group_size = context.cast(builder, args[2], sig.args[2], types.int64)
        words = builder.add(builder.shl(group_size, ir.Constant(_i64, 1)), ir.Constant(_i64, _PAIRS_WORD))
        size = builder.mul(words, ir.Constant(_i64, _WORD_BYTES))
        meminfo = context.nrt.meminfo_alloc_dtor(builder, size, _dtor(context, builder.module))
        data = context.nrt.meminfo_data(builder, meminfo)
        cgutils.memset(builder, data, size, 0)
        builder.store(handle_to_native(builder, args[0]), builder.bitcast(data, NATIVE_HANDLE.as_pointer()))
        meminfo_ll = context.get_value_type(_meminfo_type)
        if isinstance(sig.args[1], types.Array):
            base_meminfo = context.make_array(sig.args[1])(context, builder, args[1]).meminfo
            acquire(builder, base_meminfo)
            builder.store(base_meminfo, builder.bitcast(_word(builder, data, _BASE_WORD), meminfo_ll.as_pointer()))
        builder.store(group_size, _word(builder, data, _GROUP_WORD))
        array = context.make_array(window_array_type)(context, builder)
        itemsize = context.get_constant(types.intp, WinType.itemsize)
        populate_array(
            array,
            data=builder.bitcast(data, array.data.type),
            shape=[context.get_constant(types.intp, 1)],
            strides=[itemsize],
            itemsize=itemsize,
            meminfo=meminfo,
        )
        return array._getvalue()

    return window_array_type(handle, base, group), codegen


@intrinsic
def explained_window_error(typingctx, code):
    """The status of a window creation that MPI refused with ``code``: ``code``, or where
    the cause is known (Open MPI 4 at thread level multiple), a code of the same class
    whose ``error_string`` says why and what to use instead
    (:func:`mpi4numba._core.onesided.explain_window_error`, a Python callback found by
    symbol name; emitted on the failure path only)."""
    if not isinstance(code, types.Integer):
        raise TypingError(f"explained_window_error() takes an error code, got {code}")

    def codegen(context, builder, sig, args):
        guard_cache(context, builder, register_table)  # the callback is found by symbol name
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_i32, [_i32]), _EXPLAIN_SYMBOL)
        explained = builder.call(function, [context.cast(builder, args[0], sig.args[0], types.int32)])
        return context.cast(builder, explained, types.int32, sig.return_type)

    return code(code), codegen


@intrinsic
def register_window(typingctx, win, rank, size, disp_unit):
    """Record this process's extent (``size`` bytes, ``disp_unit``) at ``rank`` in a new
    window and enter the window in the table; returns the address of the extents (one
    ``(bytes, disp_unit)`` pair of int64 per rank), for the other processes' to be
    gathered, or 0 if the table is full."""

    def codegen(context, builder, sig, args):
        meminfo = context.make_array(sig.args[0])(context, builder, args[0]).meminfo
        data = context.nrt.meminfo_data(builder, meminfo)
        rank_value = context.cast(builder, args[1], sig.args[1], types.int64)
        with builder.if_then(builder.icmp_unsigned("<", rank_value, builder.load(_word(builder, data, _GROUP_WORD)))):
            pair = _pair(builder, data, rank_value, _PAIRS_WORD)
            builder.store(context.cast(builder, args[2], sig.args[2], types.int64), pair)
            builder.store(context.cast(builder, args[3], sig.args[3], types.int64), _word(builder, pair, 1))
        handle = handle_from_native(builder, builder.load(builder.bitcast(data, NATIVE_HANDLE.as_pointer())))
        acquire(builder, meminfo)  # the row's reference, taken before the row is seen
        stale, (held,) = _TABLE.emit_remove(context, builder, _LIVE, [handle])
        with builder.if_then(builder.icmp_signed(">=", stale, ir.Constant(_i64, 0)), likely=False):
            release(builder, builder.inttoptr(held, _i8p))
        row = _TABLE.emit_insert(context, builder, _LIVE, [handle], [builder.ptrtoint(meminfo, _i64)])
        entered = builder.icmp_signed(">=", row, ir.Constant(_i64, 0))
        with builder.if_then(builder.not_(entered), likely=False):
            release(builder, meminfo)
        pairs = builder.ptrtoint(_word(builder, data, _PAIRS_WORD), _i64)
        return builder.select(entered, pairs, ir.Constant(_i64, 0))

    return types.uintp(win, rank, size, disp_unit), codegen


@intrinsic
def forget_window(typingctx, handle):
    """Remove ``handle``'s row from the window table, dropping its reference (after MPI_Win_free)."""

    def codegen(context, builder, sig, args):
        handle = context.cast(builder, args[0], sig.args[0], types.int64)
        row, (meminfo,) = _TABLE.emit_remove(context, builder, _LIVE, [handle])
        with builder.if_then(builder.icmp_signed(">=", row, ir.Constant(_i64, 0)), likely=True):
            release(builder, builder.inttoptr(meminfo, _i8p))
        return context.get_dummy_value()

    return types.none(handle), codegen


@intrinsic
def window_extents(typingctx, handle):
    """The address (``intp``) of the extents of ``handle``'s window (for :func:`target_extent`)
    if it is a live window made by mpi4numba, else 0."""
    if not isinstance(handle, types.Integer):
        raise TypingError(f"window_extents() takes a handle, got {handle}")

    def codegen(context, builder, sig, args):
        extents = cgutils.alloca_once_value(builder, ir.Constant(_i64, 0))
        handle = context.cast(builder, args[0], sig.args[0], types.int64)
        row, (meminfo,) = _TABLE.emit_find(context, builder, _LIVE, [handle])
        live = builder.and_(
            builder.icmp_signed(">=", row, ir.Constant(_i64, 0)),
            builder.icmp_signed("!=", meminfo, ir.Constant(_i64, 0)),
        )
        with builder.if_then(live, likely=True):
            data = context.nrt.meminfo_data(builder, builder.inttoptr(meminfo, _i8p))
            builder.store(builder.ptrtoint(_word(builder, data, _GROUP_WORD), _i64), extents)
        return builder.load(extents)

    return types.intp(handle), codegen


@intrinsic
def target_extent(typingctx, extents, rank):
    """``(bytes, disp_unit)`` (int64) of process ``rank``'s part of a window, from its
    :func:`window_extents`; ``(OUTSIDE_GROUP, 0)`` if ``rank`` is not a process of it."""
    if not isinstance(extents, types.Integer) or not isinstance(rank, types.Integer):
        raise TypingError(f"target_extent() takes the address of extents and a rank, got {extents}, {rank}")

    def codegen(context, builder, sig, args):
        size = cgutils.alloca_once_value(builder, ir.Constant(_i64, OUTSIDE_GROUP))
        unit = cgutils.alloca_once_value(builder, ir.Constant(_i64, 0))
        words = builder.inttoptr(context.cast(builder, args[0], sig.args[0], types.int64), _i64.as_pointer())
        rank_value = context.cast(builder, args[1], sig.args[1], types.int64)
        with builder.if_then(builder.icmp_unsigned("<", rank_value, builder.load(words)), likely=True):
            pair = _pair(builder, words, rank_value, _PAIRS_WORD - _GROUP_WORD)
            builder.store(builder.load(pair), size)
            builder.store(builder.load(_word(builder, pair, 1)), unit)
        return context.make_tuple(builder, sig.return_type, [builder.load(size), builder.load(unit)])

    return types.UniTuple(types.int64, 2)(extents, rank), codegen


@intrinsic
def window_handle(typingctx, win):
    """The handle in a window array (``intp``); 0 for an empty array."""

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        array = context.make_array(arrty)(context, builder, args[0])
        nitems = builder.extract_value(array.shape, 0)
        result = cgutils.alloca_once_value(builder, ir.Constant(_i64, 0))
        with builder.if_then(builder.icmp_signed(">", nitems, ir.Constant(nitems.type, 0)), likely=True):
            builder.store(handle_from_native(builder, builder.load(_cell(context, builder, arrty, args[0]))), result)
        return builder.load(result)

    return HANDLE(win), codegen


@intrinsic
def store_window_handle(typingctx, win, handle):
    """Write ``handle`` into word 0 of a non-empty window array."""

    def codegen(context, builder, sig, args):
        builder.store(handle_to_native(builder, args[1]), _cell(context, builder, sig.args[0], args[0]))
        return context.get_dummy_value()

    return types.none(win, handle), codegen


@intrinsic(prefer_literal=True)
def memory_view(typingctx, win, address, count, dtype):
    """A 1-D array of ``count`` elements of ``dtype`` at ``address``, owned by the window."""
    scalar = element_dtype(dtype)
    result = types.Array(scalar, 1, "C")

    def codegen(context, builder, sig, args):
        window = context.make_array(sig.args[0])(context, builder, args[0])
        context.nrt.incref(builder, _meminfo_type, window.meminfo)
        array = context.make_array(result)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(scalar)))
        count_value = context.cast(builder, args[2], sig.args[2], types.intp)
        data = builder.inttoptr(context.cast(builder, args[1], sig.args[1], types.intp), array.data.type)
        populate_array(
            array, data=data, shape=[count_value], strides=[itemsize], itemsize=itemsize, meminfo=window.meminfo
        )
        return array._getvalue()

    return result(win, address, count, dtype), codegen


def on_live_window(e, win, call):
    """The status (int64) of ``call(handle, extents)`` (see ``window_extents``) on a live
    window made by mpi4numba; ``ERR_WIN`` without calling MPI on any other (freed, or a
    handle that is not one)."""
    handle = e(window_handle, win)
    status = e.variable(e.const(ERR_WIN, types.int64))
    with e.when(handle.ne(0), likely=True):  # an empty array, or zeros
        extents = e(window_extents, handle)
        with e.when(extents.ne(0), likely=True):
            status.set(call(handle, extents))
    return status.get()
