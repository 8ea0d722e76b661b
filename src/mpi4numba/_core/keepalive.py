"""Requests that keep the buffers of their operation alive.

Numba frees an array right after its last use in a function, and Python frees one when
its last reference goes; a non-blocking operation, though, uses its buffers until it
completes. :func:`new_request` therefore returns the request array (``RequestType``,
shape ``(1,)``) in a memory block of its own whose payload is::

    [request handle: 8 bytes][scalar stash: 16 bytes][meminfo 0][meminfo 1]...

The meminfos are those of the arrays the operation uses (the caller's buffers, the
``int`` copies of counts, ...), each incref'd when the request is made. The block's
destructor, emitted here as a ``linkonce_odr`` function, decrefs them, so the buffers
live exactly as long as the request array (and its views): users keep the request until
they wait on it, hence the buffers outlive the operation. The stash holds a scalar send
value, which would otherwise live on a stack frame that is gone when MPI reads it.

The memory block comes from :mod:`mpi4numba._core.requestmemory` (a pool, no heap
allocation per call) when the request keeps at most ``HELD_IN_BLOCK`` arrays alive.

Only symbols are referenced (``NRT_MemInfo_alloc_dtor``, ``NRT_MemInfo_call_dtor``, the destructor
itself), never addresses, so functions using this cache like any other.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from . import requestmemory
from .handles import REQUEST_ARRAY

HEADER_BYTES = requestmemory.REQUEST_HEADER_BYTES  # request slot (8) + scalar stash (16, a complex128)
STASH_OFFSET = 8
_DTOR_NAME = "mpi4numba_keepalive_release"
_i64 = ir.IntType(64)


def _release_function(context, module: ir.Module) -> ir.Function:
    """``void release(void *payload, size_t size, void *info)``: decref the held meminfos."""
    voidptr = cgutils.voidptr_t
    fnty = ir.FunctionType(ir.VoidType(), [voidptr, _i64, voidptr])
    fn = cgutils.get_or_insert_function(module, fnty, _DTOR_NAME)
    if not fn.is_declaration:
        return fn
    # One definition per module; the linker keeps one of the identical copies.
    fn.linkage = "linkonce_odr"
    payload, size, _ = fn.args
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    held = builder.udiv(builder.sub(size, ir.Constant(_i64, HEADER_BYTES)), ir.Constant(_i64, 8))
    slots = builder.bitcast(builder.gep(payload, [ir.Constant(_i64, HEADER_BYTES)]), voidptr.as_pointer())
    with cgutils.for_range(builder, held) as loop:
        meminfo = builder.load(builder.gep(slots, [loop.index]))
        release(builder, meminfo)
    builder.ret_void()
    return fn


def acquire(builder: ir.IRBuilder, meminfo: ir.Value) -> None:
    """Add a reference to ``meminfo`` (may be null) that no refcount pruning removes.

    Numba's pruning passes pair ``NRT_incref`` and ``NRT_decref`` calls on one pointer and
    drop them; on Numba 0.60 that also dropped a reference taken on purpose and kept past
    the function (the array was freed while MPI still read it). The count is the first word
    of Numba's ``MemInfo``, changed atomically as ``NRT_incref`` changes it."""
    with cgutils.if_likely(builder, cgutils.is_not_null(builder, meminfo)):
        count = builder.bitcast(meminfo, _i64.as_pointer())
        builder.atomic_rmw("add", count, ir.Constant(_i64, 1), "monotonic")


def release(builder: ir.IRBuilder, meminfo: ir.Value) -> None:
    """Drop a reference taken by :func:`acquire`; the last one runs the destructor
    (``NRT_MemInfo_call_dtor``, by symbol name), as ``NRT_decref`` does."""
    with cgutils.if_likely(builder, cgutils.is_not_null(builder, meminfo)):
        count = builder.bitcast(meminfo, _i64.as_pointer())
        before = builder.atomic_rmw("sub", count, ir.Constant(_i64, 1), "acq_rel")
        with builder.if_then(builder.icmp_unsigned("==", before, ir.Constant(_i64, 1)), likely=False):
            fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t])
            call_dtor = cgutils.get_or_insert_function(builder.module, fnty, "NRT_MemInfo_call_dtor")
            builder.call(call_dtor, [meminfo])


def _meminfos(context, builder, tuple_type, value) -> list[ir.Value]:
    found = []
    for item_type, item in zip(tuple_type, cgutils.unpack_tuple(builder, value)):
        found.extend(mi for _, mi in context.nrt.get_meminfos(builder, item_type, item))
    return found


@intrinsic
def new_request(typingctx, held):
    """A RequestType array of shape (1,), zeroed (which the completion routines take as
    ``REQUEST_NULL``), that keeps every array in the tuple ``held`` alive for as long as
    it (or a view of it) lives; other tuple items (handles, None, IN_PLACE) are ignored."""
    if not isinstance(held, types.BaseTuple):
        raise TypingError(f"new_request() takes a tuple of the objects to keep alive, got {held}")

    def codegen(context, builder, sig, args):
        meminfos = _meminfos(context, builder, sig.args[0], args[0])
        size = ir.Constant(_i64, HEADER_BYTES + 8 * len(meminfos))
        dtor = _release_function(context, builder.module)
        if requestmemory.pooled(len(meminfos)):
            block = requestmemory.allocate(context, builder, size, dtor)
        else:
            block = context.nrt.meminfo_alloc_dtor(builder, size, dtor)
        payload = context.nrt.meminfo_data(builder, block)
        cgutils.memset(builder, payload, ir.Constant(_i64, HEADER_BYTES), 0)
        slots = builder.bitcast(builder.gep(payload, [ir.Constant(_i64, HEADER_BYTES)]), cgutils.voidptr_t.as_pointer())
        for index, meminfo in enumerate(meminfos):
            acquire(builder, meminfo)
            builder.store(meminfo, builder.gep(slots, [ir.Constant(_i64, index)]))
        array_type = sig.return_type
        array = make_array(array_type)(context, builder)
        dtype = context.get_data_type(array_type.dtype)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(dtype))
        populate_array(
            array,
            data=builder.bitcast(payload, dtype.as_pointer()),
            shape=[context.get_constant(types.intp, 1)],
            strides=[itemsize],
            itemsize=itemsize,
            meminfo=block,
        )
        return array._getvalue()

    return REQUEST_ARRAY(held), codegen


@intrinsic
def stash(typingctx, request, value, like):
    """Store scalar ``value``, cast to the dtype of ``like`` (an array or a scalar), in the stash of a
    :func:`new_request` array; returns its address (unsigned, like ``ctypes.data``), valid while the request lives."""
    if request != REQUEST_ARRAY or not isinstance(like, (types.Array, types.Number, types.Boolean)):
        raise TypingError(f"stash() takes a new request, a scalar and an array or scalar, got {request}, {like}")
    if not isinstance(value, (types.Number, types.Boolean)):
        raise TypingError(f"stash() takes a scalar, got {value}")
    stored = like.dtype if isinstance(like, types.Array) else like
    if not isinstance(stored, (types.Number, types.Boolean)):  # at most 16 bytes: fits
        raise TypingError(f"stash(): cannot stash a {stored}")

    def codegen(context, builder, sig, args):
        dtype = stored
        data = make_array(sig.args[0])(context, builder, args[0]).data
        slot = builder.gep(builder.bitcast(data, cgutils.int8_t.as_pointer()), [ir.Constant(_i64, STASH_OFFSET)])
        converted = context.cast(builder, args[1], sig.args[1], dtype)
        builder.store(
            context.get_value_as_data(builder, dtype, converted),
            builder.bitcast(slot, context.get_data_type(dtype).as_pointer()),
        )
        return builder.ptrtoint(slot, _i64)

    return types.uintp(request, value, like), codegen
