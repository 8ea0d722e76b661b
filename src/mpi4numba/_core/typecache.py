"""A per-process cache of committed derived datatypes, reached from compiled code by name.

Strided arrays and structured dtypes need derived MPI datatypes. Building and committing
one costs microseconds; a loop that sends the same face of a grid again and again needs
the same type every time. This module keeps committed types in a fixed-size table (a
NumPy array in this process's memory, exported to the JIT linker under the symbol
``mpi4numba_datatype_cache``), so compiled code, also when loaded from Numba's cache in
another process, finds the table by symbol name, never by a baked-in address.

A row is ``[kind, key..., handle]``, the key being up to ``3 + 2 * MAX_NDIM`` words:

* strided types: kind 1, ``base handle, elements per item, ndim, shape..., strides...``;
* struct types: kind 2, ``dtype fingerprint, itemsize, leaf count`` (the fingerprint is a
  hash of the dtype's layout computed at compile time: stable across processes);
* resized types: kind 3, ``handle of a cached type, extent in bytes`` (the block of a
  full-size collective buffer, repeated at a fixed spacing).

Lookup is a hash of the key words and linear probing over a few rows: no allocation, no
lock. A key that finds no free row within the probe window (or has more than
``MAX_NDIM`` dimensions) is built and freed per call instead. Cached types are never
freed (MPI_Finalize releases them). Two threads missing the same key at once may both
build the type; one of them then stays unreferenced, which is harmless.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, register_jitable

from .cachetag import guard_cache

MAX_NDIM = 8
SLOTS = 1024  # a power of two
PROBES = 8
WORDS = 4 + 2 * MAX_NDIM + 1
HANDLE_WORD = WORDS - 1
KEY_WORDS = HANDLE_WORD - 1  # words 1 .. KEY_WORDS of a row: the key of its type
STRIDED, STRUCT, RESIZED = 1, 2, 3
MISS_FULL = -(SLOTS + 1)  # lookup result: no row free for this key

_TABLE = np.zeros(SLOTS * WORDS, np.int64)
_STATS = np.zeros(4, np.int64)  # hits, types built and cached, types built per call (uncached)
_TABLE_SYMBOL = "mpi4numba_datatype_cache"
_STATS_SYMBOL = "mpi4numba_datatype_cache_stats"
HITS, CACHED, UNCACHED = 0, 1, 2


def register_symbols() -> None:
    """Make the table resolvable by the JIT linker (runs on import and before cached code loads)."""
    llvm.add_symbol(_TABLE_SYMBOL, _TABLE.ctypes.data)
    llvm.add_symbol(_STATS_SYMBOL, _STATS.ctypes.data)


register_symbols()


def cache_info() -> dict[str, int]:
    """Counters of this process's datatype cache: ``hits``, ``cached`` (types built and
    kept), ``uncached`` (types built and freed per call), and ``entries`` in the table.

    >>> from mpi4numba._core.typecache import cache_info
    >>> sorted(cache_info())
    ['cached', 'entries', 'hits', 'uncached']
    """
    return {
        "hits": int(_STATS[HITS]),
        "cached": int(_STATS[CACHED]),
        "uncached": int(_STATS[UNCACHED]),
        "entries": int(np.count_nonzero(_TABLE.reshape(SLOTS, WORDS)[:, 0])),
    }


def _global(context, builder, symbol: str, length: int) -> ir.Value:
    guard_cache(context, builder, register_symbols)
    module = builder.module
    table = module.globals.get(symbol)
    if table is None:
        table = ir.GlobalVariable(module, ir.ArrayType(ir.IntType(64), length), symbol)
    return table


def _address(context, builder, symbol: str, length: int, index: ir.Value, index_type: types.Integer) -> ir.Value:
    """The address of word ``index`` (an integer of ``index_type``) of the array ``symbol``."""
    table = _global(context, builder, symbol, length)
    index = context.cast(builder, index, index_type, types.int64)
    return builder.gep(table, [ir.Constant(ir.IntType(32), 0), index])


@intrinsic
def table_word(typingctx, index):
    """Word ``index`` of the cache table."""

    def codegen(context, builder, sig, args):
        return builder.load(_address(context, builder, _TABLE_SYMBOL, SLOTS * WORDS, args[0], sig.args[0]))

    return types.int64(index), codegen


@intrinsic
def set_table_word(typingctx, index, value):
    """Store ``value`` into word ``index`` of the cache table."""
    if not isinstance(value, types.Integer):
        raise TypingError(f"set_table_word: value must be an integer, got {value}")

    def codegen(context, builder, sig, args):
        value = context.cast(builder, args[1], sig.args[1], types.int64)
        builder.store(value, _address(context, builder, _TABLE_SYMBOL, SLOTS * WORDS, args[0], sig.args[0]))
        return context.get_dummy_value()

    return types.none(index, value), codegen


@intrinsic
def count(typingctx, which):
    """Add one to counter ``which`` of the statistics (HITS, CACHED, UNCACHED)."""

    def codegen(context, builder, sig, args):
        slot = _address(context, builder, _STATS_SYMBOL, len(_STATS), args[0], sig.args[0])
        builder.store(builder.add(builder.load(slot), ir.Constant(ir.IntType(64), 1)), slot)
        return context.get_dummy_value()

    return types.none(which), codegen


@register_jitable
def _mix(h, word):
    h = (h ^ word) * 0x100000001B3
    return h ^ (h >> 29)


@register_jitable
def find(kind, key):
    """Row holding the type of ``kind`` whose key (a tuple of integers: words 1.. of its row)
    is ``key`` (>= 0), ``-(row + 1)`` for a free row to fill, or ``MISS_FULL`` (also for a
    key longer than a row holds)."""
    if len(key) > KEY_WORDS:
        return MISS_FULL
    h = -3750763034362895579  # the kind is compared, not hashed: kinds' keys differ in length
    for i in range(len(key)):
        h = _mix(h, key[i])
    for probe in range(PROBES):
        row = (h + probe) & (SLOTS - 1)
        start = row * WORDS
        found = table_word(start)
        if found == 0:
            return -(row + 1)
        if found == kind:
            same = True
            for i in range(len(key)):
                if table_word(start + 1 + i) != key[i]:
                    same = False
                    break
            if same:
                return row
    return MISS_FULL


@register_jitable
def keep(row, kind, key, handle):
    """``(handle, derived)`` of a type just built for a key that :func:`find` did not find
    (its result is ``row``): stored in the free row, or, when there was none, derived (the
    caller frees it after use)."""
    if row == MISS_FULL:
        count(UNCACHED)
        return handle, True
    start = (-row - 1) * WORDS
    for i in range(len(key)):
        set_table_word(start + 1 + i, key[i])
    set_table_word(start + HANDLE_WORD, handle)
    set_table_word(start, kind)  # last, so a half-written row is never matched
    count(CACHED)
    return handle, False


@register_jitable
def cached_handle(row):
    count(HITS)
    return table_word(row * WORDS + HANDLE_WORD)
