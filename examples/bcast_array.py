"""Broadcast a NumPy array from rank 0 to every process, inside ``@numba.njit`` code.

Run with::

    mpiexec -n 4 python examples/bcast_array.py [--length 10] [--root 0]
    srun --mpi=pmi2 python examples/bcast_array.py        # inside a SLURM allocation

The root process creates the array ``0.5 * i**2`` for ``i = 0 .. length - 1``; the other
processes allocate an empty array of the same length and dtype. One call to
``mpi4numba.bcast`` in compiled code fills it on every process. Each process then
checks the values it received against the formula and prints them, e.g.::

    rank 2 of 4 has [ 0.   0.5  2.   4.5  8.  12.5 18.  24.5 32.  40.5] from rank 0: OK

(lines from different processes may arrive in any order). Exits with status 1 on every
process if any process received wrong values or an MPI call failed.
"""

from __future__ import annotations

import argparse
import sys

import numba
import numpy as np

import mpi4numba as mpi


@numba.njit(cache=True)
def share(length: int, root: int):
    """``(status, data)``: the root's array, broadcast to every process."""
    if mpi.rank() == root:
        data = 0.5 * np.arange(length, dtype=np.float64) ** 2  # only the root knows the values
    else:
        data = np.empty(length, dtype=np.float64)  # filled by the broadcast
    status = mpi.bcast(data, root)
    return status, data


@numba.njit(cache=True)
def all_agree(ok: bool) -> bool:
    """True on every process if ``ok`` is true on every process."""
    failures = np.zeros(1, np.int32)
    status = mpi.allreduce(np.int32(0 if ok else 1), failures, mpi.Operator.SUM)
    return status == 0 and failures[0] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=10, help="number of array elements")
    parser.add_argument("--root", type=int, default=0, help="rank that owns the array")
    args = parser.parse_args()
    if not 0 <= args.root < mpi.size():
        sys.exit(f"bcast_array: --root must be a rank between 0 and {mpi.size() - 1}")

    status, data = share(args.length, args.root)
    expected = 0.5 * np.arange(args.length, dtype=np.float64) ** 2
    ok = status == 0 and np.array_equal(data, expected)
    with np.printoptions(threshold=20, edgeitems=5, linewidth=1000):  # one line per process
        print(
            f"rank {mpi.rank()} of {mpi.size()} has {data} from rank {args.root}: {'OK' if ok else 'WRONG'}", flush=True
        )
    return 0 if all_agree(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
