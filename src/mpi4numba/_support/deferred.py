"""Non-blocking transfers of strided arrays through scratch that lives until they complete.

A blocking call packs a strided array into scratch or receives into scratch and copies
the elements in before it returns (:mod:`mpi4numba._support.strided`). ``isend``,
``issend``, ``irecv`` and ``imrecv`` do the same where the same table says packing is
faster, and the scratch stays theirs until the request completes: a record of the
transfer (:mod:`mpi4numba._core.pending`) lets the completion routines that see its
request complete (``wait``, ``test``, ``waitall``, ``waitany``, ``testall``, ``testany``,
on any request array holding the handle) give the scratch back, after copying a
receive's elements into its array. A receive's scratch is first filled with the
array's elements, so elements that no message reaches (a shorter message, a cancelled
receive) keep their values.

A scalar that ``isend`` sends lives in the request array the call makes; a record holds
that array until the send completes, the same way.

A request completed elsewhere (mpi4py's ``Request.Wait``) leaves a receive's elements in
scratch, and ``request_free`` of such a pending transfer is refused (MPI would go on using
the scratch after nothing could give it back). Where no record is free (more than
``SLOTS`` pending at once), the array has more than ``MAX_NDIM`` axes or the settings say
so, the call uses a derived datatype as before.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .._core import pending as table
from .._core.pending import (
    BLOCK,
    CLAIMED,
    DATA,
    FREE,
    HANDLE,
    HEADER,
    HIGH,
    ITEMSIZE,
    LIVE,
    MAX_NDIM,
    MEMINFO,
    NUMBER,
    PENDING,
    RECEIVES,
    SCRATCH,
    SEQUENCE,
    SHAPE,
    SLOTS,
    STATE,
    STRIDES,
    UNPACKING,
    WORDS,
)
from .._core.scratch import scratch_array
from .datatypes import buffer, element_base
from .strided import NO_MEMORY, claim_scratch, give_back, pack, packs

__all__ = [
    "MAX_NDIM",
    "deferred_view",
    "settle",
    "claim_record",
    "hold",
    "held_value",
    "release_value",
    "watching",
    "completed",
    "snapshot",
    "completed_among",
    "completed_one",
    "pending_transfer",
]


@register_jitable
def claim_record():
    """A record claimed for this thread (FREE -> CLAIMED), or -1 if all are in use."""
    for slot in range(SLOTS):
        base = HEADER + slot * WORDS
        if table.load(base + STATE) == FREE and table.exchange(base + STATE, FREE, CLAIMED):
            high = table.load(HIGH)
            while high <= slot and not table.exchange(HIGH, high, slot + 1):
                high = table.load(HIGH)
            return slot
    return -1


@register_jitable
def deferred_view(array, receives):
    """``(address, count, datatype, derived, slot)`` of a strided ``array`` that a non-blocking
    call sends or (``receives``) fills: packed scratch with a claimed record (``slot >= 0``;
    see :func:`settle`), or the array described by a datatype (``slot == -1``)."""
    if array.size > 0 and not array.flags.c_contiguous and packs(array):
        slot = claim_record()
        if slot >= 0:
            block, address = claim_scratch(array.size * array.itemsize)
            if address != 0:
                pack(array, scratch_array(address, array.size, array), array.size)
                base = HEADER + slot * WORDS
                table.store(base + BLOCK, block)
                table.store(base + SCRATCH, address)
                table.store(base + RECEIVES, receives)
                table.store(base + MEMINFO, table.meminfo_of(array) if receives else 0)
                if receives:
                    table.store(base + DATA, array.ctypes.data)
                    table.store(base + ITEMSIZE, array.itemsize)
                    axes = array.ndim
                    for axis in range(MAX_NDIM):  # leading axes of length 1 up to MAX_NDIM
                        mine = axis - (MAX_NDIM - axes)
                        table.store(base + SHAPE + axis, array.shape[mine] if mine >= 0 else 1)
                        table.store(base + STRIDES + axis, array.strides[mine] if mine >= 0 else 0)
                datatype, _, per_element = element_base(array)
                return np.uint64(address), array.size * per_element, datatype, False, slot
            table.store(HEADER + slot * WORDS + STATE, FREE)
    address, count, datatype, derived = buffer(array)
    return address, count, datatype, derived, -1


@register_jitable
def _drop(base):
    """Give back a record's scratch and array, and the record."""
    give_back(table.load(base + BLOCK), table.load(base + SCRATCH))
    table.release_meminfo(table.load(base + MEMINFO))
    table.store(base + STATE, FREE)


@register_jitable
def settle(slot, code, handle):
    """After the call that started the receive of :func:`deferred_view`: its record goes
    live under ``handle`` if the call succeeded, else is dropped."""
    if slot < 0:
        return
    base = HEADER + slot * WORDS
    if code != 0:
        _drop(base)
        return
    table.store(base + HANDLE, handle)
    table.store(base + NUMBER, table.add(SEQUENCE, 1))
    table.add(LIVE, 1)
    table.store(base + STATE, PENDING)


@register_jitable
def hold(slot, request, code, handle):
    """After ``isend`` of a scalar (kept in ``request``, a new request array) started as
    ``handle`` with record ``slot`` (from :func:`claim_record`): the record holds the
    request array until the send completes, so that copying the handle elsewhere and
    dropping the array is safe."""
    base = HEADER + slot * WORDS
    table.store(base + BLOCK, -1)
    table.store(base + SCRATCH, 0)
    table.store(base + RECEIVES, False)
    table.store(base + MEMINFO, table.meminfo_of(request) if code == 0 else 0)
    settle(slot, code, handle)


@register_jitable
def _unpack(base):
    """The elements in the record's scratch go into its array (C order)."""
    source, itemsize = table.load(base + SCRATCH), table.load(base + ITEMSIZE)
    # MAX_NDIM axes
    n0, n1, n2, n3 = (
        table.load(base + SHAPE),
        table.load(base + SHAPE + 1),
        table.load(base + SHAPE + 2),
        table.load(base + SHAPE + 3),
    )
    s0, s1, s2, s3 = (
        table.load(base + STRIDES),
        table.load(base + STRIDES + 1),
        table.load(base + STRIDES + 2),
        table.load(base + STRIDES + 3),
    )
    start = table.load(base + DATA)
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                row = start + i0 * s0 + i1 * s1 + i2 * s2
                for i3 in range(n3):
                    table.copy_bytes(row + i3 * s3, source, itemsize)
                    source += itemsize


@register_jitable
def watching():
    """Before a completion routine calls MPI: the number the next record will get, or -1
    when no receive is pending (the routine then has nothing to copy in)."""
    if table.load(LIVE) == 0:
        return -1
    return table.load(SEQUENCE)


@register_jitable
def completed(handle, before):
    """A request that was ``handle`` completed in a call that began when records were
    numbered below ``before`` (:func:`watching`): if it has a record, the elements of a
    receive go into its array, and the scratch is given back."""
    if before < 0:
        return
    for slot in range(table.load(HIGH)):
        base = HEADER + slot * WORDS
        if (
            table.load(base + STATE) == PENDING
            and table.load(base + HANDLE) == handle
            and table.load(base + NUMBER) < before
            and table.exchange(base + STATE, PENDING, UNPACKING)
        ):
            if table.load(base + RECEIVES):
                _unpack(base)
            table.add(LIVE, -1)
            _drop(base)


@register_jitable
def _pending(handle, through_scratch):
    """Whether ``handle`` has a pending record: a transfer through scratch, or (not
    ``through_scratch``) a sent value that a record holds (see :func:`hold`)."""
    if table.load(LIVE) == 0:
        return False
    for slot in range(table.load(HIGH)):
        base = HEADER + slot * WORDS
        if (
            table.load(base + STATE) == PENDING
            and table.load(base + HANDLE) == handle
            and (table.load(base + SCRATCH) != 0) == through_scratch
        ):
            return True
    return False


@register_jitable
def held_value(handle):
    """Whether a record holds the value sent by the pending request ``handle`` (see :func:`hold`)."""
    return _pending(handle, False)


@register_jitable
def release_value(handle):
    """The value of the send ``handle`` is no longer needed (it completed): its record goes."""
    completed(handle, table.load(SEQUENCE))


@register_jitable
def pending_transfer(handle):
    """Whether ``handle`` is a pending transfer through scratch (see the module docstring)."""
    return _pending(handle, True)
    for slot in range(table.load(HIGH)):
        base = HEADER + slot * WORDS
        if (
            table.load(base + STATE) == PENDING
            and table.load(base + HANDLE) == handle
            and table.load(base + SCRATCH) != 0
        ):
            return True
    return False


@register_jitable
def snapshot(requests, before):
    """``(block, address)`` of a copy of the handles in ``requests`` taken before a completion
    routine calls MPI (``(-1, 0)``: none needed, ``before < 0``; see :func:`watching`)."""
    if before < 0 or requests.size == 0:
        return -1, 0
    block, address = claim_scratch(requests.size * requests.itemsize)
    if address == 0:  # the routine raises MemoryError, naming itself
        return NO_MEMORY, 0
    saved = scratch_array(address, requests.size, requests)
    for i in range(requests.size):
        saved[i] = requests[i]
    return block, address


@register_jitable
def completed_among(requests, before, block, address, null):
    """After the call: each request of :func:`snapshot`'s copy that became ``null`` completed."""
    if block < 0:
        return
    saved = scratch_array(address, requests.size, requests)
    for i in range(requests.size):
        if saved[i] != null and requests[i] == null:
            completed(saved[i], before)
    give_back(block, address)


@register_jitable
def completed_one(saved, now, null, before):
    """After the call: a request that was ``saved`` (0: null) and is ``now`` null completed."""
    if before >= 0 and saved != null and saved != 0 and now == null:
        completed(saved, before)
