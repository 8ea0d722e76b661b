"""Partitioned point-to-point (MPI-4): parts marked ready in any order, by any thread,
arrive whole; checked between processes of a ring, and by prange threads at ``multiple``
(driver test, tests/scripts/partitioned.py)."""

import json
import os
import re
import sys

import numba
import numpy as np
import pytest
from helpers import ROOT, mpiexec
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi
from mpi4numba import parrived, pready, pready_list, pready_range, precv_init, psend_init
from mpi4numba._core import errorcodes
from mpi4numba._core.ccall import usable
from mpi4numba._core.runtime import LIBMPI

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
HAS_ROUTINES = usable("MPI_Psend_init")
POLLS = usable("MPI_Parrived")
needs_mpi4 = pytest.mark.skipif(
    not HAS_ROUTINES,
    reason=f"{LIBMPI} has no MPI-4 partitioned routines: test_missing_routines_are_a_clear_error checks the code",
)


def made(result):
    status, request = result
    assert status == 0, mpi.error_string(status)
    return request


@needs_mpi4
def test_parts_ready_in_any_order_arrive_whole_at_every_start():
    outgoing, incoming = np.zeros(12, np.int32), np.zeros(12, np.int32)
    sending = made(psend_init(outgoing, 4, RIGHT, 3))
    receiving = made(precv_init(incoming, 2, LEFT, 3))  # other partitions, same total
    for step in range(3):
        outgoing[:] = 1000 * RANK + 100 * step + np.arange(12)
        incoming[:] = -1
        assert mpi.startall((receiving, sending)) == 0
        if step == 0:
            codes = [pready(p, sending) for p in (3, 1, 0, 2)]
        elif step == 1:
            codes = [pready_range(2, 3, sending), pready_list([1, 0], sending)]
        else:
            codes = [pready_list(np.array([0, 3, 2, 1], np.int64), sending)]
        assert codes == [0] * len(codes)
        arrived = set() if POLLS else {0, 1}  # Open MPI 5's MPI_Parrived is refused (see refusals.py)
        while len(arrived) < 2:
            for part in range(2):
                code, flag = parrived(receiving, part)
                assert code == 0
                if flag:
                    arrived.add(part)
                    np.testing.assert_array_equal(
                        incoming[6 * part : 6 * part + 6], 1000 * LEFT + 100 * step + np.arange(6 * part, 6 * part + 6)
                    )
        assert mpi.waitall((sending, receiving)) == 0
        np.testing.assert_array_equal(incoming, 1000 * LEFT + 100 * step + np.arange(12))
    assert mpi.request_free(sending) == 0 and mpi.request_free(receiving) == 0


@numba.njit
def compiled_exchange(outgoing, incoming, right, left, parts, rounds):
    code, sending = psend_init(outgoing, parts, right, 5)
    code2, receiving = precv_init(incoming, parts, left, 5)
    sums = np.zeros(rounds)
    for step in range(rounds):
        mpi.start(receiving)
        mpi.start(sending)
        for p in range(parts - 1, -1, -1):
            outgoing[p] = step * 10.0 + p
            code |= pready(p, sending)
        mpi.waitall((sending, receiving))
        sums[step] = incoming.sum()
    mpi.request_free(sending)
    mpi.request_free(receiving)
    return code | code2, sums


@needs_mpi4
def test_compiled_loop_of_partitioned_exchanges():
    code, sums = compiled_exchange(np.zeros(4), np.zeros(4), RIGHT, LEFT, 4, 3)
    assert code == 0
    np.testing.assert_array_equal(sums, [step * 40.0 + 6.0 for step in range(3)])


@needs_mpi4
def test_parrived_is_refused_where_it_reports_parts_too_early():
    """Open MPI 5's MPI_Parrived says a receive partition arrived once the first of the
    sender's smaller partitions did (checked with mpi4py alone): refused there."""
    incoming = np.zeros(2)
    status, receiving = precv_init(incoming, 1, RANK, 11)
    status2, sending = psend_init(np.ones(2), 2, RANK, 11)
    assert status == status2 == 0 and mpi.startall((receiving, sending)) == 0
    code, flag = parrived(receiving, 0)
    if POLLS:
        assert code == 0
    else:
        assert mpi.error_class(code) == mpi.ERR_UNSUPPORTED_OPERATION and not flag
        assert "MPI_Parrived is refused" in mpi.error_string(code) or not errorcodes.codes_carry_messages()
    assert pready_range(0, 1, sending) == 0 and mpi.waitall((sending, receiving)) == 0
    assert incoming.tolist() == [1.0, 1.0]
    assert mpi.request_free(sending) == 0 and mpi.request_free(receiving) == 0


def test_missing_routines_are_a_clear_error():
    status, request = psend_init(np.zeros(2), 2, RANK, 99)
    if HAS_ROUTINES:  # matched, so that no later receive from this process matches it
        code, receiving = precv_init(np.zeros(2), 1, RANK, 99)
        assert status == code == 0 and mpi.startall((receiving, request)) == 0
        assert pready_range(0, 1, request) == 0 and mpi.waitall((request, receiving)) == 0
        assert mpi.request_free(request) == 0 and mpi.request_free(receiving) == 0
        return
    assert mpi.error_class(status) == mpi.ERR_UNSUPPORTED_OPERATION
    text = mpi.error_string(status)
    assert ("MPI_Psend_init" in text and "not in this MPI library" in text) or not errorcodes.codes_carry_messages()


def test_bad_sizes_and_layouts_raise_before_anything_is_made():
    with pytest.raises(ValueError, match="size of data must be a multiple of partitions"):
        psend_init(np.zeros(5), 2, RIGHT)
    with pytest.raises(ValueError, match="partitions must be at least 1"):
        precv_init(np.zeros(4), 0, LEFT)
    with pytest.raises(ValueError, match="data must be C-contiguous"):
        precv_init(np.zeros(8)[::2], 2, LEFT)


def test_empty_and_null_requests_and_proc_null_are_error_codes():
    """Refused before MPI sees them (MPICH 5.0 crashes in MPI_Parrived on a null request
    and in MPI_Psend_init/MPI_Precv_init with PROC_NULL)."""
    empty = mpi.request_array(0)
    for code in (pready(0, empty), pready_range(0, 1, empty), pready_list([0], empty), parrived(empty, 0)[0]):
        assert mpi.error_class(code) == mpi.ERR_REQUEST
        assert "empty request array" in mpi.error_string(code) or not errorcodes.codes_carry_messages()
    for null in (mpi.request_array(1), np.full(1, MPI._handleof(MPI.REQUEST_NULL), mpi.RequestType)):
        for code in (pready(0, null), pready_range(0, 1, null), pready_list([0], null), parrived(null, 0)[0]):
            assert mpi.error_class(code) == mpi.ERR_REQUEST
            assert "null request" in mpi.error_string(code) or not errorcodes.codes_carry_messages()
    for code, request in (psend_init(np.zeros(2), 2, mpi.PROC_NULL), precv_init(np.zeros(2), 1, mpi.PROC_NULL)):
        assert mpi.error_class(code) == mpi.ERR_RANK
        assert "PROC_NULL is refused" in mpi.error_string(code) or not errorcodes.codes_carry_messages()
        assert mpi.wait(request) == 0  # a null request


@pytest.mark.jit_only
def test_bad_types_are_typing_errors():
    @numba.njit
    def fortran(data):
        return psend_init(data, 2, 0)

    with pytest.raises(TypingError, match="psend_init: data must be C-contiguous"):
        fortran(np.zeros((2, 2), order="F"))

    @numba.njit
    def listed(parts, request):
        return pready_list(parts, request)

    with pytest.raises(TypingError, match="pready_list"):
        listed(np.zeros(2), mpi.request_array(1))


SCRIPT = str(ROOT / "tests" / "scripts" / "partitioned.py")
THREADS, ROUNDS = 4, 10


@pytest.mark.driver
@pytest.mark.parametrize("np_", [1, 2, 3])
def test_prange_threads_fill_and_check_the_partitions(np_, tmp_path_factory):
    """Each of 4 threads fills its partition and marks it ready, then each polls its
    partition of the incoming message and checks every element (at ``multiple``)."""
    env = {
        "MPI4NUMBA_THREAD_LEVEL": "multiple",
        "MPI4PY_RC_THREAD_LEVEL": None,
        "NUMBA_NUM_THREADS": str(THREADS),
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR") or str(tmp_path_factory.getbasetemp() / "partitioned"),
        "MPIEXEC_TIMEOUT": "300",
        "MPI4NUMBA_ABORT_ON_ERROR": "1",
    }
    done = mpiexec(np_, SCRIPT, str(ROUNDS), env=env, python=sys.executable, timeout=360)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # a rank's line may run into another's: each report is read by its braces
    reports = [json.loads(found) for found in re.findall(r"PARTITIONED (\{[^{}]*\})", done.stdout)]
    assert sorted(r["rank"] for r in reports) == list(range(np_)), output
    if any("missing" in r for r in reports):
        pytest.skip(reports[0].get("missing", "the library lacks the partitioned routines"))
    for r in reports:
        assert r["thread_level"] == "multiple" and r["parts"] == THREADS and r["size"] == np_, r
        assert r["mismatches"] == 0 and r["errors"] == 0, r
        assert r["checked"] == ROUNDS * THREADS * 5_000, r
        assert len(r["threads"]) > 1, r  # parts marked ready by several threads
