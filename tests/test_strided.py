"""Strided arrays packed into scratch or described by datatypes (mpi4numba._support.strided):
both ways deliver the same elements, element by element, for random layouts and dtypes;
a receive unpacks only what arrived; the settings and their errors."""

import subprocess
import sys

import numba
import numpy as np
import pytest
from mpi4py import MPI

import mpi4numba as mpi
from mpi4numba._core import packing

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
DTYPES = (np.float64, np.float32, np.int32, np.uint8, np.complex128, np.bool_)
MODES = ("pack", "datatype")


@numba.njit(cache=True)
def exchange(outgoing, incoming, right, left):
    return mpi.sendrecv(outgoing, right, incoming, left)


@numba.njit(cache=True)
def send_and_receive(outgoing, incoming, right, left):
    """isend, then a blocking recv and a wait: a non-blocking send and a blocking receive."""
    code, request = mpi.isend(outgoing, right, 3)
    code |= mpi.recv(incoming, left, 3)
    return code | mpi.wait(request)


@numba.njit(cache=True)
def broadcast(data, root):
    return mpi.bcast(data, root)


def random_layout(rng: np.random.Generator):
    """A random strided view (1 to 4 axes, steps of either sign, a random dtype) of a new
    array: ``(shape of the base, dtype, the slices)``: the same on every rank for one seed."""
    ndim = int(rng.integers(1, 5))
    shape = tuple(int(n) for n in rng.integers(1, 7, ndim))
    steps = [int(s) for s in rng.choice([-2, -1, 1, 2, 3], ndim)]
    slices = tuple(slice(None, None, step) for step in steps)
    if all(step == 1 for step in steps):  # make one axis strided
        slices = (*slices[:-1], slice(0, None, 2))
    return shape, DTYPES[int(rng.integers(len(DTYPES)))], slices


def filled(shape, dtype, rank: int) -> np.ndarray:
    values = np.arange(np.prod(shape)).reshape(shape) + 100 * rank + 1
    return (values % 2 == 1) if dtype == np.bool_ else values.astype(dtype)


def received_by(mode: str, call, shape, dtype, slices, sender: int) -> np.ndarray:
    """The target array after ``call(outgoing view, incoming view)`` under ``mode``."""
    previous = mpi.set_strided(mode)
    try:
        target = np.zeros(shape, dtype)
        assert call(filled(shape, dtype, RANK)[slices], target[slices]) == 0
    finally:
        mpi.set_strided(previous)
    expected = np.zeros(shape, dtype)
    expected[slices] = filled(shape, dtype, sender)[slices]
    np.testing.assert_array_equal(target, expected)  # the view's elements, nothing outside it
    return target


@pytest.mark.parametrize("seed", range(12))
def test_pack_and_datatype_deliver_the_same_elements(seed):
    shape, dtype, slices = random_layout(np.random.default_rng(seed))
    for call in (
        lambda out, into: exchange(out, into, RIGHT, LEFT),
        lambda out, into: send_and_receive(out, into, RIGHT, LEFT),
    ):
        packed, described = (received_by(mode, call, shape, dtype, slices, LEFT) for mode in MODES)
        np.testing.assert_array_equal(packed, described)


@pytest.mark.parametrize("root", sorted({0, SIZE - 1}))
def test_bcast_of_a_column(strided_mode, root):
    grid = filled((7, 5), np.float64, RANK)
    assert broadcast(grid[:, 3], root) == 0
    expected = filled((7, 5), np.float64, RANK)
    expected[:, 3] = filled((7, 5), np.float64, root)[:, 3]
    np.testing.assert_array_equal(grid, expected)


@numba.njit(cache=True)
def short_message(into, count, right, left):
    """Each rank sends ``count`` numbers to the right and receives into ``into``."""
    out = np.arange(count) + 1000.0 * mpi.rank()
    code, request = mpi.isend(out, right, 4)
    code |= mpi.recv(into, left, 4)
    return code | mpi.wait(request)


def test_a_receive_unpacks_only_what_arrived(strided_mode):
    grid = np.full((8, 3), -1.0)
    assert short_message(grid[:, 1], 5, RIGHT, LEFT) == 0
    np.testing.assert_array_equal(grid[:5, 1], np.arange(5) + 1000.0 * LEFT)
    assert (grid[5:, 1] == -1.0).all() and (grid[:, [0, 2]] == -1.0).all()


def test_truncation_is_reported_the_same_way(strided_mode):
    grid = np.full((3, 3), -1.0)
    code = short_message(grid[:, 1], 6, RIGHT, LEFT)
    assert mpi.error_class(code) == mpi.ERR_TRUNCATE
    assert (grid[:, [0, 2]] == -1.0).all()  # nothing outside the view


@numba.njit(cache=True)
def hold_pool_blocks(count):
    held = 0
    for block in range(count):
        held += packing.claim_block(block)
    return held


@numba.njit(cache=True)
def free_pool_blocks(count):
    for block in range(count):
        packing.free_block(block)


def test_with_every_pool_block_busy_a_call_packs_into_memory_of_its_own():
    assert hold_pool_blocks(packing.BLOCKS) == packing.BLOCKS
    try:
        call = lambda out, into: exchange(out, into, RIGHT, LEFT)  # noqa: E731
        received_by("pack", call, (9, 4), np.float64, (slice(None), 1), LEFT)
    finally:
        free_pool_blocks(packing.BLOCKS)
    assert hold_pool_blocks(1) == 1  # given back
    free_pool_blocks(1)


@numba.njit(cache=True)
def exchange_many(outgoing, incoming, right, left, times):
    code = 0
    for _ in range(times):
        code |= mpi.sendrecv(outgoing, right, incoming, left)
    return code


def test_auto_follows_its_table():
    """A table of all "P" packs every layout (no datatype is looked up); all "." packs none."""
    from mpi4numba._core.typecache import cache_info
    from mpi4numba._support import strided

    outgoing, incoming = filled((9, 4), np.float64, RANK)[:, 1], np.zeros((9, 4))[:, 2]
    saved = strided.settings()
    try:
        hits = []
        for cell in "P.":
            strided.configure("auto", [cell * packing.SIZE_BUCKETS] * packing.RUN_BUCKETS, "test")
            assert exchange_many(outgoing, incoming, RIGHT, LEFT, 1) == 0
            before = cache_info()["hits"]
            assert exchange_many(outgoing, incoming, RIGHT, LEFT, 10) == 0
            hits.append(cache_info()["hits"] - before)
            np.testing.assert_array_equal(incoming, filled((9, 4), np.float64, LEFT)[:, 1])
        assert hits[0] == 0 and hits[1] >= 20  # a send and a receive type per call
    finally:
        strided.configure(saved["mode"], saved["table"], saved["source"])


def test_settings():
    previous = mpi.set_strided("datatype")
    try:
        assert mpi.strided() == "datatype"
        settings = mpi.datatypes.strided_settings()
        assert len(settings["table"]) == packing.RUN_BUCKETS and settings["source"]
        with pytest.raises(ValueError, match="auto, pack, datatype"):
            mpi.set_strided("zero-copy")
        assert mpi.strided() == "datatype"
    finally:
        mpi.set_strided(previous)


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = (
        "from mpi4numba.datatypes import strided_settings as f\ns = f()\nprint(s['mode'], s['table'][0], s['source'])"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.driver
def test_the_environment_sets_the_mode_and_a_calibrated_table(tmp_path):
    import json
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_COMM", "HYDRA"))}
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"table": ["P" * packing.SIZE_BUCKETS] * packing.RUN_BUCKETS}))
    done = _start({**env, "MPI4NUMBA_STRIDED": "Pack", "MPI4NUMBA_STRIDED_TABLE": str(table)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["pack", "P" * packing.SIZE_BUCKETS, "calibrated"], done.stdout
    done = _start({**env, "MPI4NUMBA_STRIDED": "copy"})
    assert done.returncode != 0 and "MPI4NUMBA_STRIDED" in done.stderr
    table.write_text(json.dumps({"table": ["PX"]}))
    done = _start({**env, "MPI4NUMBA_STRIDED_TABLE": str(table)})
    assert done.returncode != 0 and "cannot read the strided table" in done.stderr


def test_packing_reuses_its_scratch():
    """After the first call has grown it, the scratch is reused: no allocation per call."""
    outgoing, incoming = filled((300, 7), np.float64, RANK)[:, 2], np.zeros((300, 7))[:, 3]
    previous = mpi.set_strided("pack")
    try:
        assert exchange_many(outgoing, incoming, RIGHT, LEFT, 1) == 0
        block = packing._POOL[: 3 * packing.BLOCKS].reshape(packing.BLOCKS, 3)[0].copy()
        assert block[packing.CAPACITY] >= outgoing.nbytes and block[packing.ADDRESS] != 0
        assert exchange_many(outgoing, incoming, RIGHT, LEFT, 50) == 0
        np.testing.assert_array_equal(packing._POOL.reshape(packing.BLOCKS, 3)[0], block)
        assert packing._POOL.reshape(packing.BLOCKS, 3)[:, packing.BUSY].sum() == 0  # all given back
    finally:
        mpi.set_strided(previous)
    np.testing.assert_array_equal(incoming, filled((300, 7), np.float64, LEFT)[:, 2])
