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
