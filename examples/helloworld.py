"""Hello, World! from every MPI process, in rank order, from ``@numba.njit`` code.

Run with::

    mpiexec -n 4 python examples/helloworld.py
    srun --mpi=pmi2 python examples/helloworld.py        # inside a SLURM allocation

Each process prints one line::

    Hello, World! I am process 1 of 4 on node017.

Rank and size come from compiled code calling mpi4numba, and so does the order of the
lines: a process prints when the previous rank hands it a token, then passes the token
on. (mpi4numba has no routine for the processor name; it is asked from mpi4py in Python
and handed to the compiled function.) Exits with status 1 if an MPI call failed.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

import mpi4numba as mpi  # before mpi4py.MPI, so that MPI starts at mpi4numba's thread level

TOKEN_TAG = 7


@numba.njit(cache=True)
def say_hello(processor_name: str) -> int:
    """Print this process's greeting when its turn comes; returns the OR of MPI's status codes."""
    rank, size = mpi.rank(), mpi.size()
    token = np.zeros(1, np.int32)
    status = 0
    if rank > 0:
        status |= mpi.recv(token, rank - 1, TOKEN_TAG)  # wait for the previous rank
    with numba.objmode():  # printing and flushing are Python's job
        print(f"Hello, World! I am process {rank} of {size} on {processor_name}.", flush=True)
    if rank < size - 1:
        status |= mpi.send(token, rank + 1, TOKEN_TAG)  # the next rank's turn
    status |= mpi.barrier()
    return status


def main() -> int:
    from mpi4py import MPI

    status = say_hello(MPI.Get_processor_name())
    if status != 0:
        print(f"helloworld: an MPI call failed on rank {mpi.rank()}", file=sys.stderr)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
