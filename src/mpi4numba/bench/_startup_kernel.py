"""The function ``startup`` compiles and loads from Numba's cache: a step of a 1-D solver.

It lives in a module file of its own because ``cache=True`` needs the source on disk;
``startup`` points ``NUMBA_CACHE_DIR`` at a fresh directory, so its cache is its own.
"""

from __future__ import annotations

import numba
import numpy as np

import mpi4numba as mpi


@numba.njit(cache=True)
def step(u: np.ndarray, rank: int, size: int) -> tuple[int, float]:
    """Halo exchange with both ring neighbours, a global sum, a broadcast; status and sum."""
    left, right = (rank - 1) % size, (rank + 1) % size
    halo = np.zeros(2)
    status = mpi.sendrecv(u[-1:], right, halo[:1], left, 0, 0)
    status |= mpi.sendrecv(u[:1], left, halo[1:], right, 1, 1)
    local, total = np.array([u.sum() + halo.sum()]), np.zeros(1)
    status |= mpi.allreduce(local, total, mpi.Operator.SUM)
    status |= mpi.bcast(total, 0)
    return status, total[0]


@numba.njit(cache=True)
def residual(u: np.ndarray, previous: np.ndarray) -> tuple[int, float]:
    """Largest change over all ranks: status and value."""
    local, largest = np.array([np.abs(u - previous).max()]), np.zeros(1)
    status = mpi.allreduce(local, largest, mpi.Operator.MAX)
    return status, largest[0]


@numba.njit(cache=True)
def gather_sizes(u: np.ndarray, rank: int, size: int) -> tuple[int, float]:
    """Every rank's element count, gathered on rank 0 and broadcast back: status and total."""
    counts = np.zeros(size)
    status = mpi.gather(np.array([float(u.size)]), counts, 1, 0)
    status |= mpi.bcast(counts, 0)
    return status, counts.sum()


@numba.njit(cache=True)
def smooth(u: np.ndarray, rank: int, size: int) -> tuple[int, float]:
    """One smoothing sweep with halos from both neighbours (non-blocking), then a barrier."""
    left, right = (rank - 1) % size, (rank + 1) % size
    halo = np.zeros(2)
    requests = mpi.request_array(4)
    mpi.irecv(halo[:1], left, 2, None, requests[0:1])
    mpi.irecv(halo[1:], right, 3, None, requests[1:2])
    mpi.isend(u[-1:], right, 2, None, requests[2:3])
    mpi.isend(u[:1], left, 3, None, requests[3:4])
    status = mpi.waitall(requests)
    padded = np.concatenate((halo[:1], u, halo[1:]))
    smoothed = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    status |= mpi.barrier()
    return status, smoothed.sum()
