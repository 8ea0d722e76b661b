"""A per-process cache of committed derived datatypes, reached from compiled code by name.

Strided arrays and structured dtypes need derived MPI datatypes. Building and committing
one costs microseconds; a loop that sends the same face of a grid again and again needs
the same type every time. This module keeps committed types in a handle table
(:mod:`mpi4numba._core.handletable`, exported to the JIT linker as
``mpi4numba_datatype_cache``), so compiled code, also when loaded from Numba's cache in
another process, finds the table by symbol name, never by a baked-in address.

A row is ``[kind, key..., handle]``, the kind being the table's tag and the key up to
``3 + 2 * MAX_NDIM`` words:

* strided types: kind 1, ``base handle, elements per item, ndim, shape..., strides...``;
* struct types: kind 2, ``dtype fingerprint, itemsize, leaf count`` (the fingerprint is a
  hash of the dtype's layout computed at compile time: stable across processes);
* resized types: kind 3, ``handle of a cached type, extent in bytes`` (the block of a
  full-size collective buffer, repeated at a fixed spacing).

Lookup hashes the key words and probes ``PROBES`` rows: no allocation, no lock. A key that
finds no free row there (or has more than ``MAX_NDIM`` dimensions) is built and freed per
call instead. Cached types are never removed (MPI_Finalize frees them).

Threads (prange loops at thread level ``multiple``) share the table under its rules: a
type missed by several threads at once is built by each, and kept once; the others free
theirs and use the kept one.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, register_jitable

from . import capi
from .handletable import Exported, HandleTable

MAX_NDIM = 8
SLOTS = 1024  # a power of two
PROBES = 8
KEY_WORDS = 3 + 2 * MAX_NDIM  # words 1 .. KEY_WORDS of a row: the key of its type
WORDS = 1 + KEY_WORDS + 1
HANDLE_WORD = WORDS - 1
STRIDED, STRUCT, RESIZED = 1, 2, 3
HITS, CACHED, UNCACHED = 0, 1, 2


def register_symbols() -> None:
    """Make the table resolvable by the JIT linker (runs on import and before cached code loads)."""
    _TABLE.export()
    _STATS.export()


_TABLE = HandleTable("mpi4numba_datatype_cache", SLOTS, KEY_WORDS, 1, register_symbols, probes=PROBES)
# hits, types built and cached, types built per call (uncached)
_STATS = Exported("mpi4numba_datatype_cache_stats", 4, register_symbols)
MISS_FULL = _TABLE.full  # lookup result: no row free for this key

find = _TABLE.find
claim = _TABLE.claim
publish = _TABLE.publish
table_word = _TABLE.word
set_table_word = _TABLE.set_word
_insert = _TABLE.insert
_i64 = ir.IntType(64)


def cache_info() -> dict[str, int]:
    """Counters of this process's datatype cache: ``hits``, ``cached`` (types built and
    kept), ``uncached`` (types built and freed per call), and ``entries`` in the table.

    >>> from mpi4numba._core.typecache import cache_info
    >>> sorted(cache_info())
    ['cached', 'entries', 'hits', 'uncached']
    """
    stats = _STATS.array
    return {
        "hits": int(stats[HITS]),
        "cached": int(stats[CACHED]),
        "uncached": int(stats[UNCACHED]),
        "entries": _TABLE.entries(),
    }


@intrinsic
def count(typingctx, which):
    """Add one to counter ``which`` of the statistics (HITS, CACHED, UNCACHED). The load and
    the store are atomic but not the addition: threads counting at once may lose a count,
    and the hit path takes no locked instruction (these are diagnostics)."""

    def codegen(context, builder, sig, args):
        slot = _STATS.address(context, builder, context.cast(builder, args[0], sig.args[0], types.int64))
        counted = builder.add(builder.load_atomic(slot, "monotonic", 8), ir.Constant(_i64, 1))
        builder.store_atomic(counted, slot, "monotonic", 8)
        return context.get_dummy_value()

    return types.none(which), codegen


@register_jitable
def keep(row, kind, key, handle):
    """``(handle, derived)`` of a type just built for a key that :func:`find` did not find
    (its result is ``row``): kept in the table, or, when there is no room (``row`` is
    ``MISS_FULL``, or the key's rows filled since), derived (the caller frees it after
    use). A type another thread has kept for the key meanwhile replaces this one."""
    if row == MISS_FULL:
        count(UNCACHED)
        return handle, True
    kept = _insert(kind, key, (handle,))
    if kept >= 0:
        count(CACHED)
        return handle, False
    if kept != MISS_FULL:  # kept by another thread since this one missed: one type serves both
        capi.MPI_Type_free(handle)
        return table_word((-kept - 1) * WORDS + HANDLE_WORD), False
    count(UNCACHED)
    return handle, True


@register_jitable
def cached_handle(row):
    count(HITS)
    return table_word(row * WORDS + HANDLE_WORD)
