"""The datatype cache's table (``mpi4numba._core.typecache``) when keepers meet on one row.

A type is looked up with ``find`` (its row, or the first free row of its probe window)
and, after it was built, stored with ``keep`` in the row ``find`` gave. Two threads that
miss different keys whose first free row is the same row both get that row; each must
end up in a row of its own, complete (key and handle of the same type), and no row may be
matched before it is complete.

* In this process (under mpiexec at 1, 2 and 3 processes, like the other MPI tests): the
  collision made by hand, one keeper after the other, and a row claimed but not yet
  written. The tests use rows of a kind no real type has (``FAKE``), with made-up
  handles that no MPI call sees, and remove their rows afterwards.
* ``test_prange_threads_share_the_cache`` (a driver test): tests/scripts/typecache_threads.py
  at 1, 2 and 3 processes with MPI at ``multiple`` and four Numba threads, where four
  prange threads store colliding keys at the same moment (held at a barrier between
  ``find`` and ``keep``), then exchange messages of a few hundred distinct strided
  layouts and check every element.
"""

from __future__ import annotations

import json
import os
import sys

import numba
import pytest
from helpers import ROOT, mpiexec

from mpi4numba._core import capi, typecache
from mpi4numba._core.ccall import predefined

FAKE = 7  # a kind no real type has (1, 2, 3): rows of it are this test's


@numba.njit
def fake_handle(key):
    """A made-up handle that names its key (no MPI call ever sees it)."""
    return key[0] * 1_000_003 + key[1] * 7 + key[2] + 1


@numba.njit
def colliding_key(row, seed):
    """A key ``(seed, n, 0)`` whose first free row is ``row`` (``(-1, -1, -1)`` if none is found)."""
    for n in range(50_000_000):
        key = (seed, n, 0)
        if typecache.find(FAKE, key) == -(row + 1):
            return key
    return (-1, -1, -1)


@numba.njit
def stored_handle(kind, key):
    """The handle of ``key``'s row, or -1 if it has none."""
    row = typecache.find(kind, key)
    if row < 0:
        return -1
    return typecache.table_word(row * typecache.WORDS + typecache.HANDLE_WORD)


@numba.njit
def remove_fake_rows():
    """Free every row of kind FAKE, or claimed and never published (rows made by these tests)."""
    removed = 0
    for row in range(typecache.SLOTS):
        kind = typecache.table_word(row * typecache.WORDS)
        if kind == FAKE or kind < 0:
            typecache.set_table_word(row * typecache.WORDS, 0)
            removed += 1
    return removed


@pytest.fixture
def clean_table():
    yield
    remove_fake_rows()


@numba.njit
def two_keepers(seed):
    """Two keys miss on the same free row; both are kept, one after the other."""
    first = (seed, 0, 0)
    row = typecache.find(FAKE, first)
    second = colliding_key(-row - 1, seed + 1)
    second_row = typecache.find(FAKE, second)
    kept_first = typecache.keep(row, FAKE, first, fake_handle(first))
    kept_second = typecache.keep(second_row, FAKE, second, fake_handle(second))
    return (
        row,
        second_row,
        kept_first,
        kept_second,
        stored_handle(FAKE, first),
        stored_handle(FAKE, second),
        fake_handle(first),
        fake_handle(second),
    )


@pytest.mark.jit_only
def test_two_keepers_of_one_free_row_keep_both(clean_table):
    """Before the fix, the second keeper wrote over the first's row: the first type, reported
    as cached, was lost from the table (its handle leaked, looked up again it was rebuilt)."""
    row, second_row, kept_first, kept_second, first_stored, second_stored, first_handle, second_handle = two_keepers(
        9_000_001
    )
    assert row < 0 and second_row == row  # the collision: both missed on the same free row
    assert kept_first == (first_handle, False) and kept_second == (second_handle, False)
    assert first_stored == first_handle, "the first type kept was overwritten by the second"
    assert second_stored == second_handle


@numba.njit
def same_key_twice(seed):
    """Two keepers of the same key that both missed (two threads building the same layout):
    real datatypes, as the second one is freed."""
    key = (seed, 0, 0)
    row = typecache.find(FAKE, key)
    second_row = typecache.find(FAKE, key)
    code_first, first = capi.MPI_Type_contiguous(3, predefined("DOUBLE"))
    code_second, second = capi.MPI_Type_contiguous(3, predefined("DOUBLE"))
    kept_first = typecache.keep(row, FAKE, key, first)
    kept_second = typecache.keep(second_row, FAKE, key, second)
    stored = stored_handle(FAKE, key)
    capi.MPI_Type_free(first)  # the row goes with the test
    return row, second_row, code_first | code_second, first, kept_first, kept_second, stored


@pytest.mark.jit_only
def test_two_keepers_of_one_key_share_one_type(clean_table):
    """Before the fix, the second keeper overwrote the first's row with its own type; the
    first type was then referenced nowhere (leaked). Now the second gets the first's type
    (its own is freed)."""
    row, second_row, code, first, kept_first, kept_second, stored = same_key_twice(9_200_001)
    assert code == 0 and row < 0 and second_row == row
    assert kept_first == (first, False)
    assert kept_second == (first, False), "the second keeper of a key replaced the first's type"
    assert stored == first


@numba.njit
def claimed_row_is_not_matched(seed):
    """A row claimed by a keeper that has not published it yet (as another thread sees it)."""
    key = (seed, 0, 0)
    row = typecache.find(FAKE, key)
    free = -row - 1
    claimed = typecache.claim(free)
    claimed_again = typecache.claim(free)  # a second keeper of the same row
    # half-written: the key is in place, the kind is not published
    for i in range(len(key)):
        typecache.set_table_word(free * typecache.WORDS + 1 + i, key[i])
    typecache.set_table_word(free * typecache.WORDS + typecache.HANDLE_WORD, fake_handle(key))
    seen = typecache.find(FAKE, key)  # not a match: probes on to the next free row
    typecache.publish(free, FAKE)
    return row, claimed, claimed_again, seen, typecache.find(FAKE, key)


@pytest.mark.jit_only
def test_a_claimed_row_is_not_matched_before_it_is_published(clean_table):
    row, claimed, claimed_again, seen, published = claimed_row_is_not_matched(9_100_001)
    free = -row - 1
    assert row < 0 and claimed and not claimed_again
    assert seen < 0 and seen != row, "a row being written was taken as free"
    assert published == free


@pytest.mark.driver
@pytest.mark.parametrize("np_", [1, 2, 3])
def test_prange_threads_share_the_cache(np_, tmp_path_factory):
    """Before the fix, keepers held at the barrier all wrote the row they found free: all but
    one lost their type each step ("lost" > 0), some rows mixed one key with another's handle."""
    cache = os.environ.get("NUMBA_CACHE_DIR") or str(tmp_path_factory.getbasetemp() / "numba-cache")
    env = {
        "MPI4NUMBA_THREAD_LEVEL": "multiple",
        "MPI4NUMBA_STRIDED": "datatype",  # every layout through the datatype cache, none packed
        "NUMBA_NUM_THREADS": "4",
        "NUMBA_CACHE_DIR": cache,
        "MPIEXEC_TIMEOUT": "600",
        "MPI4NUMBA_ABORT_ON_ERROR": "1",
    }
    script = str(ROOT / "tests" / "scripts" / "typecache_threads.py")
    done = mpiexec(np_, script, env=env, python=sys.executable, timeout=660)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    reports = [
        json.loads(line[len("TYPECACHE ") :]) for line in done.stdout.splitlines() if line.startswith("TYPECACHE ")
    ]
    assert sorted(r["rank"] for r in reports) == list(range(np_)), output
    for r in reports:
        assert r["thread_level"] == "multiple" and r["lanes"] == 4, r
        keepers = r["keepers"]
        assert keepers["lost"] == 0 and keepers["mixed"] == 0 and keepers["wrong_handle"] == 0, r
        assert keepers["collided"] >= keepers["steps"] // 2, r  # the barrier held: the threads met
        messages = r["messages"]
        assert messages["mismatches"] == 0 and messages["errors"] == 0, r
        assert messages["checked"] == messages["expected"] and len(messages["threads"]) > 1, r
        assert messages["layouts"] >= 300, r
