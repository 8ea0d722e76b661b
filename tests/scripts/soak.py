"""A bounded soak of concurrent non-blocking traffic with checked contents (tests/test_soak.py).

Run under ``mpiexec -n N python tests/scripts/soak.py SECONDS [SEED]``. Each round every
rank derives the same plan from ``(SEED, round)``: a few dozen operations, each a
point-to-point message between a random pair of ranks (itself included) or a
non-blocking collective, of a random dtype (every numeric one and bool) and a random
size (0 elements up to 2**18 bytes, past the eager limits). So every receiver knows the
source, tag, dtype, size and contents of what it expects. Every rank starts its share of
the operations (all receives, sends and collectives are started before any completion),
allocates and scribbles over memory, then completes them in a random order
(waitall, waitany, testany, test or testall, chosen per rank and round), and finally
regenerates the expected contents and compares them element for element, plus the
bytes around the received data (a sentinel pattern: nothing may be written outside).

Send buffers are mostly temporaries (``isend(make(...), ...)``: only the request refers
to the array), also strided views of temporaries (derived datatypes) and persistent
requests made on temporaries; counts and displacements of the v-collectives are
temporaries too. A round runs either entirely in compiled code, or is started in
compiled code and completed from Python, or runs from Python (the same code, not
compiled: every call goes through mpi4numba's Python entry points).

Every rank prints one line ``SOAK {json}``: rounds, messages, bytes, mismatches
(messages whose contents or surroundings differ), errors (non-zero MPI status codes) and
the NRT allocations (arrays, meminfos) still alive after the soak compared with before
it (run with NUMBA_NRT_STATS=1).
"""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import sys
import time

import numba
import numpy as np
from mpi4py import MPI
from numba.core import types
from numba.core.runtime import rtsys
from numba.extending import overload
from numba.np import numpy_support

import mpi4numba as mpi

# dtype codes
DTYPES = (
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float32,
    np.float64,
    np.complex64,
    np.complex128,
    np.bool_,
)
ITEMSIZE = np.array([np.dtype(t).itemsize for t in DTYPES], np.int64)
MARKERS = [np.zeros(0, t) for t in DTYPES]  # from Python: the dtype of an operation
NDTYPES = len(DTYPES)
# Point-to-point messages use every dtype; collectives a representative set (every call
# site is compiled once per dtype); rounds from Python fewer (every new argument type
# compiles an entry of mpi4numba's).
COLLECTIVE_DTYPES = np.array([0, 3, 5, 8, 11, 12], np.int64)  # int8 int64 uint16 float32 complex128 bool
PYTHON_DTYPES = np.array([0, 8, 12], np.int64)  # int8 float32 bool

# plan columns
KIND, SRC, DST, DT, N, SMODE, RMODE, TAG, KEY = range(9)
NCOLS = 9
# operation kinds
P2P, ALLREDUCE, BCAST, ALLGATHERV, ALLTOALLV, BARRIER = range(6)
KIND_NAMES = ("p2p", "iallreduce", "ibcast", "iallgatherv", "ialltoallv", "ibarrier")
# point-to-point send modes
S_ISEND, S_ISSEND, S_SLOT, S_STRIDED, S_PERSISTENT = range(5)
# point-to-point receive modes
R_IRECV, R_SLOT, R_ANY_SOURCE, R_STRIDED, R_PERSISTENT = range(5)
NMODES = 5
# totals: p2p messages received and sent, collective results, bytes received, mismatches
# (all, then per kind), sends of buffers the caller held
P2P_MESSAGES, P2P_SENT, COLLECTIVES, BYTES, MISMATCHES, BY_KIND = range(6)
HELD = BY_KIND + 6
NTOTALS = HELD + 1
# completion strategies
WAITALL, WAITANY, TESTANY, TEST, TESTALL = range(5)
NSTRATEGIES = 5
STRATEGY_NAMES = ("waitall", "waitany", "testany", "test", "testall")
# forms of a round: compiled, started in compiled code and completed from Python, Python
JIT, MIXED, PYTHON = range(3)
FORM_NAMES = ("jit", "mixed", "python")

MAX_BYTES_LOG2 = 18  # messages up to 2**18 bytes
PAD = 3  # items of sentinel after every receive region
SENTINEL = 0xA5
SCRIBBLE = 0xEE

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
M3 = np.uint64(0xD6E8FEB86659FD93)
S30, S27, S31, S11, S20 = (np.uint64(s) for s in (30, 27, 31, 11, 20))
ONE = np.uint64(1)


# ---------------------------------------------------------------- deterministic values


@numba.njit(cache=True)
def mix(x):
    """splitmix64's finaliser: a well-spread uint64 from a uint64."""
    x = x + GOLDEN
    x = (x ^ (x >> S30)) * M1
    x = (x ^ (x >> S27)) * M2
    return x ^ (x >> S31)


@numba.njit(cache=True)
def sub_key(key, a, b):
    """The int64 key of part (a, b) of an operation (a rank's contribution, a block)."""
    return np.int64(mix(np.uint64(key) ^ mix(np.uint64(a) * M3 + np.uint64(b))))


@numba.njit(cache=True)
def element_hash(key, i):
    return mix(np.uint64(key) ^ (np.uint64(i) * M3))


def value_of(a, h, small):
    """The value of dtype ``a.dtype`` that hash ``h`` (uint64) stands for; ``small``: a
    value that sums exactly over a few ranks (for the reductions). Compiled code only."""
    raise NotImplementedError


@overload(value_of)
def _value_of(a, h, small):
    dt = a.dtype
    nt = numpy_support.as_dtype(dt).type
    if isinstance(dt, types.Boolean):

        def impl(a, h, small):
            if small:
                return h % np.uint64(5) == np.uint64(0)
            return (h & ONE) == ONE
    elif isinstance(dt, types.Integer) and dt.signed:

        def impl(a, h, small):
            if small:
                return nt(np.int64(h % np.uint64(41)) - 20)
            return nt(h)
    elif isinstance(dt, types.Integer):

        def impl(a, h, small):
            if small:
                return nt(h % np.uint64(40))
            return nt(h)
    elif isinstance(dt, types.Float):

        def impl(a, h, small):
            if small:
                return nt(np.float64(np.int64(h % np.uint64(2001))) - 1000.0)
            return nt(np.float64(np.int64(h >> S11)) * 2.0**-40 - 4096.0)
    elif isinstance(dt, types.Complex):

        def impl(a, h, small):
            if small:
                return nt(
                    complex(
                        np.float64(np.int64(h % np.uint64(2001))) - 1000.0,
                        np.float64(np.int64((h >> S20) % np.uint64(2001))) - 1000.0,
                    )
                )
            return nt(
                complex(
                    np.float64(np.int64(h >> S11)) * 2.0**-40 - 4096.0,
                    np.float64(np.int64(h & np.uint64(0xFFFFF))) * 2.0**-8 - 2048.0,
                )
            )
    else:
        return None
    return impl


def combine(x, y):
    """How a reduction combines two values: LOR for bool, SUM otherwise. Compiled code only."""
    raise NotImplementedError


@overload(combine)
def _combine(x, y):
    if isinstance(x, types.Boolean):
        return lambda x, y: x or y
    return lambda x, y: x + y


@numba.njit(cache=True)
def fill(view, key, small):
    for i in range(view.size):
        view[i] = value_of(view, element_hash(key, i), small)


@numba.njit(cache=True)
def make(marker, n, key):
    """A new array of ``n`` elements of the marker's dtype with the contents of ``key``."""
    a = np.empty(n, marker.dtype)
    fill(a, key, False)
    return a


@numba.njit(cache=True)
def make_small(marker, n, key):
    a = np.empty(n, marker.dtype)
    fill(a, key, True)
    return a


@numba.njit(cache=True)
def make_spread(marker, n, key):
    """2n elements: the even ones hold the contents of ``key``, the odd ones others."""
    a = np.empty(2 * n, marker.dtype)
    fill(a[::2], key, False)
    fill(a[1::2], sub_key(key, 7777, 7777), False)
    return a


@numba.njit(cache=True)
def make_blocks(marker, counts, key, me):
    """Blocks one after the other: block d has counts[d] elements of sub_key(key, me, d)."""
    a = np.empty(counts.sum(), marker.dtype)
    offset = 0
    for d in range(counts.size):
        fill(a[offset : offset + counts[d]], sub_key(key, me, d), False)
        offset += counts[d]
    return a


@numba.njit(cache=True)
def sentinel_buffer(n_items, itemsize):
    base = np.empty(n_items * itemsize, np.uint8)
    base[:] = SENTINEL
    return base


@numba.njit(cache=True)
def fill_reduced(view, key, size):
    """What a reduction of every rank's small values of sub_key(key, r, 0) gives."""
    for i in range(view.size):
        expected = value_of(view, element_hash(sub_key(key, 0, 0), i), True)
        for r in range(1, size):
            expected = combine(expected, value_of(view, element_hash(sub_key(key, r, 0), i), True))
        view[i] = expected


@numba.njit(cache=True)
def bytes_differing(received, expected):
    """How many bytes differ: a receive buffer, contents and sentinel, against its expected image."""
    if received.size != expected.size:
        return max(received.size, expected.size)
    bad = 0
    for i in range(received.size):
        if received[i] != expected[i]:
            bad += 1
    return bad


# ---------------------------------------------------------------- the plan


@numba.njit(cache=True)
def _next(state):
    state[0] += GOLDEN
    return mix(state[0])


@numba.njit(cache=True)
def _uniform(state, lo, hi):
    return lo + np.int64(_next(state) % np.uint64(hi - lo + 1))


@numba.njit(cache=True)
def _count(state, itemsize, max_log2):
    """0 elements (1 in 16), else log-uniform in bytes up to 2**max_log2."""
    if _uniform(state, 0, 15) == 0:
        return 0
    nbytes = _uniform(state, 1, 1 << _uniform(state, 0, max_log2))
    return nbytes // itemsize


@numba.njit(cache=True)
def round_form(seed, rnd):
    """6 rounds in 8 are compiled, 1 is mixed, 1 from Python."""
    choice = np.int64(mix(np.uint64(seed) ^ mix(np.uint64(rnd) + np.uint64(77))) % np.uint64(8))
    return JIT if choice < 6 else choice - 5


@numba.njit(cache=True)
def make_plan(seed, rnd, size, form):
    """The operations of round ``rnd``, the same on every rank: one row each."""
    state = np.array([mix(np.uint64(seed) ^ mix(np.uint64(rnd)))], np.uint64)
    nops = _uniform(state, 6, 40)
    plan = np.zeros((nops, NCOLS), np.int64)
    for k in range(nops):
        kind = P2P if _uniform(state, 0, 99) < 80 else _uniform(state, 1, 5)
        if form == PYTHON:
            dt = PYTHON_DTYPES[_uniform(state, 0, PYTHON_DTYPES.size - 1)]
        elif kind == P2P:
            dt = _uniform(state, 0, NDTYPES - 1)
        else:
            dt = COLLECTIVE_DTYPES[_uniform(state, 0, COLLECTIVE_DTYPES.size - 1)]
        plan[k, KIND] = kind
        plan[k, DT] = dt
        plan[k, SRC] = _uniform(state, 0, size - 1)
        plan[k, DST] = _uniform(state, 0, size - 1)
        plan[k, SMODE] = _uniform(state, 0, NMODES - 1)
        plan[k, RMODE] = _uniform(state, 0, NMODES - 1)
        plan[k, TAG] = k + 64 * (rnd % 500)  # < 32767, MPI's least upper bound of tags
        plan[k, KEY] = np.int64(_next(state))
        if kind in (P2P, BCAST):
            plan[k, N] = _count(state, ITEMSIZE[dt], MAX_BYTES_LOG2)
        elif kind in (ALLREDUCE, ALLGATHERV):
            plan[k, N] = _count(state, ITEMSIZE[dt], MAX_BYTES_LOG2 - 2)
        elif kind == ALLTOALLV:
            plan[k, N] = _count(state, ITEMSIZE[dt], MAX_BYTES_LOG2 - 4)
    return plan


def warm_plan(size, form):
    """Every dtype of ``form`` with every mode of every kind, a few elements each: the
    first round of each form compiles (or loads) everything it will use."""
    rows = []
    p2p_dtypes = PYTHON_DTYPES if form == PYTHON else range(NDTYPES)
    collective_dtypes = PYTHON_DTYPES if form == PYTHON else COLLECTIVE_DTYPES
    for dt in p2p_dtypes:
        for mode in range(NMODES):
            rows.append((P2P, len(rows) % size, (len(rows) + 1) % size, dt, 3, mode, mode))
            rows.append((P2P, len(rows) % size, len(rows) % size, dt, 0, (mode + 2) % NMODES, mode))
    for dt in collective_dtypes:
        for mode in range(2):
            rows.append((ALLREDUCE, 0, 0, dt, 4, mode, 0))
            rows.append((ALLGATHERV, 0, 0, dt, 3, mode, 0))
            rows.append((ALLTOALLV, 0, 0, dt, 3, 2 * mode, 0))
        for mode in (S_ISEND, S_STRIDED):
            rows.append((BCAST, dt % size, 0, dt, 5, mode, mode))
    rows.append((BARRIER, 0, 0, 0, 0, 0, 0))
    plan = np.zeros((len(rows), NCOLS), np.int64)
    for k, row in enumerate(rows):
        plan[k, :7] = row
        plan[k, TAG] = 32000 + k
        plan[k, KEY] = 1000003 * k + 17
    return plan


@numba.njit(cache=True)
def gv_counts(key, size, n):
    counts = np.empty(size, np.int64)
    for r in range(size):
        counts[r] = np.int64(mix(np.uint64(sub_key(key, r, 1))) % np.uint64(n + 1))
    return counts


@numba.njit(cache=True)
def gv_displacements(key, size, n):
    """Blocks with 0 to 3 unused elements before each (checked: left untouched)."""
    counts = gv_counts(key, size, n)
    displacements = np.empty(size, np.int64)
    at = 0
    for r in range(size):
        at += np.int64(mix(np.uint64(sub_key(key, r, 2))) % np.uint64(4))
        displacements[r] = at
        at += counts[r]
    return displacements


@numba.njit(cache=True)
def a2a_counts(key, size, n):
    """counts[s, d]: elements rank s sends to rank d."""
    counts = np.empty((size, size), np.int64)
    for s in range(size):
        for d in range(size):
            counts[s, d] = np.int64(mix(np.uint64(sub_key(key, s, d))) % np.uint64(n + 1))
    return counts


# ---------------------------------------------------------------- starting operations
# _post_p2p and _post_collective run compiled (post_p2p, post_collective) and as plain
# Python (rounds from Python: every mpi4numba call through its Python entry).


def start_allreduce(send, recv):
    return mpi.iallreduce(send, recv, mpi.Operator.LOR if recv.dtype == np.bool_ else mpi.Operator.SUM)


@overload(start_allreduce)
def _start_allreduce(send, recv):
    if isinstance(recv.dtype, types.Boolean):
        return lambda send, recv: mpi.iallreduce(send, recv, mpi.Operator.LOR)
    return lambda send, recv: mpi.iallreduce(send, recv, mpi.Operator.SUM)


def _post_p2p(marker, plan, k, rank, reqs, bufs, held, persistent, slots):
    """Start this rank's side of message k (receive first if it sends to itself);
    returns the number of failed starts. Requests on the caller's slots: slots[2k] for the
    receive, slots[2k + 1] for the send."""
    n, key, smode, rmode, tag = plan[k, N], plan[k, KEY], plan[k, SMODE], plan[k, RMODE], plan[k, TAG]
    src, dst = plan[k, SRC], plan[k, DST]
    errors = 0
    if rank == dst:
        base = sentinel_buffer((2 * n if rmode == R_STRIDED else n) + PAD, marker.itemsize)
        bufs[k] = base
        view = base.view(marker.dtype)
        if rmode in (R_IRECV, R_ANY_SOURCE):
            status, request = mpi.irecv(view[:n], mpi.ANY_SOURCE if rmode == R_ANY_SOURCE else src, tag)
        elif rmode == R_SLOT:
            status, request = mpi.irecv(view[:n], src, tag, request=slots[2 * k : 2 * k + 1])
        elif rmode == R_STRIDED:
            status, request = mpi.irecv(view[0 : 2 * n : 2], src, tag)
        else:
            status, request = mpi.recv_init(view[:n], src, tag)
            status |= mpi.start(request)
            persistent.append(request)
        errors += status != 0
        reqs.append(request)
    if rank == src:
        if smode == S_ISEND:  # a temporary: only the request refers to it
            status, request = mpi.isend(make(marker, n, key), dst, tag)
        elif smode == S_ISSEND:
            status, request = mpi.issend(make(marker, n, key), dst, tag)
        elif smode == S_SLOT:  # the request is the caller's: so is keeping the buffer alive
            data = np.empty(n * marker.itemsize, np.uint8)
            held.append(data)
            fill(data.view(marker.dtype), key, False)
            status, request = mpi.isend(data.view(marker.dtype), dst, tag, request=slots[2 * k + 1 : 2 * k + 2])
        elif smode == S_STRIDED:  # every other element of a temporary
            status, request = mpi.isend(make_spread(marker, n, key)[::2], dst, tag)
        else:
            status, request = mpi.send_init(make(marker, n, key), dst, tag)
            status |= mpi.start(request)
            persistent.append(request)
        errors += status != 0
        reqs.append(request)
    return errors


def _post_collective(marker, plan, k, rank, size, reqs, bufs):
    """Start collective operation k; returns 1 if that failed."""
    kind, n, key, smode, rmode = plan[k, KIND], plan[k, N], plan[k, KEY], plan[k, SMODE], plan[k, RMODE]
    itemsize = marker.itemsize
    if kind == ALLREDUCE:  # smode odd: IN_PLACE
        base = sentinel_buffer(n + PAD, itemsize)
        bufs[k] = base
        view = base.view(marker.dtype)[:n]
        if smode & 1:
            fill(view, sub_key(key, rank, 0), True)
            status, request = start_allreduce(mpi.IN_PLACE, view)
        else:
            status, request = start_allreduce(make_small(marker, n, sub_key(key, rank, 0)), view)
    elif kind == BCAST:  # the root's buffer a temporary, contiguous or strided
        root = plan[k, SRC]
        if rank == root:
            if smode == S_STRIDED:
                status, request = mpi.ibcast(make_spread(marker, n, key)[::2], root)
            else:
                status, request = mpi.ibcast(make(marker, n, key), root)
        else:
            strided = rmode == R_STRIDED
            base = sentinel_buffer((2 * n if strided else n) + PAD, itemsize)
            bufs[k] = base
            view = base.view(marker.dtype)
            if strided:
                status, request = mpi.ibcast(view[0 : 2 * n : 2], root)
            else:
                status, request = mpi.ibcast(view[:n], root)
    elif kind == ALLGATHERV:  # smode odd: gaps between the blocks (int64), else int32 counts
        counts = gv_counts(key, size, n)
        extent = counts.sum()
        if smode & 1:
            displacements = gv_displacements(key, size, n)
            extent = displacements[-1] + counts[-1]
        base = sentinel_buffer(extent + PAD, itemsize)
        bufs[k] = base
        view = base.view(marker.dtype)[:extent]
        if smode & 1:
            status, request = mpi.iallgatherv(
                make(marker, counts[rank], sub_key(key, rank, 0)),
                view,
                gv_counts(key, size, n),
                gv_displacements(key, size, n),
            )
        else:
            status, request = mpi.iallgatherv(
                make(marker, counts[rank], sub_key(key, rank, 0)), view, gv_counts(key, size, n).astype(np.int32)
            )
    else:  # ALLTOALLV; smode & 2: int32 counts (used as they are), else int64 (converted)
        counts = a2a_counts(key, size, n)
        incoming = counts[:, rank].sum()
        base = sentinel_buffer(incoming + PAD, itemsize)
        bufs[k] = base
        view = base.view(marker.dtype)[:incoming]
        if smode & 2:
            status, request = mpi.ialltoallv(
                make_blocks(marker, counts[rank].copy(), key, rank),
                counts[rank].astype(np.int32),
                None,
                view,
                counts[:, rank].astype(np.int32),
                None,
            )
        else:
            status, request = mpi.ialltoallv(
                make_blocks(marker, counts[rank].copy(), key, rank),
                counts[rank].copy(),
                None,
                view,
                counts[:, rank].copy(),
                None,
            )
    reqs.append(request)
    return 1 if status != 0 else 0


post_p2p = numba.njit(cache=True)(_post_p2p)
post_collective = numba.njit(cache=True)(_post_collective)


def post_from_python(plan, k, rank, size, reqs, bufs, held, persistent, slots):
    """Start operation k from Python (the same code as jit_round's, not compiled)."""
    kind, marker = plan[k, KIND], MARKERS[plan[k, DT]]
    if kind == BARRIER:
        status, request = mpi.ibarrier()
        reqs.append(request)
        return 1 if status != 0 else 0
    if kind == P2P:
        return _post_p2p(marker, plan, k, rank, reqs, bufs, held, persistent, slots)
    return _post_collective(marker, plan, k, rank, size, reqs, bufs)


# ---------------------------------------------------------------- completion


def _complete(reqs, strategy, key):
    """Complete every request in ``reqs`` (a list) by ``strategy``; returns the failures."""
    errors = 0
    if strategy == WAITALL:
        errors += mpi.waitall(reqs) != 0
    elif strategy == WAITANY:
        for _ in range(len(reqs) + 1):
            status, index = mpi.waitany(reqs)
            errors += status != 0
            if index == mpi.UNDEFINED:
                break
        else:
            errors += 1000  # waitany never said that every request had completed
    elif strategy == TESTANY:
        while True:
            status, flag, index = mpi.testany(reqs)
            errors += status != 0
            if flag and index == mpi.UNDEFINED:
                break
    elif strategy == TEST:
        order = np.argsort(shuffle_keys(len(reqs), key))
        done = np.zeros(len(reqs), np.bool_)
        remaining = len(reqs)
        while remaining > 0:
            for j in order:
                if not done[j]:
                    status, flag = mpi.test(reqs[j])
                    errors += status != 0
                    if flag:
                        done[j] = True
                        remaining -= 1
    else:
        while True:
            status, flag = mpi.testall(reqs)
            errors += status != 0
            if flag:
                break
    return errors


complete = numba.njit(cache=True)(_complete)


@numba.njit(cache=True)
def shuffle_keys(n, key):
    keys = np.empty(n, np.uint64)
    for i in range(n):
        keys[i] = element_hash(key, i)
    return keys


@numba.njit(cache=True)
def scribble(plan, key):
    """Allocate and overwrite memory of the sizes just sent: a buffer freed too early
    would be reused here and its message corrupted."""
    junk = [np.empty(0, np.uint8)]
    for k in range(plan.shape[0]):
        nbytes = plan[k, N] * ITEMSIZE[plan[k, DT]]
        for extra in (0, 2 * nbytes, nbytes // 2):
            block = np.empty(nbytes + extra, np.uint8)
            block[:] = SCRIBBLE
            junk.append(block)
    total = 0
    for block in junk:
        total += block.size
    return total


# ---------------------------------------------------------------- checking

# A receive buffer is compared byte for byte with its expected image: a sentinel buffer of
# the same size with the expected elements written where MPI should have written them.


@numba.njit(cache=True)
def expected_received(marker, n, key, strided, nbytes):
    """The image of a point-to-point or ibcast receive buffer."""
    image = sentinel_buffer(nbytes // marker.itemsize, marker.itemsize)
    view = image.view(marker.dtype)
    if strided:
        fill(view[0 : 2 * n : 2], key, False)
    else:
        fill(view[:n], key, False)
    return image


@numba.njit(cache=True)
def expected_collective(marker, plan, k, rank, size, nbytes):
    """The image of the receive buffer of collective operation k (not an ibcast)."""
    kind, n, key = plan[k, KIND], plan[k, N], plan[k, KEY]
    image = sentinel_buffer(nbytes // marker.itemsize, marker.itemsize)
    view = image.view(marker.dtype)
    if kind == ALLREDUCE:
        fill_reduced(view[:n], key, size)
    elif kind == ALLGATHERV:
        counts = gv_counts(key, size, n)
        displacements = gv_displacements(key, size, n) if plan[k, SMODE] & 1 else np.cumsum(counts) - counts
        for r in range(size):
            fill(view[displacements[r] : displacements[r] + counts[r]], sub_key(key, r, 0), False)
    else:
        counts = a2a_counts(key, size, n)
        at = 0
        for s in range(size):
            fill(view[at : at + counts[s, rank]], sub_key(key, s, rank), False)
            at += counts[s, rank]
    return image


@numba.njit(cache=True)
def check_any(plan, k, rank, size, base):
    """(messages, bytes, mismatches) of what this rank received in operation k: its
    receive buffer against the expected image."""
    kind, dt, n, key = plan[k, KIND], plan[k, DT], plan[k, N], plan[k, KEY]
    if kind == BARRIER:
        return 1, 0, 0
    if (kind == P2P and rank != plan[k, DST]) or (kind == BCAST and rank == plan[k, SRC]):
        return 0, 0, 0  # received nothing
    nbytes = base.size
    if kind in (P2P, BCAST):
        strided = plan[k, RMODE] == R_STRIDED
        if dt == 0:
            image = expected_received(np.zeros(0, np.int8), n, key, strided, nbytes)
        elif dt == 1:
            image = expected_received(np.zeros(0, np.int16), n, key, strided, nbytes)
        elif dt == 2:
            image = expected_received(np.zeros(0, np.int32), n, key, strided, nbytes)
        elif dt == 3:
            image = expected_received(np.zeros(0, np.int64), n, key, strided, nbytes)
        elif dt == 4:
            image = expected_received(np.zeros(0, np.uint8), n, key, strided, nbytes)
        elif dt == 5:
            image = expected_received(np.zeros(0, np.uint16), n, key, strided, nbytes)
        elif dt == 6:
            image = expected_received(np.zeros(0, np.uint32), n, key, strided, nbytes)
        elif dt == 7:
            image = expected_received(np.zeros(0, np.uint64), n, key, strided, nbytes)
        elif dt == 8:
            image = expected_received(np.zeros(0, np.float32), n, key, strided, nbytes)
        elif dt == 9:
            image = expected_received(np.zeros(0, np.float64), n, key, strided, nbytes)
        elif dt == 10:
            image = expected_received(np.zeros(0, np.complex64), n, key, strided, nbytes)
        elif dt == 11:
            image = expected_received(np.zeros(0, np.complex128), n, key, strided, nbytes)
        else:
            image = expected_received(np.zeros(0, np.bool_), n, key, strided, nbytes)
    else:
        args = (plan, k, rank, size, nbytes)
        if dt == 0:
            image = expected_collective(np.zeros(0, np.int8), *args)
        elif dt == 3:
            image = expected_collective(np.zeros(0, np.int64), *args)
        elif dt == 5:
            image = expected_collective(np.zeros(0, np.uint16), *args)
        elif dt == 8:
            image = expected_collective(np.zeros(0, np.float32), *args)
        elif dt == 11:
            image = expected_collective(np.zeros(0, np.complex128), *args)
        else:
            image = expected_collective(np.zeros(0, np.bool_), *args)
        if kind == ALLGATHERV:
            n = gv_counts(key, size, n).sum()
        elif kind == ALLTOALLV:
            n = a2a_counts(key, size, n)[:, rank].sum()
    return 1, n * ITEMSIZE[dt], 1 if bytes_differing(base, image) else 0


# ---------------------------------------------------------------- rounds


@numba.njit(cache=True)
def jit_round(plan, rank, size, strategy, key, totals, complete_here):
    """Start a round's operations in compiled code and, if ``complete_here``, complete and
    check them; returns (failed calls, and the requests and buffers for a caller that
    completes them). One function (calling the per-dtype functions): Numba optimises the
    code of everything a function calls again for each level of calls."""
    nops = plan.shape[0]
    reqs = [mpi.request_array(1)]  # a null request types the list
    bufs = [np.empty(0, np.uint8) for _ in range(nops)]
    held = [np.empty(0, np.uint8)]
    persistent = [mpi.request_array(1)]
    slots = mpi.request_array(2 * nops)  # a receive's and a send's per operation
    errors = 0
    for k in range(nops):
        kind, dt = plan[k, KIND], plan[k, DT]
        if kind == BARRIER:
            status, request = mpi.ibarrier()
            reqs.append(request)
            errors += status != 0
        elif kind == P2P:
            args = (plan, k, rank, reqs, bufs, held, persistent, slots)
            if dt == 0:
                errors += post_p2p(np.zeros(0, np.int8), *args)
            elif dt == 1:
                errors += post_p2p(np.zeros(0, np.int16), *args)
            elif dt == 2:
                errors += post_p2p(np.zeros(0, np.int32), *args)
            elif dt == 3:
                errors += post_p2p(np.zeros(0, np.int64), *args)
            elif dt == 4:
                errors += post_p2p(np.zeros(0, np.uint8), *args)
            elif dt == 5:
                errors += post_p2p(np.zeros(0, np.uint16), *args)
            elif dt == 6:
                errors += post_p2p(np.zeros(0, np.uint32), *args)
            elif dt == 7:
                errors += post_p2p(np.zeros(0, np.uint64), *args)
            elif dt == 8:
                errors += post_p2p(np.zeros(0, np.float32), *args)
            elif dt == 9:
                errors += post_p2p(np.zeros(0, np.float64), *args)
            elif dt == 10:
                errors += post_p2p(np.zeros(0, np.complex64), *args)
            elif dt == 11:
                errors += post_p2p(np.zeros(0, np.complex128), *args)
            else:
                errors += post_p2p(np.zeros(0, np.bool_), *args)
        else:
            args2 = (plan, k, rank, size, reqs, bufs)
            if dt == 0:
                errors += post_collective(np.zeros(0, np.int8), *args2)
            elif dt == 3:
                errors += post_collective(np.zeros(0, np.int64), *args2)
            elif dt == 5:
                errors += post_collective(np.zeros(0, np.uint16), *args2)
            elif dt == 8:
                errors += post_collective(np.zeros(0, np.float32), *args2)
            elif dt == 11:
                errors += post_collective(np.zeros(0, np.complex128), *args2)
            else:
                errors += post_collective(np.zeros(0, np.bool_), *args2)
    if complete_here:
        scribble(plan, key)
        errors += complete(reqs, strategy, key)
        for request in persistent:
            errors += mpi.request_free(request) != 0
        # The buffers of sends on our own request slots are ours to keep alive until
        # here (Numba frees a variable after its last use).
        totals[HELD] += len(held) - 1
        for k in range(nops):
            messages, nbytes, bad = check_any(plan, k, rank, size, bufs[k])
            kind = plan[k, KIND]
            totals[P2P_MESSAGES if kind == P2P else COLLECTIVES] += messages
            totals[BYTES] += nbytes
            totals[MISMATCHES] += bad
            totals[BY_KIND + kind] += bad
            if kind == P2P and rank == plan[k, SRC]:
                totals[P2P_SENT] += 1
    return errors, reqs, bufs, held, persistent, slots


def mixed_round(plan, rank, size, strategy, key, totals):
    """Started in compiled code, completed from Python (the requests crossed over)."""
    errors, reqs, bufs, held, persistent, slots = jit_round(plan, rank, size, strategy, key, totals, False)
    # held: the sends on this round's own request slots (after a placeholder), alive until here
    return errors + complete_from_python(plan, rank, size, strategy, key, totals, reqs, bufs, persistent, len(held) - 1)


def python_round(plan, rank, size, strategy, key, totals):
    """Every MPI call from Python (the same code as post_p2p & co. and complete, not compiled)."""
    nops = plan.shape[0]
    reqs, bufs, held, persistent = [], [np.empty(0, np.uint8)] * nops, [], []
    slots = mpi.request_array(2 * nops)  # a receive's and a send's per operation
    errors = 0
    for k in range(nops):
        errors += post_from_python(plan, k, rank, size, reqs, bufs, held, persistent, slots)
    return errors + complete_from_python(plan, rank, size, strategy, key, totals, reqs, bufs, persistent, len(held))


def complete_from_python(plan, rank, size, strategy, key, totals, reqs, bufs, persistent, held_sends):
    """Scribble, complete the round's requests from Python, free the persistent ones and
    check every receive buffer; returns the failed calls."""
    scribble(plan, key)
    errors = _complete(reqs, strategy, key)
    for request in persistent:
        errors += mpi.request_free(request) != 0
    totals[HELD] += held_sends
    for k in range(plan.shape[0]):
        check_one(plan, k, rank, size, bufs[k], totals)
    return errors


def check_one(plan, k, rank, size, base, totals):
    messages, nbytes, bad = check_any(plan, k, rank, size, base)
    kind = plan[k, KIND]
    totals[P2P_MESSAGES if kind == P2P else COLLECTIVES] += messages
    totals[BYTES] += nbytes
    totals[MISMATCHES] += bad
    totals[BY_KIND + kind] += bad
    if kind == P2P and rank == plan[k, SRC]:
        totals[P2P_SENT] += 1


def run_round(form, plan, rank, size, strategy, key, totals):
    if form == JIT:
        return jit_round(plan, rank, size, strategy, key, totals, True)[0]
    if form == MIXED:
        return mixed_round(plan, rank, size, strategy, key, totals)
    return python_round(plan, rank, size, strategy, key, totals)


def nrt_stats():
    """NRT allocations (arrays and meminfos) alive now, and made so far."""
    gc.collect()
    stats = rtsys.get_allocation_stats()
    return (stats.alloc - stats.free, stats.mi_alloc - stats.mi_free), stats.alloc


def precompile(rank, size):
    """Compile this rank's share of the per-dtype functions: the ranks compile in parallel
    and then load each other's work from Numba's cache (mpi4numba lets one rank of a
    node compile a function while the others wait and load it), instead of every rank
    waiting for one that compiles everything. The signatures are those jit_round uses."""
    request = numba.typeof(mpi.request_array(1))
    u8 = numba.typeof(np.zeros(0, np.uint8))
    plan = numba.typeof(np.zeros((1, NCOLS), np.int64))
    i64, requests, arrays = types.int64, types.List(request), types.List(u8)
    tasks = [(post_p2p, expected_received, dt) for dt in range(NDTYPES)]
    tasks += [(post_collective, expected_collective, dt) for dt in COLLECTIVE_DTYPES]
    for post, expected, dt in tasks[rank::size]:
        marker = numba.typeof(MARKERS[dt])
        if post is post_p2p:
            post.compile((marker, plan, i64, i64, requests, arrays, arrays, requests, request))
            expected.compile((marker, i64, i64, types.boolean, i64))
        else:
            post.compile((marker, plan, i64, i64, i64, requests, arrays))
            expected.compile((marker, plan, i64, i64, i64, i64))
    assert mpi.barrier() == 0
    # then what calls those (which would compile them itself if they were not in the cache)
    if rank == 1 % size:
        check_any.compile((plan, i64, i64, i64, u8))
    if rank == 2 % size:
        complete.compile((requests, i64, i64))


VERBOSE = os.environ.get("SOAK_VERBOSE", "")
TRACE = VERBOSE == "2"  # a line per round
ROUND_LIMIT = float(os.environ.get("SOAK_ROUND_LIMIT", "120"))  # seconds


def log(rank, text):
    if VERBOSE:
        print(f"[{rank}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 12345
    rank, size = mpi.rank(), mpi.size()
    started = time.perf_counter()
    totals = np.zeros(NTOTALS, np.int64)
    errors = 0

    # Warm-up: every dtype, mode and kind of each form once (compiles or loads everything).
    precompile(rank, size)
    assert mpi.barrier() == 0
    log(rank, f"precompiled at {time.perf_counter() - started:.1f} s")
    for form in (JIT, MIXED, PYTHON):
        errors += run_round(form, warm_plan(size, form), rank, size, form + 1, 99, totals)
        log(rank, f"warm-up {FORM_NAMES[form]} done at {time.perf_counter() - started:.1f} s")
    assert mpi.barrier() == 0
    log(
        rank,
        "compiled versions: "
        + ", ".join(
            f"{f.__name__} {len(f.signatures)}"
            for f in (post_p2p, post_collective, expected_received, expected_collective, jit_round, check_any)
        ),
    )
    warm_totals, totals = totals, np.zeros_like(totals)
    warm_seconds = time.perf_counter() - started

    before, allocations_before = nrt_stats()
    rounds_by_form = [0] * len(FORM_NAMES)
    strategies = [0] * NSTRATEGIES
    flags, agreed = np.zeros(3, np.int64), np.zeros(3, np.int64)
    soak_started = time.perf_counter()
    rnd = 0
    while True:
        form = round_form(seed, rnd)
        plan = make_plan(seed, rnd, size, form)
        key = int(sub_key(seed, rnd, 1000 + rank))
        strategy = key % NSTRATEGIES  # each rank its own order of completion
        if TRACE:
            log(rank, f"round {rnd} {FORM_NAMES[form]} {STRATEGY_NAMES[strategy]} {plan.shape[0]} operations")
        # a round takes milliseconds: one that hangs ends the job, with where it hung
        faulthandler.dump_traceback_later(ROUND_LIMIT, exit=True)
        errors += run_round(form, plan, rank, size, strategy, key, totals)
        rounds_by_form[form] += 1
        strategies[strategy] += 1
        rnd += 1
        # rank 0's clock decides; every rank must be at the same round (max == min == rnd)
        flags[:] = rank == 0 and time.perf_counter() - soak_started > seconds, rnd, -rnd
        errors += mpi.allreduce(flags, agreed, mpi.Operator.MAX) != 0
        if agreed[1] != rnd or agreed[2] != -rnd:
            errors += 1
        if agreed[0]:
            break
    faulthandler.cancel_dump_traceback_later()
    soak_seconds = time.perf_counter() - soak_started
    del plan
    after, allocations_after = nrt_stats()
    report = {
        "rank": rank,
        "size": size,
        "seed": seed,
        "rounds": rnd,
        "rounds_by_form": dict(zip(FORM_NAMES, rounds_by_form)),
        "strategies": dict(zip(STRATEGY_NAMES, strategies)),
        "p2p_messages": int(totals[P2P_MESSAGES]),
        "p2p_sent": int(totals[P2P_SENT]),
        "collectives": int(totals[COLLECTIVES]),
        "bytes": int(totals[BYTES]),
        "mismatches": int(totals[MISMATCHES]),
        "mismatches_by_kind": {name: int(totals[BY_KIND + i]) for i, name in enumerate(KIND_NAMES)},
        "held_sends": int(totals[HELD]),
        "errors": int(errors),
        "warmup": {
            "p2p_messages": int(warm_totals[P2P_MESSAGES]),
            "collectives": int(warm_totals[COLLECTIVES]),
            "mismatches": int(warm_totals[MISMATCHES]),
            "seconds": round(warm_seconds, 1),
        },
        "nrt_live_before": before,
        "nrt_live_after": after,
        "nrt_leaked": [after[0] - before[0], after[1] - before[1]],
        "nrt_allocations": allocations_after - allocations_before,
        "soak_seconds": round(soak_seconds, 1),
        "nrt_stats": bool(numba.config.NRT_STATS),
        "mpi": MPI.Get_library_version().splitlines()[0].strip().rstrip("\x00"),
    }
    print("SOAK " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
