"""prange threads sharing the datatype cache (tests/test_typecache.py).

Run under ``mpiexec -n N python tests/scripts/typecache_threads.py`` with
``MPI4NUMBA_THREAD_LEVEL=multiple`` and ``NUMBA_NUM_THREADS=4``. One prange iteration per
Numba thread ("lane"), two parts:

* ``keepers``: each step, every lane looks up a key of its own (rows of a kind no real
  type has, made-up handles no MPI call sees), all the keys chosen so that their first
  free row is the same row; the lanes wait for each other at a barrier between ``find``
  and ``keep``, so all of them store into that row at once. Afterwards (on the main
  thread) every lane's key must be found with its own handle ("lost" otherwise), and
  every row of the kind must hold a handle that belongs to its key ("mixed"). The rows
  are removed after each step.
* ``messages``: each lane sends strided views of a few dozen layouts of its own (shapes
  and strides differ from lane to lane and from view to view: every layout is a new
  entry of the cache, made while other lanes make theirs) to the next rank, receiving
  into strided views of other layouts, twice over (the second time from the cache), and
  checks every received element and that the elements around the view stay untouched.

Every rank prints one line ``TYPECACHE {json}``.
"""

from __future__ import annotations

import json
import os

import numba
import numpy as np
from llvmlite import ir
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

import mpi4numba as mpi
from mpi4numba._core import typecache

FAKE = 7  # a kind no real type has
STEPS = 200
SPIN_LIMIT = 100_000_000  # spins before a lane stops waiting at the barrier (a lane run late by a layer)
LAYOUTS = 64  # per lane
TAG = 4000


@intrinsic
def _fetch_add(typingctx, array, value):
    """Atomically add ``value`` to ``array[0]`` (int64); the previous value."""

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.atomic_rmw("add", data, args[1], "seq_cst")

    return types.int64(array, types.int64), codegen


@intrinsic
def _load(typingctx, array):
    """``array[0]`` (int64), read atomically."""

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.load_atomic(data, "seq_cst", 8)

    return types.int64(array), codegen


@intrinsic
def _yield(typingctx):
    """``sched_yield()``: let the other lanes of an oversubscribed machine run."""

    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.none(), codegen


@numba.njit(cache=True)
def _key(seed, n):
    """A key of 12 words, all of them different from lane to lane (a mixed row shows)."""
    return (seed, n, 3 * seed, 5 * seed, 7 * seed, 11 * seed, 13 * seed, 17 * seed, 19 * seed, 23 * seed, 29 * seed, n)


@numba.njit(cache=True)
def _fake_handle(key):
    handle = 1
    for i in range(len(key)):
        handle = handle * 31 + key[i]
    return handle


@numba.njit(cache=True)
def _free_row(seed):
    return -typecache.find(FAKE, _key(seed, -1)) - 1  # the table has room: a free row


@numba.njit(cache=True)
def _colliding_key(row, seed):
    """``n`` such that the first free row of ``_key(seed, n)`` is ``row`` (-1: none found)."""
    for n in range(50_000_000):
        if typecache.find(FAKE, _key(seed, n)) == -(row + 1):
            return n
    return -1


@numba.njit(parallel=True, cache=True)
def _keep_at_once(keys, arrived, found, kept, derived, threads):
    lanes = keys.shape[0]
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        key = _key(keys[lane, 0], keys[lane, 1])
        row = typecache.find(FAKE, key)
        found[lane] = row
        _fetch_add(arrived, 1)
        spins = 0
        while _load(arrived) < lanes and spins < SPIN_LIMIT:
            if spins % 4096 == 4095:  # spin (the lanes leave together), now and then let the others run
                _yield()
            spins += 1
        handle, is_derived = typecache.keep(row, FAKE, key, _fake_handle(key))
        kept[lane] = handle
        derived[lane] = is_derived


@numba.njit(cache=True)
def _remove_fake_rows():
    for row in range(typecache.SLOTS):
        kind = typecache.table_word(row * typecache.WORDS)
        if kind == FAKE or kind < 0:
            typecache.set_table_word(row * typecache.WORDS, 0)


@numba.njit(cache=True)
def _check_step(keys, kept, derived):
    """(lost, mixed, wrong handles) after a step."""
    lost = mixed = wrong = 0
    for lane in range(keys.shape[0]):
        key = _key(keys[lane, 0], keys[lane, 1])
        wrong += kept[lane] != _fake_handle(key)
        row = typecache.find(FAKE, key)
        if row < 0:
            lost += not derived[lane]  # a type said to be kept is not in the table
        elif typecache.table_word(row * typecache.WORDS + typecache.HANDLE_WORD) != _fake_handle(key):
            mixed += 1
    for row in range(typecache.SLOTS):
        start = row * typecache.WORDS
        if typecache.table_word(start) == FAKE:
            key = _key(typecache.table_word(start + 1), typecache.table_word(start + 2))
            for i in range(len(key)):  # every word of one key
                mixed += typecache.table_word(start + 1 + i) != key[i]
            mixed += typecache.table_word(start + typecache.HANDLE_WORD) != _fake_handle(key)
    return lost, mixed, wrong


def keepers(lanes: int, rank: int) -> dict:
    result = {"steps": STEPS, "collided": 0, "lost": 0, "mixed": 0, "wrong_handle": 0, "threads": set()}
    arrived = np.zeros(1, np.int64)
    found, kept = np.zeros(lanes, np.int64), np.zeros(lanes, np.int64)
    derived, threads = np.zeros(lanes, np.bool_), np.zeros(lanes, np.int64)
    for step in range(STEPS):
        seed = 1_000_000 * (rank + 1) + 1_000 * step
        row = _free_row(seed)
        keys = np.array([(seed + lane, _colliding_key(row, seed + lane)) for lane in range(lanes)], np.int64)
        assert (keys >= 0).all(), keys
        arrived[0] = 0
        _keep_at_once(keys, arrived, found, kept, derived, threads)
        result["collided"] += bool((found == -(row + 1)).all())
        lost, mixed, wrong = _check_step(keys, kept, derived)
        result["lost"] += lost
        result["mixed"] += mixed
        result["wrong_handle"] += wrong
        result["threads"].update(threads.tolist())
        _remove_fake_rows()
    result["threads"] = sorted(result["threads"])
    return result


@numba.njit(cache=True)
def _layout(lane, k):
    """``(rows, columns, row step, column step)`` of view ``k`` of a lane (never C-contiguous)."""
    return 2 + k % 5, 2 + (k // 5) % 4, 1 + k % 3, 2 + (k // 3) % 3


@numba.njit(cache=True)
def _value(sender, lane, position):
    return float(sender * 1_000_000 + lane * 10_000 + position)


@numba.njit(parallel=True, cache=True)
def _exchange(lanes, rounds, stats, threads):
    """stats[lane] = (mismatches, errors, elements checked)."""
    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        # widths differ per lane: every lane's strides, so every lane's layouts, are its own
        width, into_width = 20 + lane, 50 + lane
        outgoing = np.empty((24, width))
        positions = np.arange(24 * width).reshape(24, width)
        for i in range(24):
            for j in range(width):
                outgoing[i, j] = _value(rank, lane, i * width + j)
        incoming = np.empty((12, into_width))
        for r in range(rounds):
            for n in range(LAYOUTS):
                k = (n * (2 * lane + 1) + r) % LAYOUTS  # each lane in an order of its own (2 * lane + 1: odd)
                rows, columns, row_step, column_step = _layout(lane, k)
                view = outgoing[k % 3 :: row_step, 1::column_step][:rows, :columns]
                where = positions[k % 3 :: row_step, 1::column_step][:rows, :columns]
                # received into another layout: every other row, columns 3 apart (also cached)
                target = incoming[::2, k % 2 :: 3][:rows, :columns]
                incoming[:] = -1.0
                stats[lane, 1] += mpi.sendrecv(view, right, target, left, TAG + lane, TAG + lane) != 0
                for i in range(rows):
                    for j in range(columns):
                        stats[lane, 0] += target[i, j] != _value(left, lane, where[i, j])
                        stats[lane, 2] += 1
                untouched = incoming.size - rows * columns
                for x in incoming.ravel():
                    untouched -= x == -1.0
                stats[lane, 0] += untouched != 0


def messages(lanes: int) -> dict:
    rounds = 2
    stats = np.zeros((lanes, 3), np.int64)
    threads = np.full(lanes, -1, np.int64)
    before = typecache.cache_info()["entries"]
    _exchange(lanes, rounds, stats, threads)
    expected = 0
    for lane in range(lanes):
        for k in range(LAYOUTS):
            rows, columns, _, _ = _layout(lane, k)
            expected += rounds * rows * columns
    return {
        "mismatches": int(stats[:, 0].sum()),
        "errors": int(stats[:, 1].sum()),
        "checked": int(stats[:, 2].sum()),
        "expected": expected,
        "threads": sorted(set(threads.tolist())),
        "layouts": typecache.cache_info()["entries"] - before,
    }


def main() -> None:
    from mpi4py import MPI

    lanes = numba.get_num_threads()
    report = {
        "rank": mpi.rank(),
        "size": mpi.size(),
        "lanes": lanes,
        "thread_level": mpi.THREAD_LEVELS[mpi.query_thread()],
        "keepers": keepers(lanes, mpi.rank()),
    }
    MPI.COMM_WORLD.Barrier()
    report["messages"] = messages(lanes)
    MPI.COMM_WORLD.Barrier()
    os.write(1, ("TYPECACHE " + json.dumps(report) + "\n").encode())


if __name__ == "__main__":
    main()
