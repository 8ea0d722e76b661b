"""Memory for the request arrays that non-blocking calls return, without a heap allocation
per call in the common case.

numba-mpi's call form, ``status, request = isend(...)`` then ``waitall((...))``, makes a
request array per call and frees it at the end of the step. Numba would ``malloc`` and
``free`` each (about half of what the exchange costs above C). Instead, request blocks
come from a small per-process pool handed to Numba as an *external allocator* (Numba's
``NRT_MemInfo_alloc_external``, the API GPU and SYCL packages use for their memory):

- the pool belongs to the thread that imported mpi4numba (the one that runs the time
  loop in nearly every program); only that thread takes blocks from it or gives them
  back, so it needs no lock and no atomic operation; every other thread, and a block
  given back to a full pool, uses ``malloc``/``free`` (a pooled block is a ``malloc``
  block, so any thread may free it);
- every block is ``BLOCK_BYTES`` long: requests keeping more arrays alive than fit use
  Numba's own allocator, as before;
- Numba still counts each block in its allocation statistics (``NUMBA_NRT_STATS``), as
  one allocation and one free, so leak checks see requests as before.

The memory block's destructor (which releases the arrays the request keeps alive) is
written into the ``MemInfo`` Numba made, which relies on the layout of Numba's
``MemInfo`` (destructor the second word). :func:`problem` checks that layout, and that
Numba calls the destructor and then the allocator's ``free``, once at import, on a
block made by Numba itself; if anything differs, request arrays come from Numba's
allocator as before (``python -m mpi4numba info`` says so).

Compiled code reaches the pool and Numba's function by symbol name (like the other
process tables), so it caches like any other code.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils

POOL_SLOTS = 64  # blocks kept for reuse; more given back at once go to free()
REQUEST_HEADER_BYTES = 24  # new_request's payload header: request slot (8) + scalar stash (16)
HELD_IN_BLOCK = 8  # arrays a pooled request can keep alive (8 bytes each after the header)
OWNER, COUNT, SLOTS = 0, 1, 2  # words of the pool: owner thread, blocks in it, then the blocks
_POOL = np.zeros(SLOTS + POOL_SLOTS, np.uint64)
_POOL_SYMBOL = "mpi4numba_request_pool"
_ALLOC_SYMBOL = "NRT_MemInfo_alloc_external"
_ALLOCATOR_NAME = "mpi4numba_request_allocator"
_i64 = ir.IntType(64)
_voidptr = cgutils.voidptr_t


def _nrt_library() -> ctypes.CDLL:
    from numba.core.runtime import _nrt_python

    return ctypes.CDLL(_nrt_python.__file__)


def _check_layout() -> tuple[int, str | None]:
    """(bytes of Numba's MemInfo header, None) when request blocks may come from the pool,
    else (0, what differs). Runs Numba's allocation and destruction of one block."""
    try:
        from numba.core.runtime import _nrt_python

        alloc_external = _nrt_library().NRT_MemInfo_alloc_external
        call_dtor = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(_nrt_python.c_helpers["MemInfo_call_dtor"])
        data_of = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(_nrt_python.c_helpers["MemInfo_data"])
    except (OSError, AttributeError, KeyError, TypeError) as exc:
        return 0, f"Numba's NRT_MemInfo_alloc_external, MemInfo_call_dtor or MemInfo_data ({exc})"
    alloc_external.restype, alloc_external.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_void_p]
    calls: list[tuple] = []
    heap = ctypes.create_string_buffer(512)
    malloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)(
        lambda size, opaque: calls.append(("malloc", size)) or ctypes.addressof(heap)
    )
    free = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(lambda ptr, opaque: calls.append(("free", ptr)))
    dtor = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)(
        lambda data, size, info: calls.append(("dtor", data, size, info))
    )
    allocator = (ctypes.c_void_p * 4)(ctypes.cast(malloc, ctypes.c_void_p), None, ctypes.cast(free, ctypes.c_void_p))
    payload = 40
    block = alloc_external(payload, ctypes.addressof(allocator))
    if block != ctypes.addressof(heap) or len(calls) != 1 or calls[0][1] <= payload:
        return 0, f"NRT_MemInfo_alloc_external allocated {calls} for {payload} bytes"
    header = calls[0][1] - payload
    words = (ctypes.c_uint64 * 6).from_address(block)
    data = data_of(block)
    expected = [1, 0, 0, data, payload, ctypes.addressof(allocator)]
    if list(words) != expected or data != block + header or header % 16:
        return 0, f"Numba's MemInfo is laid out as {list(words)}, not {expected}"
    words[1] = ctypes.cast(dtor, ctypes.c_void_p).value
    call_dtor(block)
    if calls[1:] != [("dtor", data, payload, None), ("free", block)]:
        return 0, f"NRT_MemInfo_call_dtor made the calls {calls[1:]}"
    return header, None


_HEADER, _PROBLEM = _check_layout()
# a pooled block: Numba's header, then new_request's payload with HELD_IN_BLOCK arrays
BLOCK_BYTES = _HEADER + REQUEST_HEADER_BYTES + 8 * HELD_IN_BLOCK


def problem() -> str | None:
    """Why request arrays come from Numba's allocator instead of the pool (None: they do not)."""
    return _PROBLEM


def pooled_blocks() -> int:
    """Blocks in the pool now, ready for the next requests."""
    return int(_POOL[COUNT])


def register_symbols() -> None:
    """Make the pool and Numba's allocation function resolvable by the JIT linker (on
    import, and before cached code that uses them loads)."""
    llvm.add_symbol(_POOL_SYMBOL, _POOL.ctypes.data)
    if _PROBLEM is None:
        llvm.add_symbol(_ALLOC_SYMBOL, ctypes.cast(_nrt_library().NRT_MemInfo_alloc_external, ctypes.c_void_p).value)


def _claim_for_this_thread() -> None:
    libc = ctypes.CDLL(None)
    libc.pthread_self.restype = ctypes.c_void_p
    _POOL[OWNER] = libc.pthread_self() or 0


_claim_for_this_thread()
register_symbols()


def _pool_word(builder: ir.IRBuilder, index: ir.Value | int) -> ir.Value:
    pool = builder.module.globals.get(_POOL_SYMBOL)
    if pool is None:
        pool = ir.GlobalVariable(builder.module, ir.ArrayType(_i64, len(_POOL)), _POOL_SYMBOL)
    index = ir.Constant(_i64, index) if isinstance(index, int) else index
    return builder.gep(pool, [ir.Constant(ir.IntType(32), 0), index])


def _pool_is_mine(builder: ir.IRBuilder) -> ir.Value:
    fnty = ir.FunctionType(_i64, [])
    me = builder.call(cgutils.get_or_insert_function(builder.module, fnty, "pthread_self"), [])
    return builder.icmp_unsigned("==", me, builder.load(_pool_word(builder, OWNER)))


def _define_take(module: ir.Module) -> ir.Function:
    """``void *take(size_t bytes, void *opaque)``: a block from the pool, else malloc."""
    fn = ir.Function(module, ir.FunctionType(_voidptr, [_i64, _voidptr]), "mpi4numba_request_take")
    fn.linkage = "linkonce_odr"
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    count = builder.load(_pool_word(builder, COUNT))
    fits = builder.icmp_unsigned("<=", fn.args[0], ir.Constant(_i64, BLOCK_BYTES))
    available = builder.icmp_unsigned("!=", count, ir.Constant(_i64, 0))
    with builder.if_then(builder.and_(builder.and_(fits, available), _pool_is_mine(builder)), likely=True):
        last = builder.sub(count, ir.Constant(_i64, 1))
        block = builder.load(_pool_word(builder, builder.add(last, ir.Constant(_i64, SLOTS))))
        builder.store(last, _pool_word(builder, COUNT))
        builder.ret(builder.inttoptr(block, _voidptr))
    malloc = cgutils.get_or_insert_function(module, ir.FunctionType(_voidptr, [_i64]), "malloc")
    # every block that may come back to the pool is BLOCK_BYTES long
    size = builder.select(fits, ir.Constant(_i64, BLOCK_BYTES), fn.args[0])
    builder.ret(builder.call(malloc, [size]))
    return fn


def _define_give(module: ir.Module) -> ir.Function:
    """``void give(void *block, void *opaque)``: back to the pool, else free."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [_voidptr, _voidptr]), "mpi4numba_request_give")
    fn.linkage = "linkonce_odr"
    builder = ir.IRBuilder(fn.append_basic_block("entry"))
    count = builder.load(_pool_word(builder, COUNT))
    room = builder.icmp_unsigned("<", count, ir.Constant(_i64, POOL_SLOTS))
    with builder.if_then(builder.and_(room, _pool_is_mine(builder)), likely=True):
        builder.store(
            builder.ptrtoint(fn.args[0], _i64), _pool_word(builder, builder.add(count, ir.Constant(_i64, SLOTS)))
        )
        builder.store(builder.add(count, ir.Constant(_i64, 1)), _pool_word(builder, COUNT))
        builder.ret_void()
    free = cgutils.get_or_insert_function(module, ir.FunctionType(ir.VoidType(), [_voidptr]), "free")
    builder.call(free, [fn.args[0]])
    builder.ret_void()
    return fn


def _allocator(module: ir.Module) -> ir.GlobalVariable:
    """Numba's ``NRT_ExternalAllocator`` {malloc, realloc, free, opaque} for the pool, one
    per module (``linkonce_odr``: the linker keeps one of the identical copies)."""
    found = module.globals.get(_ALLOCATOR_NAME)
    if found is not None:
        return found
    struct = ir.LiteralStructType([_voidptr] * 4)
    allocator = ir.GlobalVariable(module, struct, _ALLOCATOR_NAME)
    allocator.linkage = "linkonce_odr"
    allocator.global_constant = True
    null = ir.Constant(_voidptr, None)
    take, give = _define_take(module), _define_give(module)
    allocator.initializer = ir.Constant(struct, [take.bitcast(_voidptr), null, give.bitcast(_voidptr), null])
    return allocator


def pooled(held: int) -> bool:
    """Whether a request keeping ``held`` arrays alive gets its block from the pool."""
    return _PROBLEM is None and held <= HELD_IN_BLOCK


def allocate(context, builder: ir.IRBuilder, payload_bytes: ir.Value, dtor: ir.Function) -> ir.Value:
    """A MemInfo of ``payload_bytes`` (at most ``BLOCK_BYTES`` less Numba's header) from
    the pool, with destructor ``dtor``; raises MemoryError in compiled code when none."""
    # imported here: the layout check (python -m mpi4numba info) must not start MPI
    from .cachetag import guard_cache

    guard_cache(context, builder, register_symbols)
    fnty = ir.FunctionType(_voidptr, [_i64, _voidptr])
    alloc_external = cgutils.get_or_insert_function(builder.module, fnty, _ALLOC_SYMBOL)
    block = builder.call(alloc_external, [payload_bytes, builder.bitcast(_allocator(builder.module), _voidptr)])
    with builder.if_then(cgutils.is_null(builder, block), likely=False):
        context.call_conv.return_user_exc(builder, MemoryError, ("mpi4numba: no memory for a request array",))
    words = builder.bitcast(block, _voidptr.as_pointer())
    builder.store(builder.bitcast(dtor, _voidptr), builder.gep(words, [ir.Constant(_i64, 1)]))
    return block
