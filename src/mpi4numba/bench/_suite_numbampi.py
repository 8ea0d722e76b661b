"""numba-mpi loops of the ``suite`` benchmark (imported only when ``numba_mpi`` is).

The kernels of :mod:`._suite_numba`, calling numba-mpi. Its routines take the same
arguments as mpi4numba's, so the latency and collective loops are those very functions
compiled again with their global ``mpi`` naming ``numba_mpi`` (:func:`_rebound`): the
same code but for the library called. numba-mpi works on ``COMM_WORLD`` only, has no
``alltoall`` (:data:`MISSING`) and knows uint8, int32, int64, float64 and complex dtypes
(the suite uses uint8 and int32). Its ``isend``/``irecv`` return a new request array per
call (a preallocated one cannot be passed), so ``bw`` is a loop of its own: it copies
each handle into one preallocated array for ``waitall``. Not cached: numba-mpi calls MPI
through ctypes function pointers, whose addresses differ between processes.
"""

from __future__ import annotations

import types
from typing import Any

import numba
import numba_mpi as nm

from . import _suite_numba

MISSING = {"alltoall": "numba-mpi has no alltoall"}
# the globals of _suite_numba's kernels, but ``mpi`` names numba-mpi (and ``_timed`` its twin)
_GLOBALS = {**vars(_suite_numba), "mpi": nm}


def _rebound(kernel: Any) -> Any:
    """``kernel`` (an njit function of :mod:`._suite_numba`) compiled again, not cached, with
    :data:`_GLOBALS` as its globals: its calls resolved at compile time, as in ``kernel``."""
    function = kernel.py_func
    return numba.njit(
        types.FunctionType(function.__code__, _GLOBALS, function.__name__, function.__defaults__, function.__closure__)
    )


_GLOBALS["_timed"] = _rebound(_suite_numba._timed)


@numba.njit
def bw(a, b, ack, requests, n, warmup, window, rank):
    status = nm.barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = nm.wtime()
        if rank == 0:
            for j in range(window):
                code, request = nm.isend(a, 1, 100)
                requests[j] = request[0]
                status |= code
            status |= nm.waitall(requests)
            status |= nm.recv(ack, 1, 101)
        elif rank == 1:
            for j in range(window):
                code, request = nm.irecv(b, 0, 100)
                requests[j] = request[0]
                status |= code
            status |= nm.waitall(requests)
            status |= nm.send(ack, 0, 101)
    return nm.wtime() - start, status


KERNELS = {
    op: bw if op == "bw" else _rebound(kernel) for op, kernel in _suite_numba.KERNELS.items() if op not in MISSING
}
