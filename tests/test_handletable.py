"""The handle table (``mpi4numba._core.handletable``), on tables of this test's own: no MPI.

* ``test_prange_threads_share_a_table`` (a driver test): this file run as a program with
  eight Numba threads (more than the cores of a small machine: threads are also preempted
  in the middle of an operation). One prange iteration per thread inserts, finds and
  removes keys of a small table at random: keys every thread uses (the same key inserted
  and removed by several threads at once) and keys of its own (whose presence it knows at
  every step). Every value found or removed must be the one inserted for its key; a
  thread's own key must be found exactly while it is in; an insert of a shared key
  succeeds only while the key is out, so per key the inserts and removals that
  succeeded differ by 0 or 1, which must be whether it is in at the end; no key may be in
  two rows, and no row may be left claimed. A claim that is not atomic publishes keys
  twice and loses keys (tried: a plain store in place of the writer word's
  compare-and-swap fails this test).
* In this process: removal then reinsertion, and full tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from numba import prange

from mpi4numba._core.handletable import HandleTable

ROWS = 64
TAG = 5
SHARED_KEYS = 4  # few: most operations on them meet another thread's
OWN_KEYS = 4  # per lane: 4 + 8 * 4 keys in at most, in 64 rows (never full)
LANES = 8
STEPS = 1_000_000  # per lane (a few seconds): enough preemptions inside operations on 2 cores


def register_tables() -> None:
    """Export this test's tables (the loader their declarations name)."""
    TABLE.export()
    BOUNDED.export()


TABLE = HandleTable("mpi4numba_test_handle_table", ROWS, 2, 2, register_tables)
BOUNDED = HandleTable("mpi4numba_test_bounded_table", 16, 1, 1, register_tables, probes=4)
FULL = TABLE.full
find, lookup, insert, remove = TABLE.find, TABLE.lookup, TABLE.insert, TABLE.remove
bounded_find, bounded_insert = BOUNDED.find, BOUNDED.insert


@numba.njit
def key_of(k):
    return (k, k * 7919 + 3)


@numba.njit
def value_of(k):
    return (k * 1_000_003 + 11, -k - 17)


@numba.njit(parallel=True)
def churn(lanes, steps, inserted, removed, own, stats, threads):
    """``lanes`` threads at once, ``steps`` random operations each. ``inserted``/``removed``
    (lanes x SHARED_KEYS): the inserts and removals of shared keys that succeeded; ``own``
    (lanes x OWN_KEYS): which of its own keys each lane has in at the end; ``stats`` per
    lane: wrong values, own keys lost (not found, or not removable, while in), own keys
    found while out, full answers."""
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        random = np.uint64(lane * 2654435761 + 88172645463325252)
        for _ in range(steps):
            random ^= random << np.uint64(13)
            random ^= random >> np.uint64(7)
            random ^= random << np.uint64(17)
            draw = np.int64(random >> np.uint64(8))
            operation = draw % 4
            if (draw >> 4) % 2 == 0:
                s = (draw >> 8) % SHARED_KEYS
                if operation == 0:
                    code = insert(TAG, key_of(s), value_of(s))
                    inserted[lane, s] += code >= 0
                    stats[lane, 3] += code == FULL
                elif operation == 1:
                    gone, values = remove(TAG, key_of(s))
                    removed[lane, s] += gone
                    stats[lane, 0] += gone and values != value_of(s)
                else:
                    row, values = lookup(TAG, key_of(s))
                    stats[lane, 0] += row >= 0 and values != value_of(s)
            else:
                j = (draw >> 8) % OWN_KEYS
                k = SHARED_KEYS + lane * OWN_KEYS + j
                if operation == 0:
                    code = insert(TAG, key_of(k), value_of(k))
                    if own[lane, j]:
                        stats[lane, 1] += code >= 0 or code == FULL  # in a second row, or missed
                    else:
                        stats[lane, 2] += code < 0  # said to be in already
                        stats[lane, 3] += code == FULL
                        own[lane, j] = code >= 0
                elif operation == 1:
                    gone, values = remove(TAG, key_of(k))
                    stats[lane, 1] += own[lane, j] and not gone
                    stats[lane, 2] += gone and not own[lane, j]
                    stats[lane, 0] += gone and values != value_of(k)
                    own[lane, j] = False
                else:
                    row, values = lookup(TAG, key_of(k))
                    stats[lane, 1] += own[lane, j] and row < 0
                    stats[lane, 2] += row >= 0 and not own[lane, j]
                    stats[lane, 0] += row >= 0 and values != value_of(k)


@numba.njit
def present(keys):
    """Per key: 1 if found with its own values, 0 if not found, -1 if found with others."""
    found = np.zeros(keys, np.int64)
    for k in range(keys):
        row, values = lookup(TAG, key_of(k))
        if row >= 0:
            found[k] = 1 if values == value_of(k) else -1
    return found


def run_churn() -> dict:
    """Run :func:`churn` on an empty table; what it saw and what the table holds after."""
    TABLE.array[:] = 0
    lanes = numba.get_num_threads()
    inserted, removed = np.zeros((lanes, SHARED_KEYS), np.int64), np.zeros((lanes, SHARED_KEYS), np.int64)
    own = np.zeros((lanes, OWN_KEYS), np.bool_)
    stats, threads = np.zeros((lanes, 4), np.int64), np.full(lanes, -1, np.int64)
    churn(lanes, STEPS, inserted, removed, own, stats, threads)
    net = inserted.sum(axis=0) - removed.sum(axis=0)
    found = present(SHARED_KEYS + lanes * OWN_KEYS)
    expected = np.concatenate([net, own.ravel().astype(np.int64)])
    rows = TABLE.view()
    published = rows[rows[:, 0] > 0]
    keys = [tuple(row[1:3]) for row in published]
    return {
        "lanes": lanes,
        "threads": len(set(threads.tolist())),
        "successes": int(inserted.sum() + removed.sum()),
        "wrong_values": int(stats[:, 0].sum()),
        "own_lost": int(stats[:, 1].sum()),
        "own_phantom": int(stats[:, 2].sum()),
        "full": int(stats[:, 3].sum()),
        "net_out_of_range": int(((net < 0) | (net > 1)).sum()),
        "lost_or_extra": int((found != expected).sum()),
        "duplicates": len(keys) - len(set(keys)),
        "published": len(keys),
        "expected_in": int(expected.sum()),
        "claimed_left": int(((rows[:, 0] < 0) & ((~rows[:, 0] & 0xFFFF) != 1)).sum()),
        "writer_word": int(TABLE.array[ROWS * 5 :].any()),  # the writer word (and padding) after the rows
    }


@pytest.mark.driver
def test_prange_threads_share_a_table():
    env = {**os.environ, "NUMBA_NUM_THREADS": str(LANES)}
    for name in [name for name in env if name.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))]:
        del env[name]
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=600, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    reports = [
        json.loads(line[len("HANDLETABLE ") :]) for line in done.stdout.splitlines() if line.startswith("HANDLETABLE ")
    ]
    assert len(reports) == 1, output
    report = reports[0]
    assert report["lanes"] == LANES and report["threads"] > 1, report
    assert report["successes"] > STEPS // 4, report  # the shared keys went in and out again and again
    for count in ("wrong_values", "own_lost", "own_phantom", "full", "net_out_of_range", "lost_or_extra"):
        assert report[count] == 0, (count, report)
    assert report["duplicates"] == 0 and report["claimed_left"] == 0 and report["writer_word"] == 0, report
    assert report["published"] == report["expected_in"], report


@numba.njit
def fill(first, count):
    """Insert keys ``first ..`` until ``count`` are in or the table is full: how many went in."""
    for k in range(first, first + count):
        if insert(TAG, key_of(k), value_of(k)) < 0:
            return k - first
    return count


@numba.njit
def remove_all(first, count):
    """Remove keys ``first ..``; how many were there with their own values."""
    gone = 0
    for k in range(first, first + count):
        removed, values = remove(TAG, key_of(k))
        gone += removed and values == value_of(k)
    return gone


@pytest.mark.jit_only
def test_removed_keys_can_be_inserted_again():
    TABLE.array[:] = 0
    assert fill(0, 40) == 40 and TABLE.entries() == 40
    for cycle in range(20):  # more keys in and out than rows: tombstones are reused
        assert remove_all(cycle * 40, 40) == 40, cycle
        assert TABLE.entries() == 0 and (present(cycle * 40 + 40) == 0).all()
        assert fill(cycle * 40 + 40, 40) == 40, cycle
    last = present(21 * 40)
    assert (last[: 20 * 40] == 0).all() and (last[20 * 40 :] == 1).all()
    assert TABLE.view()[:, 0].max() >> 16 > 0  # rows used again carry a later generation


@numba.njit
def full_answers(k, existing):
    """What a full table answers for a new key ``k`` and a key ``existing`` that is in."""
    return (
        insert(TAG, key_of(k), value_of(k)),
        find(TAG, key_of(k)),
        lookup(TAG, key_of(k))[0],
        insert(TAG, key_of(existing), value_of(existing)),
        find(TAG, key_of(existing)),
        find(TAG, (k, 1, 2)),  # longer than a row's key: never stored
    )


@pytest.mark.jit_only
def test_a_full_table_says_so():
    TABLE.array[:] = 0
    assert fill(0, ROWS + 10) == ROWS
    new, found, looked_up, again, row, longer = full_answers(ROWS + 1, 7)
    assert new == FULL and found == FULL and looked_up == FULL and longer == FULL
    assert row >= 0 and again == -(row + 1)  # the key that is in keeps its one row
    assert remove_all(7, 1) == 1
    expected = np.r_[np.ones(ROWS), 0, 1]
    expected[7] = 0
    assert fill(ROWS + 1, 1) == 1 and (present(ROWS + 2) == expected).all()


@numba.njit
def fill_bounded(count):
    """Insert 1-word keys into the bounded table: (first key refused, how many went in)."""
    refused, kept = -1, 0
    for k in range(count):
        code = bounded_insert(TAG, (k,), (k + 100,))
        if code >= 0:
            kept += 1
        elif refused < 0:
            refused = k
    return refused, kept, bounded_find(TAG, (refused,))


@pytest.mark.jit_only
def test_a_full_probe_window_says_so():
    """A key whose ``probes`` rows are all taken is refused, though other rows are free."""
    BOUNDED.array[:] = 0
    refused, kept, found = fill_bounded(64)
    assert refused >= 0 and found == BOUNDED.full
    assert kept == BOUNDED.entries() <= 16
    rows = BOUNDED.view()
    assert (rows[rows[:, 0] > 0, 2] == rows[rows[:, 0] > 0, 1] + 100).all()


if __name__ == "__main__":
    os.write(1, ("HANDLETABLE " + json.dumps(run_churn()) + "\n").encode())
