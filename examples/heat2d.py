"""The 2-D heat equation on a Cartesian grid of processes, time loop compiled with Numba.

    mpiexec -n 4 python examples/heat2d.py [--nx 60] [--ny 50] [--steps 500] [--every 100]

Solves du/dt = u_xx + u_yy on the unit square with u = 0 on the boundary, by explicit
Euler steps of the 5-point stencil. The nx x ny interior points are cut into blocks, one
per process, on a process grid chosen by ``dims_create``; each block is stored with one
extra layer of "ghost" points around it that hold copies of the neighbours' edge values.
Every time step first refreshes the ghosts (halo exchange), then updates the interior.
The whole loop, MPI calls included, runs in one ``@numba.njit`` function.

Every ``--every`` steps the loop writes a checkpoint: each process writes its block of
the global field into one file, all at once (MPI-IO, ``file_write_at_all`` through a block
view), from inside the compiled loop; the file always holds the latest checkpoint.

At the end the blocks are collected on one process and compared with the same scheme
run by NumPy on the whole grid, and the checkpoint file, read by NumPy, with NumPy's
field at the step of the last checkpoint; the program prints the largest differences
and exits with status 1 if they are not at round-off level. Works with any number of
processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

import numba
import numpy as np

import mpi4numba as mpi

# Explicit Euler is stable for the 5-point stencil when dt / h^2 <= 1/4.
RATIO = 0.2
# Tags say which way a message travels, so an exchange can never pick up another's data.
UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3


def block_range(points: int, parts: int, index: int) -> tuple[int, int]:
    """(first, count) of block ``index`` when ``points`` are split into ``parts`` blocks
    whose sizes differ by at most one, so any process count balances the work."""
    base, extra = divmod(points, parts)
    return index * base + min(index, extra), base + (1 if index < extra else 0)


def initial(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Not symmetric in x and y, so a block put in the wrong place shows in the check."""
    return np.sin(np.pi * x) * np.sin(np.pi * y) * (1.0 + x + 2.0 * y * y)


@numba.njit
def run(u, steps, cart, checkpoint, every):
    """Advance the block ``u`` (interior plus one ghost layer) by ``steps`` time steps,
    writing the interior into the file ``checkpoint`` (whose view is this block of the
    global field) after every ``every`` steps (0: never).

    Returns the block after the last step and the OR of all MPI status codes (0: all fine).
    """
    status = 0
    # Ranks of the four neighbours; past the edge of the domain they are PROC_NULL, and a
    # sendrecv with PROC_NULL does nothing: those ghosts keep the boundary value 0.
    code, up, down = mpi.cart_shift(0, 1, cart)
    status |= code
    code, left, right = mpi.cart_shift(1, 1, cart)
    status |= code
    new = u.copy()  # the ghost layer of both arrays starts at the boundary value
    for step in range(steps):
        # Rows are contiguous. Each sendrecv pairs with the opposite one on the neighbour,
        # so no process waits on another that is itself waiting (no deadlock).
        status |= mpi.sendrecv(u[1, 1:-1], up, u[-1, 1:-1], down, UP, UP, cart)
        status |= mpi.sendrecv(u[-2, 1:-1], down, u[0, 1:-1], up, DOWN, DOWN, cart)
        # Columns are strided views: they go to MPI as they are (a derived datatype
        # describes the stride), with no copy into a contiguous buffer.
        status |= mpi.sendrecv(u[1:-1, 1], left, u[1:-1, -1], right, LEFT, LEFT, cart)
        status |= mpi.sendrecv(u[1:-1, -2], right, u[1:-1, 0], left, RIGHT, RIGHT, cart)
        for i in range(1, u.shape[0] - 1):
            for j in range(1, u.shape[1] - 1):
                # Same operations in the same order as the NumPy reference, so the two
                # agree to the last bit, not just to a tolerance.
                laplacian = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1] - 4.0 * u[i, j]
                new[i, j] = u[i, j] + RATIO * laplacian
        u, new = new, u
        if every > 0 and (step + 1) % every == 0:
            # Collective: every process writes its block (a strided view of u, described
            # to MPI as it is) into its place in the file, in one call.
            status |= mpi.file_write_at_all(checkpoint, 0, u[1:-1, 1:-1])
    return u, status


def reference(nx: int, ny: int, steps: int) -> np.ndarray:
    """The same scheme on the whole grid in one process (vectorised NumPy)."""
    x = np.arange(1, nx + 1)[:, None] / (nx + 1)
    y = np.arange(1, ny + 1)[None, :] / (ny + 1)
    u = np.zeros((nx + 2, ny + 2))
    u[1:-1, 1:-1] = initial(x, y)
    for _ in range(steps):
        laplacian = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1]
        u[1:-1, 1:-1] = u[1:-1, 1:-1] + RATIO * laplacian
    return u[1:-1, 1:-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nx", type=int, default=60, help="interior points along x (rows)")
    parser.add_argument("--ny", type=int, default=50, help="interior points along y (columns)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--every", type=int, default=100, help="steps between checkpoints (0: none)")
    args = parser.parse_args()

    # A process grid as square as the process count allows: shorter block edges mean
    # less data in the halo exchange for the same work.
    dims = np.zeros(2, np.int32)
    mpi.dims_create(mpi.size(), dims)
    if dims[0] > args.nx or dims[1] > args.ny:
        sys.exit(f"heat2d: a {args.nx} x {args.ny} grid is too small for {dims[0]} x {dims[1]} processes")
    # reorder=True lets MPI renumber processes to fit the machine: from here on, ranks are
    # those of `cart`, never of COMM_WORLD.
    status, cart = mpi.cart_create(dims, (False, False), reorder=True)
    assert status == 0, "cart_create failed"
    rank = mpi.rank(cart)
    status, coords = mpi.cart_coords(rank, cart)
    x0, nx = block_range(args.nx, dims[0], coords[0])
    y0, ny = block_range(args.ny, dims[1], coords[1])

    # This block's initial values, from its global coordinates.
    x = np.arange(x0 + 1, x0 + nx + 1)[:, None] / (args.nx + 1)
    y = np.arange(y0 + 1, y0 + ny + 1)[None, :] / (args.ny + 1)
    u = np.zeros((nx + 2, ny + 2))
    u[1:-1, 1:-1] = initial(x, y)

    # The checkpoint file, one path for all processes (a file system they share); its view
    # makes this process's reads and writes go to its block of the nx x ny field.
    folder = tempfile.mkdtemp(prefix="heat2d-") if rank == 0 else ""
    path = os.path.join(cart.bcast(folder, root=0), "checkpoint.bin")  # cart is an mpi4py communicator here
    status, checkpoint = mpi.file_open(path, mpi.MODE_CREATE | mpi.MODE_WRONLY, cart)
    status |= mpi.file_set_block_view(checkpoint, u[1:-1, 1:-1], (args.nx, args.ny), (x0, y0))
    assert status == 0, f"heat2d: cannot write {path}: {mpi.error_string(status)}"

    run(u, 0, cart, checkpoint, 0)  # compile before timing
    mpi.barrier(cart)
    start = mpi.wtime()
    u, status = run(u, args.steps, cart, checkpoint, args.every)
    elapsed = mpi.wtime() - start
    status |= mpi.file_close(checkpoint)

    # Collect the blocks for the check: each process puts its block into a zero array
    # of the whole grid and a sum brings them together. Simple, but it moves the whole
    # grid from every process: fine for a check, not for production output.
    whole = np.zeros((args.nx, args.ny))
    whole[x0 : x0 + nx, y0 : y0 + ny] = u[1:-1, 1:-1]
    total = np.zeros_like(whole)
    status |= mpi.reduce(whole, total, mpi.Operator.SUM, 0, cart)

    failed = np.zeros(1, np.int32)  # did MPI report an error on any process?
    mpi.allreduce(np.int32(status != 0), failed, mpi.Operator.MAX, cart)
    verdict = np.zeros(1, np.int32)  # 0: correct; everyone exits with the same status
    if rank == 0:
        error = np.abs(total - reference(args.nx, args.ny, args.steps)).max()
        saved = (args.steps // args.every) * args.every if args.every > 0 else 0
        if saved > 0:  # the checkpoint as any program reads it: NumPy, from the file
            on_disk = np.fromfile(path).reshape(args.nx, args.ny)
            checkpoint_error = np.abs(on_disk - reference(args.nx, args.ny, saved)).max()
        else:
            checkpoint_error = 0.0
        shutil.rmtree(folder)
        verdict[0] = 0 if failed[0] == 0 and error < 1e-12 and checkpoint_error < 1e-12 else 1
        print(
            f"heat2d: {args.nx} x {args.ny} points, {args.steps} steps, {dims[0]} x {dims[1]} processes, "
            f"{elapsed:.3f} s; max error vs NumPy {error:.3e}, checkpoint of step {saved} vs NumPy "
            f"{checkpoint_error:.3e}, MPI errors: {'yes' if failed[0] else 'none'}: "
            f"{'OK' if verdict[0] == 0 else 'WRONG'}"
        )
    mpi.bcast(verdict, 0, cart)
    mpi.comm_free(cart)
    return int(verdict[0])


if __name__ == "__main__":
    sys.exit(main())
