"""MPI calls from several prange threads at once (driver tests; issue #11, item 3).

tests/scripts/threads.py runs at 1, 2 and 3 processes with MPI at ``multiple`` and four
Numba threads: every prange iteration exchanges messages with its neighbours under a tag
of its own (blocking send/recv, sendrecv, isend/irecv completed by another thread or by
the main thread) and runs collectives on a communicator of its own. Every received
element is checked on the receiving rank; here every rank's report must show no
mismatch, no error status, the expected number of checked messages and more than one
thread making MPI calls.

With no setting at all MPI starts at ``multiple`` (mpi4py's default): a PyMPDATA-style
program written for numba-mpi runs unchanged (checked at 1, 2 and 3 processes).

At ``funneled`` (one setting away) a prange thread's call is refused with an ERR_OTHER
code and a message (``mpi4numba._core.threads``): checked at one process.

Any threading layer works (tbb, omp, workqueue): the prange loops start on the main
thread only. The second threading layer run reuses the Numba cache of the first.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
from helpers import ROOT, mpiexec

pytestmark = pytest.mark.driver

SCRIPT = str(ROOT / "tests" / "scripts" / "threads.py")
THREADS = 4
ROUNDS = 20
# a cold compile of the script's five parallel functions on a loaded 2-core machine
TIMEOUT = 600


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:
    # ./dev gives each leg a cache; else one for the module, so only the first job compiles
    return os.environ.get("NUMBA_CACHE_DIR") or str(tmp_path_factory.mktemp("numba-cache"))


def run(np_: int, cache: str, level: str | None, layer: str | None = None, code: str | None = None, strided=None):
    env = {
        "MPI4NUMBA_STRIDED": strided,  # None: unset (auto)
        "MPI4NUMBA_THREAD_LEVEL": level,  # None: unset
        "MPI4PY_RC_THREAD_LEVEL": None,
        "NUMBA_NUM_THREADS": str(THREADS),
        "NUMBA_CACHE_DIR": cache,
        "MPIEXEC_TIMEOUT": str(TIMEOUT),
        "MPI4NUMBA_ABORT_ON_ERROR": "1",
    }
    if layer:
        env["NUMBA_THREADING_LAYER"] = layer
    args = ("-c", code) if code else (SCRIPT, str(ROUNDS))
    done = mpiexec(np_, *args, env=env, python=sys.executable, timeout=TIMEOUT + 60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output, [
        json.loads(line[len("THREADS ") :]) for line in done.stdout.splitlines() if line.startswith("THREADS ")
    ]


@pytest.mark.parametrize(
    "np_, layer, strided",
    [(1, None, None), (2, None, None), (3, None, None), (2, "workqueue", None), (2, None, "pack")],
    ids=["np1", "np2", "np3", "np2-workqueue", "np2-pack"],
)
def test_prange_threads_exchange_messages_at_multiple(cache_dir, np_, layer, strided):
    """``np2-pack``: the strided columns of every thread packed into scratch at once."""
    output, reports = run(np_, cache_dir, "multiple", layer, strided=strided)
    assert sorted(r["rank"] for r in reports) == list(range(np_)), output
    cases = ["exchange", "crossed_by_threads", "crossed_on_main", "reduce"] + (["blocking"] if np_ > 1 else [])
    print(
        f"\n{np_} processes, layer {reports[0]['threading_layer']}: "
        + ", ".join(f"{c} {reports[0][c]['seconds']} s" for c in cases)
    )
    for r in reports:
        assert r["thread_level"] == "multiple" and r["lanes"] == THREADS and r["size"] == np_, r
        if layer:
            assert r["threading_layer"] == layer, r
        for case in cases:
            result = r[case]
            assert result["mismatches"] == 0 and result["errors"] == 0, (r["rank"], case, result)
            per_round = 2 if case in ("blocking", "reduce") else 1
            assert result["messages"] == THREADS * ROUNDS * per_round, (r["rank"], case, result)
            assert len(result["threads"]) > 1, (r["rank"], case, result)  # calls came from several threads
        # lane t's requests were completed by another lane, on another thread
        assert r["crossed_by_threads"]["completed_by_another_thread"] > 0, r


REFUSED = """
import numba, numpy as np
from numba import prange
import mpi4numba as mpi

@numba.njit(parallel=True)
def from_threads(lanes, out):
    for t in prange(lanes):
        out[t] = mpi.sendrecv(np.ones(1), 0, np.zeros(1), 0, t, t)

lanes = numba.get_num_threads()
out = np.full(lanes, -1, np.int64)
from_threads(lanes, out)
refused = [int(c) for c in out if c != 0]
print("REFUSED", len(refused), all(mpi.error_class(c) == mpi.ERR_OTHER for c in refused),
      mpi.error_string(refused[0]) if refused else "", mpi.barrier(), flush=True)
"""


def test_prange_threads_are_refused_at_funneled(cache_dir):
    """At funneled, MPI calls from prange threads other than the main one return ERR_OTHER
    with a message (MPICH would otherwise crash or corrupt data); the main thread's work."""
    output, _ = run(1, cache_dir, "funneled", code=REFUSED)
    line = next(line for line in output.splitlines() if line.startswith("REFUSED "))
    count, all_other, rest = line.split(" ", 3)[1:]
    # omp and tbb run one chunk on the main thread, workqueue none
    assert THREADS - 1 <= int(count) <= THREADS and all_other == "True", output
    assert "at thread level single or funneled" in rest and rest.endswith(" 0"), output
    assert output.count("mpi4numba: MPI called from a thread other than") >= 2, output  # + stderr


NUMBA_MPI_PROGRAM = """
import sys
import numba, numpy as np
from mpi4py import MPI
import mpi4numba as numba_mpi  # a program written for numba-mpi

assert MPI.Query_thread() == MPI.THREAD_MULTIPLE  # as PyMPDATA-MPI asserts

@numba.njit(parallel=True)
def exchange(lanes, n, rounds, received, thread_ids):
    right = (numba_mpi.rank() + 1) % numba_mpi.size()
    left = (numba_mpi.rank() - 1) % numba_mpi.size()
    codes = np.zeros(lanes, np.int64)
    for lane in numba.prange(lanes):
        thread_ids[lane] = numba.get_thread_id()
        for r in range(rounds):
            outgoing = np.full(n, 1000.0 * numba_mpi.rank() + 10 * lane + r)
            if numba_mpi.size() == 1:  # MPICH's send to itself waits for the receive
                codes[lane] |= numba_mpi.sendrecv(outgoing, right, received[lane, r], left, lane, lane)
            else:
                codes[lane] |= numba_mpi.send(outgoing, dest=right, tag=lane)
                codes[lane] |= numba_mpi.recv(received[lane, r], source=left, tag=lane)
    return codes.max()

lanes, n, rounds = numba.get_num_threads(), 5, 10
received = np.zeros((lanes, rounds, n))
thread_ids = np.zeros(lanes, np.int64)
status = exchange(lanes, n, rounds, received, thread_ids)
left = (numba_mpi.rank() - 1) % numba_mpi.size()
expected = 1000.0 * left + 10 * np.arange(lanes)[:, None, None] + np.arange(rounds)[None, :, None]
fields = (numba_mpi.rank(), status, bool((received == expected).all()), len(set(thread_ids)))
sys.stdout.write("EXCHANGED %d %d %s %d\\n" % fields)  # one write: ranks share the pipe
sys.stdout.flush()
"""


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_a_numba_mpi_program_with_prange_threads_runs_with_no_setting(cache_dir, np_):
    """PyMPDATA-MPI's pattern: send/recv by keyword from prange threads, a tag per thread,
    THREAD_MULTIPLE asserted; through mpi4numba with no thread-level variable set."""
    output, _ = run(np_, cache_dir, None, code=NUMBA_MPI_PROGRAM)
    lines = sorted(line.split() for line in output.splitlines() if line.startswith("EXCHANGED "))
    assert [line[1:4] for line in lines] == [[str(rank), "0", "True"] for rank in range(np_)], output
    assert all(int(line[4]) > 1 for line in lines), output  # calls came from several threads


GIL_PROGRAM = """
import threading, time
import numpy as np
import mpi4numba as mpi

mpi.barrier()
incoming = np.zeros(1)
results = []
waiting = threading.Thread(target=lambda: results.append(mpi.recv(incoming, mpi.rank(), 7)))
waiting.start()
time.sleep(0.3)
print("the main thread ran Python while the other waited in recv", flush=True)
mpi.send(np.ones(1), mpi.rank(), 7)
waiting.join()
print("received", results, incoming[0])
"""


def test_a_blocking_call_from_a_python_thread_releases_the_gil():
    """As mpi4py's calls do: a recv from one thread lets the main thread run the matching send."""
    done = mpiexec(1, "-c", GIL_PROGRAM, env={"MPI4NUMBA_THREAD_LEVEL": "multiple"}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the main thread ran Python" in done.stdout and "received [0] 1.0" in done.stdout, done.stdout
