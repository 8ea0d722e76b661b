"""Integer arrays for MPI calls, in lowered bodies: counts, displacements, ranks, dims.

MPI takes them as C ``int`` arrays. An int32 C-contiguous array goes as it is; anything
else (another integer dtype, a tuple, a list) is copied, and a value that does not fit a
C int raises ``ValueError`` instead of reaching MPI cut short. A copy for a blocking call
lives on the caller's stack when it is short (no allocation on the hot path); a copy a
non-blocking call hands to MPI must outlive the call, so it is ``lasting``: on the heap,
held by the request. :meth:`Counts.blocks` is the one place the blocks of a v-collective
are checked and converted, blocking or not.
"""

from __future__ import annotations

from numba.core import types

from .._core.emit import Value
from .._core.scratch import int32_scratch, new_zeros
from .buffers import TOO_FEW_ENTRIES
from .emit_buffers import Buffers

TOO_BIG = "mpi4numba: a count or displacement does not fit a C int"


class Counts(Buffers):
    """C int arrays made from the caller's integers, and the blocks of v-collectives."""

    def zeros(self, count: Value, dtype: str = "int32") -> Value:
        """A new zero-filled array of ``count`` elements of the Numba type named ``dtype``
        (empty if ``count`` is negative)."""
        return self(new_zeros, count, self.literal(dtype))

    def int32_scratch(self, count: Value | int) -> Value:
        """``count`` C ints for one call: on the caller's stack when few, else on the heap."""
        return self(int32_scratch, count)

    def c_ints(
        self, values: Value, message: str = "mpi4numba: a value does not fit a C int", lasting: bool = False
    ) -> Value:
        """``values`` (a 1-D integer array, or a tuple or list of integers) as a C-contiguous
        int32 array for MPI: an int32 C array as it is, anything else copied (tuples
        unrolled, arrays and lists in a loop) into :meth:`int32_scratch`, or into a new array
        if it must outlive the call (``lasting``); a value that does not fit a C int raises
        ``ValueError(message)``."""
        ty = values.type
        if isinstance(ty, types.Array) and ty.dtype == types.int32 and ty.layout == "C":
            return values

        def store(copy: Value, index: Value | int, value: Value) -> None:
            narrow = self.cast(value, types.int32)
            if not (
                isinstance(value.type, types.Boolean)
                or value.type.bitwidth < 32
                or (value.type.bitwidth == 32 and value.type.signed)
            ):
                self.check(narrow.eq(value), ValueError, message)
            copy.setitem(index, narrow)

        def new(count: Value | int) -> Value:
            return self.zeros(self.const(count)) if lasting else self.int32_scratch(count)

        if isinstance(ty, types.BaseTuple):
            items = self.unpack(values)
            copy = new(len(items))
            for index, item in enumerate(items):
                store(copy, index, item)
            return copy
        count = self(len, values)
        copy = new(count)
        with self.loop(count) as index:
            store(copy, index, values.getitem(index))
        return copy

    def packed(self, sizes: Value, lasting: bool = False) -> Value:
        """The displacements (C ints) of blocks of ``sizes`` elements one after the other; a
        displacement past a C int raises ``ValueError``."""
        count = self.size(sizes)
        offsets = self.zeros(count) if lasting else self.int32_scratch(count)
        start = self.variable(self.const(0, types.int64))
        with self.loop(count) as i:
            self.check(start.get().le(2**31 - 1), ValueError, TOO_BIG)
            offsets.setitem(i, self.cast(start.get(), types.int32))
            start.set(start.get().add(sizes.getitem(i)))
        return offsets

    def blocks(
        self,
        counts: Value,
        displacements: Value,
        entries: Value,
        capacity: Value,
        message: str,
        significant: Value | bool = True,
        lasting: bool = False,
        too_few: str = TOO_FEW_ENTRIES,
    ) -> tuple[Value, Value]:
        """``(sizes, offsets)``: the blocks of a v-collective as C ints, from ``counts`` and
        ``displacements`` (None: packed one after the other), checked before MPI sees them.
        There must be ``entries`` of each (else ``ValueError(too_few)``); no count may be
        negative and, where the buffer is ``significant`` (a root's full buffer; every
        process's own), each block must lie inside ``capacity`` elements (else
        ``ValueError(message)``). Every process checks this: one that read past a short
        array would hang the others. ``lasting``: for a non-blocking call (see module doc)."""
        sizes = self.c_ints(counts, TOO_BIG, lasting)
        if displacements.type == types.none:
            offsets = self.packed(sizes, lasting)
        else:
            offsets = self.c_ints(displacements, TOO_BIG, lasting)
        self.check(self.size(sizes).ge(entries).and_(self.size(offsets).ge(entries)), ValueError, too_few)
        outside_ignored = self.not_(significant)
        with self.loop(entries) as i:
            size, offset = sizes.getitem(i), offsets.getitem(i)
            inside = offset.ge(0).and_(offset.add(size).le(capacity))
            self.check(size.ge(0).and_(inside.or_(outside_ignored)), ValueError, message)
        return sizes, offsets
