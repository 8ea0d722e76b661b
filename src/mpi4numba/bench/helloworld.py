"""``helloworld``: each process greets in rank order, as ``python -m mpi4py.bench helloworld``.

Rank and size come from ``@numba.njit`` code calling mpi4numba, and so does the ordering:
rank 0 prints, then sends a token to rank 1, which prints and passes it on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np

import mpi4numba


@numba.njit
def _rank_size() -> tuple[int, int]:
    return mpi4numba.rank(), mpi4numba.size()


@numba.njit
def _await_turn(rank: int) -> int:
    """Wait for the token from the previous rank (after a barrier); returns the status."""
    status = mpi4numba.barrier()
    if rank > 0:
        status |= mpi4numba.recv(np.zeros(1, np.uint8), rank - 1, 0)
    return status


@numba.njit
def _pass_turn(rank: int, size: int) -> int:
    """Hand the token to the next rank, then wait for everyone; returns the status."""
    status = 0
    if rank < size - 1:
        status |= mpi4numba.send(np.zeros(1, np.uint8), rank + 1, 0)
    return status | mpi4numba.barrier()


def helloworld(verbose: bool = True) -> str:
    """Print (when ``verbose``) and return this process's greeting, in rank order."""
    rank, size = _rank_size()
    from mpi4py import MPI  # after mpi4numba has initialised MPI at its thread level

    message = f"Hello, World! I am process {rank:{len(str(size - 1))}d} of {size} on {MPI.Get_processor_name()}.\n"
    if _await_turn(rank) != 0:
        raise RuntimeError("mpi4numba.bench helloworld: receiving the token failed")
    if verbose:
        sys.stdout.write(message)
        sys.stdout.flush()
    if _pass_turn(rank, size) != 0:
        raise RuntimeError("mpi4numba.bench helloworld: passing the token failed")
    return message


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench helloworld``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench helloworld",
        description="Hello, World! from every process, in rank order.",
    )
    parser.add_argument("-q", "--quiet", action="store_false", dest="verbose", help="quiet output")
    helloworld(parser.parse_args(argv).verbose)
    return 0
