"""The one concurrent table for every per-process cache of MPI handles (derived datatypes,
windows, ...), reached from compiled code by symbol name.

A table is declared once, at import, by the module that owns it::

    def register_symbols() -> None:  # module level: cached code names it, by reference
        TABLE.export()

    TABLE = HandleTable("mpi4numba_window_table", rows=4096, key_words=1, value_words=1, loader=register_symbols)

Its storage is an int64 NumPy array of this process, exported to the JIT linker under the
symbol: compiled code finds it by name, never by a baked-in address, so code cached by
``@njit(cache=True)`` runs in other processes too, where the loader exports the table
again before that code loads (``cachetag.guard_cache``).

Layout: ``rows`` rows (a power of two) of ``[state, key..., value...]`` (1 + ``key_words``
+ ``value_words`` words), then the writer word, on a cache line of its own. The state:

* ``EMPTY`` (0): never used; it ends every probe chain;
* PUBLISHED (> 0): ``generation << 16 | tag``; the tag (1 .. ``MAX_TAG``) is part of the
  key, compared but not hashed (the datatype cache keeps one kind of type per tag);
* WRITING: ``~(generation << 16)``, claimed and being written (``WRITING``, -1, at
  generation 0);
* TOMBSTONE: ``~(generation << 16 | 1)``, removed.

The rules:

1. A key's probe chain is ``home, home + 1, ...`` (``probes`` rows at most, wrapping),
   ``home`` a hash of its key words; it lives in the first row of its chain that was
   free (EMPTY or TOMBSTONE) when it was inserted. A call site passes a key as a tuple of
   fixed length, compared with the first words of a row's key: keys of one tag must be
   prefix-free (of one length, or carrying their length). A longer key than the table
   holds is never stored (``FULL``).
2. Readers (``find``, ``lookup``) take no lock: they load a state with acquire ordering,
   stop at EMPTY, pass WRITING and TOMBSTONE rows, and compare the key of a PUBLISHED row
   of their tag. On a match they read the values, fence (acquire) and load the state
   again: unchanged, the key and values are the ones published together; changed, the
   row is examined again. Removal bumps the generation, so a row removed and reused in
   between reads as changed.
3. Writers (``insert``, ``remove``) hold the writer word, taken by compare-and-swap 0 ->
   1 (acquire) and given back by a release store; a writer that finds it taken yields
   the CPU and tries again. Inserts and removals so take turns: an insert that finds no
   row of its key cannot miss another insert of that key, and a table never holds a key
   twice. The word is held for one probe and a few stores, never across a call out of
   the table.
4. A row leaves a free state only by a compare-and-swap of its state (``claim``) to
   WRITING; its key and values are written after a release fence (a reader that reads
   them sees the state changed), then it is published by a release store of PUBLISHED: a
   reader that loads it (acquire) sees its key and values.
5. ``remove`` stores TOMBSTONE of the next generation, then, after a release fence,
   zeroes the values. A tombstone keeps the chains through its row whole; inserts reuse
   it; a row never becomes EMPTY again.
6. A chain without a free row among its ``probes`` rows is full: ``insert`` answers
   ``FULL``, ``find`` a miss. Nothing loops over a full table.
7. What a reader found is the caller's until the key is removed: removing a key while
   another thread still uses its values (a window freed while in use) is the caller's
   race, as it is in MPI.
8. ``claim`` and ``publish`` without the writer word are the halves of an insert for a
   caller that handles duplicates itself (tests of the rows' states).

Every operation but ``publish`` is one ``linkonce_odr`` helper function per LLVM module
(and key length): a call site holds one call, the module is optimised once for it, and
the linker keeps one copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .cachetag import guard_cache

EMPTY = 0
WRITING = -1  # the state of a row claimed at generation 0
TAG_BITS = 16
MAX_TAG = (1 << TAG_BITS) - 1
_GENERATIONS = ((1 << 63) - 1) & ~MAX_TAG  # the generation bits of a state (wrap, never the sign)
_TOMBSTONE = 1  # the low bits of ~state of a removed row (0: a claimed one)
_LINE_WORDS = 8  # a cache line
_MIX = 0x100000001B3
_SEED = -3750763034362895579
_FIBONACCI = 0x9E3779B97F4A7C15 - (1 << 64)  # 2**64 / golden ratio, signed
_i64 = ir.IntType(64)
_i32 = ir.IntType(32)


def _c(value: int) -> ir.Constant:
    return ir.Constant(_i64, value)


class Exported:
    """An int64 array of this process (``array``) that compiled code reaches as ``symbol``;
    ``loader`` (a module-level function) exports it again before cached code loads."""

    def __init__(self, symbol: str, length: int, loader: Callable[[], None]) -> None:
        self.symbol, self.loader = symbol, loader
        self.array = np.zeros(length, np.int64)
        self.export()

    def export(self) -> None:
        """Make the array resolvable by the JIT linker."""
        llvm.add_symbol(self.symbol, self.array.ctypes.data)

    def declared(self, module: ir.Module) -> ir.Value:
        """The array as a global of ``module`` (a declaration: the linker resolves it)."""
        table = module.globals.get(self.symbol)
        if table is None:
            table = ir.GlobalVariable(module, ir.ArrayType(_i64, len(self.array)), self.symbol)
        return table

    def address(self, context, builder: ir.IRBuilder, index: ir.Value | int) -> ir.Value:
        """Pointer to word ``index`` (an i64 or an int), in code whose cache entries now
        run the loader first."""
        guard_cache(context, builder, self.loader)
        return _at(builder, self.declared(builder.module), index)


def _at(builder: ir.IRBuilder, table: ir.Value, index: ir.Value | int) -> ir.Value:
    index = _c(index) if isinstance(index, int) else index
    return builder.gep(table, [ir.Constant(_i32, 0), index])


def _key_words(context, builder, tuple_type: types.BaseTuple, value: ir.Value) -> list[ir.Value]:
    return [
        context.cast(builder, builder.extract_value(value, i), item, types.int64)
        for i, item in enumerate(tuple_type.types)
    ]


def _integer_tuple(value: types.Type) -> bool:
    return (
        isinstance(value, types.BaseTuple)
        and len(value) > 0
        and all(isinstance(item, (types.Integer, types.Boolean)) for item in value.types)
    )


class HandleTable(Exported):
    """A concurrent hash table of ``rows`` rows from ``key_words`` words and a tag (1 ..
    ``MAX_TAG``) to ``value_words`` words, probed over ``probes`` rows (all by default);
    the rules are in the module's docstring. Compiled code uses the intrinsics ``find``, ``lookup``,
    ``insert``, ``remove``, ``claim``, ``publish``, ``word`` and ``set_word``; lowering
    code the ``emit_*`` methods."""

    def __init__(
        self,
        symbol: str,
        rows: int,
        key_words: int,
        value_words: int,
        loader: Callable[[], None],
        probes: int | None = None,
    ) -> None:
        if rows < 2 or rows & (rows - 1):
            raise ValueError(f"a handle table has a power of two rows (2 or more), not {rows}")
        if key_words < 1 or value_words < 1:
            raise ValueError("a handle table has at least one key word and one value word")
        self.rows, self.key_words, self.value_words = rows, key_words, value_words
        self.probes = rows if probes is None else min(probes, rows)
        self.row_words = 1 + key_words + value_words
        self.full = -(rows + 1)  # find and insert: no free row in the key's chain
        self._lock_word = rows * self.row_words + _LINE_WORDS
        self._layout = f"{symbol}.r{rows}k{key_words}v{value_words}p{self.probes}"
        super().__init__(symbol, self._lock_word + _LINE_WORDS, loader)
        self._make_intrinsics()

    # -- from Python -------------------------------------------------------------------

    def view(self) -> np.ndarray:
        """The rows, one per line: ``[state, key..., value...]``."""
        return self.array[: self.rows * self.row_words].reshape(self.rows, self.row_words)

    def entries(self) -> int:
        """The number of published rows."""
        return int(np.count_nonzero(self.view()[:, 0] > 0))

    # -- lowering ----------------------------------------------------------------------

    def emit_find(self, context, builder, tag: ir.Value | int, key: Sequence[ir.Value]) -> tuple[ir.Value, list]:
        """``(row, values)`` of ``key`` (i64 words) with ``tag``: its row and values (read
        together) if it is there; else ``-(row + 1)`` of the free row it would take, or
        ``full``, and zeros."""
        guard_cache(context, builder, self.loader)
        if len(key) > self.key_words:
            return _c(self.full), [_c(0)] * self.value_words
        out = cgutils.alloca_once(builder, _i64, size=_c(self.value_words))
        row = builder.call(self._find(builder.module, len(key)), [self._tag(tag), *key, out])
        return row, self._values(builder, row, out)

    def emit_insert(
        self, context, builder, tag: ir.Value | int, key: Sequence[ir.Value], values: Sequence[ir.Value]
    ) -> ir.Value:
        """Insert ``key`` -> ``values`` (i64 words; missing values are 0): the new row; or
        ``-(row + 1)`` of the row that holds the key already (unchanged); or ``full``."""
        guard_cache(context, builder, self.loader)
        if len(key) > self.key_words or len(values) > self.value_words:
            return _c(self.full)
        values = [*values, *[_c(0)] * (self.value_words - len(values))]
        return builder.call(self._insert(builder.module, len(key)), [self._tag(tag), *key, *values])

    def emit_remove(self, context, builder, tag: ir.Value | int, key: Sequence[ir.Value]) -> tuple[ir.Value, list]:
        """Remove ``key``: ``(row, values)`` it had (``row`` < 0 and zeros if it was not there)."""
        guard_cache(context, builder, self.loader)
        if len(key) > self.key_words:
            return _c(-1), [_c(0)] * self.value_words
        out = cgutils.alloca_once(builder, _i64, size=_c(self.value_words))
        row = builder.call(self._remove(builder.module, len(key)), [self._tag(tag), *key, out])
        return row, self._values(builder, row, out)

    def emit_claim(self, context, builder, row: ir.Value) -> ir.Value:
        """Claim the free ``row`` (i1: this thread did)."""
        guard_cache(context, builder, self.loader)
        return builder.call(self._claim(builder.module), [row])

    def emit_publish(self, context, builder, row: ir.Value, tag: ir.Value | int) -> None:
        """Publish the claimed ``row`` (its key and values written) with ``tag``."""
        state = self.address(context, builder, builder.mul(row, _c(self.row_words)))
        generation = builder.and_(builder.not_(builder.load_atomic(state, "monotonic", 8)), _c(_GENERATIONS))
        builder.store_atomic(builder.or_(generation, self._tag(tag)), state, "release", 8)

    def _values(self, builder, row: ir.Value, out: ir.Value) -> list[ir.Value]:
        """The values a helper wrote to ``out`` for ``row``; zeros for no row."""
        there = builder.icmp_signed(">=", row, _c(0))
        return [builder.select(there, builder.load(builder.gep(out, [_c(i)])), _c(0)) for i in range(self.value_words)]

    def _tag(self, tag: ir.Value | int) -> ir.Value:
        if isinstance(tag, int):
            if not 1 <= tag <= MAX_TAG:  # 0 would publish a row that reads as EMPTY
                raise ValueError(f"a handle table's tag is 1 .. {MAX_TAG}, not {tag}")
            return _c(tag)
        return tag

    # -- the helper functions, one per module ---------------------------------------------

    def _helper(self, module: ir.Module, name: str, arguments: list, result: ir.Type):
        """The helper ``name`` of ``module`` and, the first time, a builder for its body."""
        full_name = f"mpi4numba.table.{self._layout}.{name}"
        function = module.globals.get(full_name)
        if function is not None:
            return function, None
        function = ir.Function(module, ir.FunctionType(result, arguments), full_name)
        function.linkage = "linkonce_odr"
        return function, ir.IRBuilder(function.append_basic_block("entry"))

    def _state(self, builder, table, row: ir.Value) -> ir.Value:
        return _at(builder, table, builder.mul(row, _c(self.row_words)))

    def _cell(self, builder, table, row: ir.Value, word: int) -> ir.Value:
        return _at(builder, table, builder.add(builder.mul(row, _c(self.row_words)), _c(word)))

    def _home(self, builder, key: Sequence[ir.Value]) -> ir.Value:
        hashed = _c(_SEED)
        for word in key:
            hashed = builder.mul(builder.xor(hashed, word), _c(_MIX))
            hashed = builder.xor(hashed, builder.lshr(hashed, _c(32)))
        bits = self.rows.bit_length() - 1
        return builder.lshr(builder.mul(hashed, _c(_FIBONACCI)), _c(64 - bits))

    def _find(self, module: ir.Module, length: int) -> ir.Function:
        """``i64 find(tag, key words..., i64 *values)``: see :meth:`emit_find`."""
        function, b = self._helper(module, f"find{length}", [_i64] * (1 + length) + [_i64.as_pointer()], _i64)
        if b is None:
            return function
        tag, *key, out = function.args
        table = self.declared(module)
        free, probe, state = (cgutils.alloca_once_value(b, _c(start)) for start in (-1, 0, 0))
        home = self._home(b, key)
        names = ("load", "examine", "passed", "compare", "read", "found", "next", "stop", "full")
        load, examine, passed, compare, read, found, following, stop, full = map(function.append_basic_block, names)
        b.branch(load)

        b.position_at_end(load)
        row = b.and_(b.add(home, b.load(probe)), _c(self.rows - 1))
        b.store(b.load_atomic(self._state(b, table, row), "acquire", 8), state)
        b.branch(examine)

        b.position_at_end(examine)
        seen = b.load(state)
        with b.if_then(b.icmp_signed("==", seen, _c(EMPTY)), likely=False):
            b.branch(stop)
        published = b.icmp_signed(">", seen, _c(0))
        same_tag = b.icmp_signed("==", b.and_(seen, _c(MAX_TAG)), tag)
        b.cbranch(b.and_(published, same_tag), compare, passed)

        b.position_at_end(passed)  # the first tombstone is where an insert would go
        tombstone = b.icmp_signed("==", b.and_(b.not_(seen), _c(MAX_TAG)), _c(_TOMBSTONE))
        first = b.and_(b.and_(b.icmp_signed("<", seen, _c(0)), tombstone), b.icmp_signed("<", b.load(free), _c(0)))
        b.store(b.select(first, row, b.load(free)), free)
        b.branch(following)

        b.position_at_end(compare)
        match = cgutils.true_bit
        for i, word in enumerate(key):
            stored = b.load_atomic(self._cell(b, table, row, 1 + i), "monotonic", 8)
            match = b.and_(match, b.icmp_signed("==", stored, word))
        b.cbranch(match, read, following)

        b.position_at_end(read)  # the values, then the state again: unchanged, all belong together
        for i in range(self.value_words):
            value = b.load_atomic(self._cell(b, table, row, 1 + self.key_words + i), "monotonic", 8)
            b.store(value, b.gep(out, [_c(i)]))
        b.fence("acquire")
        again = b.load_atomic(self._state(b, table, row), "monotonic", 8)
        b.store(again, state)
        b.cbranch(b.icmp_signed("==", again, seen), found, examine)

        b.position_at_end(found)
        b.ret(row)

        b.position_at_end(following)
        step = b.add(b.load(probe), _c(1))
        b.store(step, probe)
        b.cbranch(b.icmp_signed("<", step, _c(self.probes)), load, full)

        b.position_at_end(stop)
        taken = b.load(free)
        b.ret(b.select(b.icmp_signed(">=", taken, _c(0)), b.sub(_c(-1), taken), b.sub(_c(-1), row)))

        b.position_at_end(full)
        taken = b.load(free)
        b.ret(b.select(b.icmp_signed(">=", taken, _c(0)), b.sub(_c(-1), taken), _c(self.full)))
        return function

    def _lock(self, b: ir.IRBuilder, table) -> ir.Value:
        """Take the writer word (yielding the CPU while another writer holds it); its address."""
        word = _at(b, table, self._lock_word)
        function = b.function
        attempt, wait, held = (function.append_basic_block(name) for name in ("lock", "wait", "locked"))
        b.branch(attempt)
        b.position_at_end(attempt)
        taken = b.extract_value(b.cmpxchg(word, _c(0), _c(1), "acquire", "monotonic"), 1)
        b.cbranch(taken, held, wait)
        b.position_at_end(wait)
        b.call(cgutils.get_or_insert_function(b.module, ir.FunctionType(_i32, []), "sched_yield"), [])
        b.branch(attempt)
        b.position_at_end(held)
        return word

    def _claim_row(self, b: ir.IRBuilder, table, row: ir.Value, claimed: ir.Block, lost: ir.Block) -> None:
        """Branch to ``claimed`` if this thread moved ``row`` from a free state to WRITING
        (of the row's generation), else to ``lost``."""
        address = self._state(b, table, row)
        seen = b.load_atomic(address, "monotonic", 8)
        inverted = b.not_(seen)
        tombstone = b.and_(
            b.icmp_signed("<", seen, _c(0)), b.icmp_signed("==", b.and_(inverted, _c(MAX_TAG)), _c(_TOMBSTONE))
        )
        free = b.or_(b.icmp_signed("==", seen, _c(EMPTY)), tombstone)
        swap = b.function.append_basic_block("claim.swap")
        b.cbranch(free, swap, lost)
        b.position_at_end(swap)
        generation = b.select(tombstone, b.and_(inverted, _c(_GENERATIONS)), _c(0))
        exchanged = b.cmpxchg(address, seen, b.not_(generation), "acquire", "monotonic")
        b.cbranch(b.extract_value(exchanged, 1), claimed, lost)

    def _claim(self, module: ir.Module) -> ir.Function:
        """``i1 claim(row)``: see :meth:`emit_claim`."""
        function, b = self._helper(module, "claim", [_i64], ir.IntType(1))
        if b is None:
            return function
        claimed, lost = function.append_basic_block("claimed"), function.append_basic_block("lost")
        self._claim_row(b, self.declared(module), function.args[0], claimed, lost)
        b.position_at_end(claimed)
        b.ret(cgutils.true_bit)
        b.position_at_end(lost)
        b.ret(cgutils.false_bit)
        return function

    def _insert(self, module: ir.Module, length: int) -> ir.Function:
        """``i64 insert(tag, key words..., value words...)``: see :meth:`emit_insert`."""
        arguments = [_i64] * (1 + length + self.value_words)
        function, b = self._helper(module, f"insert{length}", arguments, _i64)
        if b is None:
            return function
        tag, key, values = function.args[0], function.args[1 : 1 + length], function.args[1 + length :]
        table = self.declared(module)
        scratch = cgutils.alloca_once(b, _i64, size=_c(self.value_words))
        find = self._find(module, length)
        lock = self._lock(b, table)
        names = ("attempt", "there", "missing", "full", "claim", "write")
        attempt, there, missing, full, claim, write = map(function.append_basic_block, names)
        b.branch(attempt)

        b.position_at_end(attempt)
        row = b.call(find, [tag, *key, scratch])
        b.cbranch(b.icmp_signed(">=", row, _c(0)), there, missing)

        b.position_at_end(there)
        b.store_atomic(_c(0), lock, "release", 8)
        b.ret(b.sub(_c(-1), row))

        b.position_at_end(missing)
        b.cbranch(b.icmp_signed("==", row, _c(self.full)), full, claim)

        b.position_at_end(full)
        b.store_atomic(_c(0), lock, "release", 8)
        b.ret(_c(self.full))

        b.position_at_end(claim)  # lost only to a claim made without the writer word: look again
        free = b.sub(_c(-1), row)
        self._claim_row(b, table, free, write, attempt)

        b.position_at_end(write)
        b.fence("release")  # a reader that reads the new words sees the row changed
        for i, word in enumerate([*key, *values]):
            slot = self._cell(b, table, free, 1 + i if i < length else 1 + self.key_words + i - length)
            b.store_atomic(word, slot, "monotonic", 8)
        state = self._state(b, table, free)
        generation = b.and_(b.not_(b.load_atomic(state, "monotonic", 8)), _c(_GENERATIONS))
        b.store_atomic(b.or_(generation, tag), state, "release", 8)
        b.store_atomic(_c(0), lock, "release", 8)
        b.ret(free)
        return function

    def _remove(self, module: ir.Module, length: int) -> ir.Function:
        """``i64 remove(tag, key words..., i64 *values)``: see :meth:`emit_remove`."""
        function, b = self._helper(module, f"remove{length}", [_i64] * (1 + length) + [_i64.as_pointer()], _i64)
        if b is None:
            return function
        tag, *key, out = function.args
        table = self.declared(module)
        lock = self._lock(b, table)
        row = b.call(self._find(module, length), [tag, *key, out])
        with b.if_then(b.icmp_signed(">=", row, _c(0))):
            state = self._state(b, table, row)
            seen = b.load_atomic(state, "monotonic", 8)
            generation = b.and_(b.add(b.and_(seen, _c(_GENERATIONS)), _c(1 << TAG_BITS)), _c(_GENERATIONS))
            b.store_atomic(b.not_(b.or_(generation, _c(_TOMBSTONE))), state, "release", 8)
            b.fence("release")  # a reader that reads a zero sees the tombstone
            for i in range(self.value_words):
                b.store_atomic(_c(0), self._cell(b, table, row, 1 + self.key_words + i), "monotonic", 8)
        b.store_atomic(_c(0), lock, "release", 8)
        b.ret(row)
        return function

    # -- the intrinsics of compiled code -------------------------------------------------

    def _make_intrinsics(self) -> None:
        table = self
        value_tuple = types.UniTuple(types.int64, self.value_words)

        def tag_and_key(name: str, tag, key) -> None:
            if not isinstance(tag, types.Integer) or not _integer_tuple(key):
                raise TypingError(f"{name}() takes a tag and a key (a tuple of integers), got {tag}, {key}")

        def find(typingctx, tag, key):
            """The row of ``key`` (a tuple of integers) with ``tag`` (>= 0); else ``-(row + 1)``
            of the free row it would take, or ``full`` (also for a key longer than a row holds)."""
            tag_and_key("find", tag, key)

            def codegen(context, builder, sig, args):
                tag_value = context.cast(builder, args[0], sig.args[0], types.int64)
                words = _key_words(context, builder, sig.args[1], args[1])
                return table.emit_find(context, builder, tag_value, words)[0]

            return types.int64(tag, key), codegen

        def lookup(typingctx, tag, key):
            """``(row, values)`` of ``key`` with ``tag``, read together (see ``find``; values
            are zeros when the key is not there)."""
            tag_and_key("lookup", tag, key)
            result = types.Tuple((types.int64, value_tuple))

            def codegen(context, builder, sig, args):
                tag_value = context.cast(builder, args[0], sig.args[0], types.int64)
                words = _key_words(context, builder, sig.args[1], args[1])
                row, values = table.emit_find(context, builder, tag_value, words)
                return context.make_tuple(builder, result, [row, context.make_tuple(builder, value_tuple, values)])

            return result(tag, key), codegen

        def insert(typingctx, tag, key, values):
            """Insert ``key`` -> ``values`` (tuples of integers) with ``tag``: the new row; or
            ``-(row + 1)`` of the key's row if it is there already; or ``full``."""
            tag_and_key("insert", tag, key)
            if not _integer_tuple(values):
                raise TypingError(f"insert() takes values as a tuple of integers, got {values}")

            def codegen(context, builder, sig, args):
                tag_value = context.cast(builder, args[0], sig.args[0], types.int64)
                words = _key_words(context, builder, sig.args[1], args[1])
                stored = _key_words(context, builder, sig.args[2], args[2])
                return table.emit_insert(context, builder, tag_value, words, stored)

            return types.int64(tag, key, values), codegen

        def remove(typingctx, tag, key):
            """Remove ``key`` with ``tag``: ``(removed, values it had)``."""
            tag_and_key("remove", tag, key)
            result = types.Tuple((types.boolean, value_tuple))

            def codegen(context, builder, sig, args):
                tag_value = context.cast(builder, args[0], sig.args[0], types.int64)
                words = _key_words(context, builder, sig.args[1], args[1])
                row, values = table.emit_remove(context, builder, tag_value, words)
                removed = builder.icmp_signed(">=", row, _c(0))
                return context.make_tuple(builder, result, [removed, context.make_tuple(builder, value_tuple, values)])

            return result(tag, key), codegen

        def claim(typingctx, row):
            """Claim the free ``row`` for writing: True for the one thread that did, False if
            another thread claimed or filled it first (without the writer word: rule 8)."""

            def codegen(context, builder, sig, args):
                return table.emit_claim(context, builder, context.cast(builder, args[0], sig.args[0], types.int64))

            return types.boolean(row), codegen

        def publish(typingctx, row, tag):
            """Publish the claimed ``row`` with ``tag``, after its key and values."""

            def codegen(context, builder, sig, args):
                row_value = context.cast(builder, args[0], sig.args[0], types.int64)
                table.emit_publish(
                    context, builder, row_value, context.cast(builder, args[1], sig.args[1], types.int64)
                )
                return context.get_dummy_value()

            return types.none(row, tag), codegen

        def word(typingctx, index):
            """Word ``index`` of the rows (a plain load: for rows seen published, and tests)."""

            def codegen(context, builder, sig, args):
                index_value = context.cast(builder, args[0], sig.args[0], types.int64)
                return builder.load(table.address(context, builder, index_value))

            return types.int64(index), codegen

        def set_word(typingctx, index, value):
            """Store ``value`` into word ``index`` of the rows (a plain store: tests)."""
            if not isinstance(value, types.Integer):
                raise TypingError(f"set_word() takes an integer value, got {value}")

            def codegen(context, builder, sig, args):
                address = table.address(context, builder, context.cast(builder, args[0], sig.args[0], types.int64))
                builder.store(context.cast(builder, args[1], sig.args[1], types.int64), address)
                return context.get_dummy_value()

            return types.none(index, value), codegen

        self.find, self.lookup, self.insert, self.remove = map(intrinsic, (find, lookup, insert, remove))
        self.claim, self.publish, self.word, self.set_word = map(intrinsic, (claim, publish, word, set_word))
