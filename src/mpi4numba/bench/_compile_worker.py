"""One cold compile measurement in a fresh interpreter (run by ``bench compile``, by path).

``python _compile_worker.py STACK CASE`` imports one stack (``mpi4numba`` or
``numba-mpi``), compiles what CASE says and prints one JSON line: the seconds taken by
the timed first call (compile + run) and a check that MPI returned success.
Run by path, not as a module, so that only the stack being measured is imported.
"""

from __future__ import annotations

import json
import sys
import time


def main(stack: str, case: str) -> None:
    import numba
    import numpy as np

    if stack == "mpi4numba":
        import mpi4numba as mpi
    else:
        import numba_mpi as mpi

    @numba.njit
    def floor(x, y):  # no MPI: what Numba itself costs for a first function
        y[0] = x[0]
        return 0

    @numba.njit
    def reduce_site(x, y):
        return mpi.allreduce(x, y)

    @numba.njit
    def six_calls(x, y, z):
        me = mpi.rank()
        status = mpi.allreduce(x, y)
        status |= mpi.bcast(x, 0)
        status |= mpi.barrier()
        status |= mpi.sendrecv(x, me, z, me)
        return status + 0 * mpi.size()

    x, y, z = np.ones(4), np.zeros(4), np.zeros(4)
    xi, yi = np.ones(4, np.int64), np.zeros(4, np.int64)
    warm = {  # what each case compiles, untimed, before the timed call
        "floor": [],
        "first": [],
        "dtype": [lambda: reduce_site(x, y)],
        "multi": [lambda: reduce_site(x, y), lambda: reduce_site(xi, yi), lambda: _warm_routines(mpi, x, z)],
    }[case]
    timed = {
        "floor": lambda: floor(x, y),
        "first": lambda: reduce_site(x, y),
        "dtype": lambda: reduce_site(xi, yi),
        "multi": lambda: six_calls(x, y, z),
    }[case]
    for step in warm:
        step()
    start = time.perf_counter()
    status = timed()
    seconds = time.perf_counter() - start
    print(json.dumps({"stack": stack, "case": case, "seconds": seconds, "status": int(status)}), flush=True)


def _warm_routines(mpi, x, z) -> None:
    """Compile each routine of ``multi`` once, each in a function of its own."""
    import numba

    for function, args in (
        (numba.njit(lambda: mpi.rank()), ()),
        (numba.njit(lambda: mpi.size()), ()),
        (numba.njit(lambda a: mpi.bcast(a, 0)), (x,)),
        (numba.njit(lambda: mpi.barrier()), ()),
        (numba.njit(lambda a, b: mpi.sendrecv(a, mpi.rank(), b, mpi.rank())), (x, z)),
    ):
        function(*args)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
