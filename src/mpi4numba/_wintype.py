"""How a window travels through Numba code and Python: a 1-element array of ``WinType``.

``WinType`` is the ABI's handle type (``int32`` for MPICH, a pointer-sized unsigned
integer for Open MPI), as ``RequestType`` is for requests. The array returned by the
window constructors owns an NRT allocation of two slots:

* slot 0, the element the array exposes: the native ``MPI_Win`` handle. ``win_free``
  writes ``MPI_WIN_NULL`` there, so every copy of the window (they all share the
  allocation) sees it freed, and later calls return ``MPI_ERR_WIN`` without calling MPI;
* slot 1, hidden: the NRT meminfo of the array given to ``win_create``, held (incref'd)
  until the window array itself is released, so the exposed memory cannot be
  deallocated while the window may still be used. A destructor drops that reference.

NumPy views of window memory (``win_allocate``, ``win_shared_query``) hold a reference
to the same allocation, so the handle cell outlives them.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array
from numba.np.numpy_support import from_dtype

from ._ccall import HANDLE, _native_handle, handle_from_native, handle_to_native
from ._runtime import ABI
from .datatypes import mpi_datatype

WinType = np.dtype(np.uintp) if ABI.HANDLE_IS_POINTER else np.dtype(np.int32)
win_numba_dtype = from_dtype(WinType)
window_array_type = types.Array(win_numba_dtype, 1, "C")

_SLOT_BYTES = 8  # each slot is 8 bytes wide, whatever the handle width
_meminfo_type = types.MemInfoPointer(types.voidptr)
_i8p = cgutils.voidptr_t


def require_window(win: types.Type, where: str) -> None:
    if not (isinstance(win, types.Array) and win.dtype == win_numba_dtype and win.ndim == 1):
        raise TypingError(
            f"mpi4numba.{where}: win must be a window (a 1-D WinType array from win_create, "
            f"win_allocate or win_allocate_shared), got {win}"
        )


def element_dtype(dtype: types.Type, where: str) -> types.Type:
    """The Numba scalar type named by a ``dtype`` argument (``np.float64``, ``np.dtype('f8')``)."""
    if isinstance(dtype, types.NumberClass):
        scalar = dtype.instance_type
    elif isinstance(dtype, types.DType):
        scalar = dtype.dtype
    elif isinstance(dtype, types.Function) and dtype.typing_key is bool:
        scalar = types.boolean
    else:
        raise TypingError(f"mpi4numba.{where}: dtype must be a NumPy dtype such as np.float64, got {dtype}")
    name, per_element = mpi_datatype(scalar, f"mpi4numba.{where}")
    if per_element != 1:
        raise TypingError(f"mpi4numba.{where}: window memory cannot have dtype {scalar}")
    return scalar


def _dtor(context, module) -> ir.Function:
    """``void dtor(void *data, size_t size, void *info)``: drop the base array's reference."""
    fnty = ir.FunctionType(ir.VoidType(), [_i8p, context.get_value_type(types.uintp), _i8p])
    fn = cgutils.get_or_insert_function(module, fnty, "mpi4numba_window_dtor")
    if fn.is_declaration:
        fn.linkage = "linkonce_odr"
        builder = ir.IRBuilder(fn.append_basic_block())
        meminfo_ll = context.get_value_type(_meminfo_type)
        slot = builder.bitcast(builder.gep(fn.args[0], [ir.Constant(ir.IntType(64), _SLOT_BYTES)]),
                               meminfo_ll.as_pointer())
        context.nrt.decref(builder, _meminfo_type, builder.load(slot))
        builder.ret_void()
    return fn


def _cell(context, builder, arrty, value) -> ir.Value:
    """Pointer to the native handle in slot 0 of a window array."""
    data = context.make_array(arrty)(context, builder, value).data
    return builder.bitcast(data, _native_handle.as_pointer())


@intrinsic
def new_window(typingctx, handle, base):
    """A window array holding ``handle``; keeps ``base`` (an array, or None) alive."""
    if not isinstance(handle, types.Integer):
        raise TypingError(f"new_window() takes a handle, got {handle}")

    def codegen(context, builder, sig, args):
        size = context.get_constant(types.uintp, 2 * _SLOT_BYTES)
        meminfo = context.nrt.meminfo_alloc_dtor(builder, size, _dtor(context, builder.module))
        data = context.nrt.meminfo_data(builder, meminfo)
        builder.store(ir.Constant(ir.ArrayType(ir.IntType(8), 2 * _SLOT_BYTES), None),
                      builder.bitcast(data, ir.ArrayType(ir.IntType(8), 2 * _SLOT_BYTES).as_pointer()))
        builder.store(handle_to_native(builder, args[0]), builder.bitcast(data, _native_handle.as_pointer()))
        meminfo_ll = context.get_value_type(_meminfo_type)
        base_meminfo = ir.Constant(meminfo_ll, None)
        if isinstance(sig.args[1], types.Array):
            base_meminfo = context.make_array(sig.args[1])(context, builder, args[1]).meminfo
            context.nrt.incref(builder, _meminfo_type, base_meminfo)
        slot = builder.gep(data, [ir.Constant(ir.IntType(64), _SLOT_BYTES)])
        builder.store(base_meminfo, builder.bitcast(slot, meminfo_ll.as_pointer()))
        array = context.make_array(window_array_type)(context, builder)
        itemsize = context.get_constant(types.intp, WinType.itemsize)
        populate_array(array, data=builder.bitcast(data, array.data.type), shape=[context.get_constant(types.intp, 1)],
                       strides=[itemsize], itemsize=itemsize, meminfo=meminfo)
        return array._getvalue()

    return window_array_type(handle, base), codegen


@intrinsic
def window_handle(typingctx, win):
    """The handle in a window array (``intp``); 0 for an empty array."""

    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        array = context.make_array(arrty)(context, builder, args[0])
        nitems = builder.extract_value(array.shape, 0)
        result = cgutils.alloca_once_value(builder, ir.Constant(ir.IntType(64), 0))
        with builder.if_then(builder.icmp_signed(">", nitems, ir.Constant(nitems.type, 0)), likely=True):
            builder.store(handle_from_native(builder, builder.load(_cell(context, builder, arrty, args[0]))), result)
        return builder.load(result)

    return HANDLE(win), codegen


@intrinsic
def store_window_handle(typingctx, win, handle):
    """Write ``handle`` into slot 0 of a non-empty window array."""

    def codegen(context, builder, sig, args):
        builder.store(handle_to_native(builder, args[1]), _cell(context, builder, sig.args[0], args[0]))
        return context.get_dummy_value()

    return types.none(win, handle), codegen


@intrinsic(prefer_literal=True)
def memory_view(typingctx, win, address, count, dtype):
    """A 1-D array of ``count`` elements of ``dtype`` at ``address``, owned by the window."""
    scalar = element_dtype(dtype, "memory_view")
    result = types.Array(scalar, 1, "C")

    def codegen(context, builder, sig, args):
        window = context.make_array(sig.args[0])(context, builder, args[0])
        context.nrt.incref(builder, _meminfo_type, window.meminfo)
        array = context.make_array(result)(context, builder)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(scalar)))
        count_value = context.cast(builder, args[2], sig.args[2], types.intp)
        data = builder.inttoptr(context.cast(builder, args[1], sig.args[1], types.intp), array.data.type)
        populate_array(array, data=data, shape=[count_value], strides=[itemsize], itemsize=itemsize,
                       meminfo=window.meminfo)
        return array._getvalue()

    return result(win, address, count, dtype), codegen
