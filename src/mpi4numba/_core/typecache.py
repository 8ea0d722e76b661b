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
freed (MPI_Finalize releases them).

Threads (prange loops at thread level ``multiple``) share the table. A row is claimed
before it is written: its kind word goes from 0 to ``WRITING`` by compare-and-swap, so
of the threads that found the same free row exactly one writes it; then the key and the
handle are stored and the kind is published with a release store. Lookups load the kind
with acquire ordering: a row whose kind they see is complete, and a row being written
(``WRITING``) matches no key: they probe on. A keeper that lost its row looks again:
for a row of its own further on, or for the row of its key that another thread has
published meanwhile (its own type, a duplicate, is then freed). Two threads missing the
same key at once may so keep it in two rows; the first is found, the second unused.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, register_jitable

from . import capi
from .cachetag import guard_cache

MAX_NDIM = 8
SLOTS = 1024  # a power of two
PROBES = 8
WORDS = 4 + 2 * MAX_NDIM + 1
HANDLE_WORD = WORDS - 1
KEY_WORDS = HANDLE_WORD - 1  # words 1 .. KEY_WORDS of a row: the key of its type
STRIDED, STRUCT, RESIZED = 1, 2, 3
WRITING = -1  # the kind of a row claimed by a keeper that has not published it yet
MISS_FULL = -(SLOTS + 1)  # lookup result: no row free for this key

_TABLE = np.zeros(SLOTS * WORDS, np.int64)
_STATS = np.zeros(4, np.int64)  # hits, types built and cached, types built per call (uncached)
_TABLE_SYMBOL = "mpi4numba_datatype_cache"
_STATS_SYMBOL = "mpi4numba_datatype_cache_stats"
HITS, CACHED, UNCACHED = 0, 1, 2
_i64 = ir.IntType(64)


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


def _kind_word(context, builder, row: ir.Value, row_type: types.Integer) -> ir.Value:
    """The address of the kind word (the first) of ``row`` of the cache table."""
    start = builder.mul(context.cast(builder, row, row_type, types.int64), ir.Constant(_i64, WORDS))
    return _address(context, builder, _TABLE_SYMBOL, SLOTS * WORDS, start, types.int64)


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
def row_kind(typingctx, row):
    """The kind word of ``row``, loaded with acquire ordering: once it shows a kind, the
    row's key and handle are there too."""

    def codegen(context, builder, sig, args):
        return builder.load_atomic(_kind_word(context, builder, args[0], sig.args[0]), "acquire", 8)

    return types.int64(row), codegen


@intrinsic
def claim(typingctx, row):
    """Claim the free ``row`` for writing (its kind 0 -> ``WRITING``, atomically): True for
    the one thread that did, False if another thread claimed or filled it first."""

    def codegen(context, builder, sig, args):
        word = _kind_word(context, builder, args[0], sig.args[0])
        exchanged = builder.cmpxchg(word, ir.Constant(_i64, 0), ir.Constant(_i64, WRITING), "acq_rel", "acquire")
        return builder.extract_value(exchanged, 1)

    return types.boolean(row), codegen


@intrinsic
def publish(typingctx, row, kind):
    """Store ``kind`` into the claimed ``row`` with release ordering, after its key and handle."""

    def codegen(context, builder, sig, args):
        word = _kind_word(context, builder, args[0], sig.args[0])
        builder.store_atomic(context.cast(builder, args[1], sig.args[1], types.int64), word, "release", 8)
        return context.get_dummy_value()

    return types.none(row, kind), codegen


@intrinsic
def count(typingctx, which):
    """Add one to counter ``which`` of the statistics (HITS, CACHED, UNCACHED). The load and
    the store are atomic but not the addition: threads counting at once may lose a count,
    and the hit path takes no locked instruction (these are diagnostics)."""

    def codegen(context, builder, sig, args):
        slot = _address(context, builder, _STATS_SYMBOL, len(_STATS), args[0], sig.args[0])
        counted = builder.add(builder.load_atomic(slot, "monotonic", 8), ir.Constant(_i64, 1))
        builder.store_atomic(counted, slot, "monotonic", 8)
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
    key longer than a row holds). A row being written matches nothing."""
    if len(key) > KEY_WORDS:
        return MISS_FULL
    h = -3750763034362895579  # the kind is compared, not hashed: kinds' keys differ in length
    for i in range(len(key)):
        h = _mix(h, key[i])
    for probe in range(PROBES):
        row = (h + probe) & (SLOTS - 1)
        start = row * WORDS
        found = row_kind(row)
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
    caller frees it after use). A row another thread claimed first is not written: the
    key is looked up again (at most once per row of its probe window, as rows are never
    freed), and a type another thread has kept for it meanwhile replaces this one."""
    while row < 0 and row != MISS_FULL:
        free = -row - 1
        if claim(free):
            start = free * WORDS
            for i in range(len(key)):
                set_table_word(start + 1 + i, key[i])
            set_table_word(start + HANDLE_WORD, handle)
            publish(free, kind)  # last, so a half-written row is never matched
            count(CACHED)
            return handle, False
        row = find(kind, key)
    if row >= 0:  # kept by another thread since this one missed: one type serves both
        capi.MPI_Type_free(handle)
        return table_word(row * WORDS + HANDLE_WORD), False
    count(UNCACHED)
    return handle, True


@register_jitable
def cached_handle(row):
    count(HITS)
    return table_word(row * WORDS + HANDLE_WORD)
