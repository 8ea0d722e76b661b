"""The table of non-blocking transfers of strided arrays through scratch, pending.

``isend``/``irecv`` of a strided array may send from, or receive into, contiguous scratch
memory (see :mod:`mpi4numba._support.deferred` for when); the scratch is needed until
the request completes, and a receive's elements go into the array then, which only the
completion routines (``wait``, ``test``, ``waitall`` ...) see. Between the two calls the
request handle is the only link (users copy handles into request arrays of their own),
so each such transfer has a record here, found by its handle: where its scratch is and,
for a receive, the array's meminfo (held: the array lives until the elements are in),
address, element size and layout (up to :data:`MAX_NDIM` axes). A scalar sent by
``isend`` lives in its request array, whose meminfo a record holds the same way.

A record's state word goes FREE -> CLAIMED (by compare-and-swap, while ``irecv`` fills
it) -> LIVE (the request started) -> UNPACKING (claimed by the one thread that copies the
elements in) -> FREE. The header counts the live records (completion routines do
nothing more than read it while it is 0), bounds the slots ever used (records take the
lowest free slot, so lookups read as many slots as were pending at once) and numbers them: a request handle may be
reused by MPI as soon as its request completes, so a completion routine only takes the
records numbered before it called MPI.

Like the packing pool, the table is a NumPy array of this process exported to the JIT
linker by symbol name, never by address, so that cached code stays valid.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .cachetag import guard_cache
from .keepalive import acquire, release

SLOTS = 16384  # transfers pending at once (zero pages until used); more use a derived datatype
MAX_NDIM = 4
LIVE, SEQUENCE, HIGH, HEADER = 0, 1, 2, 3  # the header's words (HIGH: slots ever used)
# the words of a record
STATE, HANDLE, NUMBER, RECEIVES, MEMINFO, DATA, ITEMSIZE, BLOCK, SCRATCH, SHAPE = range(10)
STRIDES = SHAPE + MAX_NDIM
WORDS = STRIDES + MAX_NDIM
FREE, CLAIMED, PENDING, UNPACKING = 0, 1, 2, 3  # states
_TABLE = np.zeros(HEADER + SLOTS * WORDS, np.int64)
_SYMBOL = "mpi4numba_pending_receives"
_i64 = ir.IntType(64)


def register_symbols() -> None:
    """Make the table resolvable by the JIT linker (on import, and before cached code loads)."""
    llvm.add_symbol(_SYMBOL, _TABLE.ctypes.data)


register_symbols()


def _word(context, builder, index: ir.Value, index_type: types.Type) -> ir.Value:
    guard_cache(context, builder, register_symbols)
    table = builder.module.globals.get(_SYMBOL)
    if table is None:
        table = ir.GlobalVariable(builder.module, ir.ArrayType(_i64, len(_TABLE)), _SYMBOL)
    index = context.cast(builder, index, index_type, types.int64)
    return builder.gep(table, [ir.Constant(ir.IntType(32), 0), index])


def _int64(context, builder, value, ty) -> ir.Value:
    return context.cast(builder, value, ty, types.int64)


@intrinsic
def load(typingctx, index):
    """Word ``index`` of the table (acquire: what was written before it was stored is seen)."""

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_word(context, builder, args[0], sig.args[0]), "acquire", 8)

    return types.int64(index), codegen


@intrinsic
def store(typingctx, index, value):
    """Store ``value`` in word ``index`` (release: after what was written before)."""

    def codegen(context, builder, sig, args):
        word = _word(context, builder, args[0], sig.args[0])
        builder.store_atomic(_int64(context, builder, args[1], sig.args[1]), word, "release", 8)
        return context.get_dummy_value()

    return types.none(index, value), codegen


@intrinsic
def exchange(typingctx, index, expected, value):
    """Set word ``index`` to ``value`` if it is ``expected``, atomically: True if it was."""

    def codegen(context, builder, sig, args):
        word = _word(context, builder, args[0], sig.args[0])
        old, new = (_int64(context, builder, v, t) for v, t in zip(args[1:], sig.args[1:]))
        return builder.extract_value(builder.cmpxchg(word, old, new, "acq_rel", "monotonic"), 1)

    return types.boolean(index, expected, value), codegen


@intrinsic
def add(typingctx, index, delta):
    """Add ``delta`` to word ``index``, atomically; returns the word's value before."""

    def codegen(context, builder, sig, args):
        word = _word(context, builder, args[0], sig.args[0])
        return builder.atomic_rmw("add", word, _int64(context, builder, args[1], sig.args[1]), "acq_rel")

    return types.int64(index, delta), codegen


@intrinsic
def meminfo_of(typingctx, array):
    """The address of ``array``'s meminfo (0: it has none), incref'd: the array lives until
    :func:`release_meminfo`."""
    if not isinstance(array, types.Array):
        raise TypingError(f"meminfo_of() takes an array, got {array}")

    def codegen(context, builder, sig, args):
        meminfo = context.make_array(sig.args[0])(context, builder, args[0]).meminfo
        acquire(builder, meminfo)
        return builder.ptrtoint(meminfo, _i64)

    return types.int64(array), codegen


@intrinsic
def release_meminfo(typingctx, address):
    """Decref the meminfo at ``address`` (from :func:`meminfo_of`; 0: none)."""

    def codegen(context, builder, sig, args):
        meminfo = builder.inttoptr(_int64(context, builder, args[0], sig.args[0]), cgutils.voidptr_t)
        release(builder, meminfo)
        return context.get_dummy_value()

    return types.none(address), codegen


@intrinsic
def copy_bytes(typingctx, destination, source, count):
    """Copy ``count`` bytes (an element: fixed sizes up to 16 inline) between addresses."""

    def codegen(context, builder, sig, args):
        destination, source, count = (_int64(context, builder, v, t) for v, t in zip(args, sig.args))
        byte_pointer = ir.IntType(8).as_pointer()
        to, frm = builder.inttoptr(destination, byte_pointer), builder.inttoptr(source, byte_pointer)
        done = builder.append_basic_block("copied")
        other = builder.append_basic_block("any_size")
        switch = builder.switch(count, other)
        for size in (1, 2, 4, 8, 16):
            block = builder.append_basic_block(f"size_{size}")
            switch.add_case(ir.Constant(_i64, size), block)
            builder.position_at_end(block)
            cgutils.raw_memcpy(builder, to, frm, ir.Constant(_i64, size), 1)
            builder.branch(done)
        builder.position_at_end(other)
        cgutils.raw_memcpy(builder, to, frm, count, 1)
        builder.branch(done)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return types.none(destination, source, count), codegen
