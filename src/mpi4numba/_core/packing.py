"""Scratch memory for packed strided buffers, and the settings that choose when to pack.

A blocking transfer of a strided array may copy ("pack") its elements into contiguous
scratch memory and hand MPI that, instead of describing the layout with a derived datatype
(see :mod:`mpi4numba._support.strided` for when). The scratch is a small per-process pool
of growable blocks: a call claims a free block with a compare-and-swap of its busy word,
grows it if it is too small (``malloc``; the old block is freed), and gives it back with
a release store. One thread always finds block 0 free: no allocation once it is large
enough. Threads calling at once (``prange`` at thread level ``multiple``) claim different
blocks; when all are busy, a call allocates its own block and frees it after.

Both the pool and the settings are NumPy arrays of this process exported to the JIT
linker by symbol name (like :mod:`mpi4numba._core.typecache`), so compiled code, also when
loaded from Numba's cache in another process, never holds a baked-in address, and the
settings can change at run time without recompiling anything.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .cachetag import guard_cache

BLOCKS = 16  # blocks of the pool: more threads than this packing at once allocate per call
BUSY, ADDRESS, CAPACITY = 0, 1, 2  # the words of a block
_POOL = np.zeros(BLOCKS * 3, np.int64)
_POOL_SYMBOL = "mpi4numba_pack_pool"

# The settings: the mode, the largest array packed, then auto's two tables: one word per
# size of the contiguous runs of a layout (RUN_BUCKETS: 8, 16, ... bytes, the last one and
# longer), whose bit t says whether to pack an array of 512 * 2**t bytes up to the next
# power of two (SIZE_BUCKETS: 512 bytes or less, ..., the last one and more): the first
# table for sizes between powers of two, the second (EDGES) for a power of two exactly,
# where MPI libraries switch protocols.
MODE, MAX_BYTES, TABLE = 0, 1, 2
AUTO, PACK, DATATYPE = 0, 1, 2  # modes
RUN_BUCKETS, SIZE_BUCKETS = 10, 16
EDGES = TABLE + RUN_BUCKETS
SETTINGS = np.zeros(TABLE + 2 * RUN_BUCKETS, np.int64)
_SETTINGS_SYMBOL = "mpi4numba_strided_settings"
_i64 = ir.IntType(64)


def register_symbols() -> None:
    """Make the pool and the settings resolvable by the JIT linker (on import, and before
    cached code that uses them loads)."""
    llvm.add_symbol(_POOL_SYMBOL, _POOL.ctypes.data)
    llvm.add_symbol(_SETTINGS_SYMBOL, SETTINGS.ctypes.data)


register_symbols()


def _word(context, builder, symbol: str, length: int, index: ir.Value, index_type: types.Type) -> ir.Value:
    """The address of word ``index`` of the process array exported as ``symbol``."""
    guard_cache(context, builder, register_symbols)
    table = builder.module.globals.get(symbol)
    if table is None:
        table = ir.GlobalVariable(builder.module, ir.ArrayType(_i64, length), symbol)
    index = context.cast(builder, index, index_type, types.int64)
    return builder.gep(table, [ir.Constant(ir.IntType(32), 0), index])


def _pool_word(context, builder, block, block_type, word: int | ir.Value) -> ir.Value:
    start = builder.mul(context.cast(builder, block, block_type, types.int64), ir.Constant(_i64, 3))
    offset = ir.Constant(_i64, word) if isinstance(word, int) else word
    return _word(context, builder, _POOL_SYMBOL, len(_POOL), builder.add(start, offset), types.int64)


@intrinsic
def setting(typingctx, which):
    """Word ``which`` of the settings (MODE, BLOCK_BYTES, MAX_BYTES), as they are now."""

    def codegen(context, builder, sig, args):
        word = _word(context, builder, _SETTINGS_SYMBOL, len(SETTINGS), args[0], sig.args[0])
        return builder.load_atomic(word, "monotonic", 8)

    return types.int64(which), codegen


@intrinsic
def claim_block(typingctx, block):
    """Claim pool block ``block`` (busy 0 -> 1, atomically): True for the one thread that did."""

    def codegen(context, builder, sig, args):
        busy = _pool_word(context, builder, args[0], sig.args[0], BUSY)
        exchanged = builder.cmpxchg(busy, ir.Constant(_i64, 0), ir.Constant(_i64, 1), "acquire", "monotonic")
        return builder.extract_value(exchanged, 1)

    return types.boolean(block), codegen


@intrinsic
def free_block(typingctx, block):
    """Give pool block ``block`` back (release ordering: after the last use of its memory)."""

    def codegen(context, builder, sig, args):
        busy = _pool_word(context, builder, args[0], sig.args[0], BUSY)
        builder.store_atomic(ir.Constant(_i64, 0), busy, "release", 8)
        return context.get_dummy_value()

    return types.none(block), codegen


@intrinsic
def block_word(typingctx, block, word):
    """Word ``word`` (ADDRESS, CAPACITY) of claimed pool block ``block``."""

    def codegen(context, builder, sig, args):
        offset = context.cast(builder, args[1], sig.args[1], types.int64)
        return builder.load(_pool_word(context, builder, args[0], sig.args[0], offset))

    return types.int64(block, word), codegen


@intrinsic
def set_block(typingctx, block, address, capacity):
    """Record the memory of claimed pool block ``block``."""

    def codegen(context, builder, sig, args):
        for value, ty, word in zip(args[1:], sig.args[1:], (ADDRESS, CAPACITY)):
            value = context.cast(builder, value, ty, types.int64)
            builder.store(value, _pool_word(context, builder, args[0], sig.args[0], word))
        return context.get_dummy_value()

    return types.none(block, address, capacity), codegen


def _libc(builder, name: str, fnty: ir.FunctionType) -> ir.Function:
    return cgutils.get_or_insert_function(builder.module, fnty, name)


@intrinsic
def c_malloc(typingctx, nbytes):
    """``malloc(nbytes)`` as an integer address (0 if it failed)."""

    def codegen(context, builder, sig, args):
        size = context.cast(builder, args[0], sig.args[0], types.intp)
        pointer = builder.call(_libc(builder, "malloc", ir.FunctionType(cgutils.voidptr_t, [size.type])), [size])
        return builder.ptrtoint(pointer, _i64)

    return types.int64(nbytes), codegen


@intrinsic
def c_free(typingctx, address):
    """``free`` of an address from :func:`c_malloc`."""

    def codegen(context, builder, sig, args):
        pointer = builder.inttoptr(context.cast(builder, args[0], sig.args[0], types.int64), cgutils.voidptr_t)
        builder.call(_libc(builder, "free", ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t])), [pointer])
        return context.get_dummy_value()

    return types.none(address), codegen


@intrinsic
def log2_floor(typingctx, value):
    """``floor(log2(value))`` of a positive integer (-1 for 0)."""
    if not isinstance(value, types.Integer):
        raise TypingError(f"log2_floor() takes an integer, got {value}")

    def codegen(context, builder, sig, args):
        word = context.cast(builder, args[0], sig.args[0], types.int64)
        zeros = builder.ctlz(word, ir.Constant(ir.IntType(1), 0))
        return builder.sub(ir.Constant(_i64, 63), zeros)

    return types.int64(value), codegen
