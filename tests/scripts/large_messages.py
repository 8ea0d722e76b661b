"""Two ranks exchange 2**31 + 9 bytes with send/recv, bcast and allreduce (tests/test_largecount.py)."""

import numba
import numpy as np

import mpi4numba as mpi

N = 2**31 + 9


@numba.njit
def fill(a, salt):
    for i in range(a.size):
        a[i] = (i + salt) % 97


@numba.njit
def first_mismatch(a, salt, factor):
    for i in range(a.size):
        if a[i] != factor * ((i + salt) % 97):
            return i
    return -1


@numba.njit
def exchange(a):
    if mpi.rank() == 0:
        return mpi.send(a, 1, 5)
    return mpi.recv(a, 0, 5)


def main() -> None:
    rank = mpi.rank()
    data = np.empty(N, np.uint8)
    fill(data, 3 if rank == 0 else 0)
    assert exchange(data) == 0
    bad = first_mismatch(data, 3, 1)
    assert bad == -1, f"send/recv: element {bad} differs"
    mpi.barrier()
    if rank == 0:
        print("OK send/recv", flush=True)

    fill(data, 11 if rank == 1 else 0)
    assert mpi.bcast(data, 1) == 0
    bad = first_mismatch(data, 11, 1)
    assert bad == -1, f"bcast: element {bad} differs"
    mpi.barrier()
    if rank == 0:
        print("OK bcast", flush=True)

    fill(data, 5)
    total = np.empty_like(data)
    assert mpi.allreduce(data, total) == 0
    del data
    bad = first_mismatch(total, 5, 2)
    assert bad == -1, f"allreduce: element {bad} differs"
    mpi.barrier()
    if rank == 0:
        print("OK allreduce", flush=True)


if __name__ == "__main__":
    main()
