"""First job of ``./dev test-hosts``: the ranks are on different hosts and talk over TCP.

Run under mpiexec with ranks on several hosts (network namespaces, see ``tests/hosts/run``)::

    mpiexec ... python tests/hosts/check.py HOSTS RANKS_PER_HOST PEER_ADDRESS

Asserts that ``MPI_Get_processor_name`` names HOSTS hosts with RANKS_PER_HOST ranks each
(and, under ``tests/hosts/run``, that each host has its own ``TMPDIR``),
that ``MPI_Comm_split_type(SHARED)`` (mpi4py's and mpi4numba's) gives the same groups,
then sends 8 MiB with mpi4numba from the first rank of the first host to the first rank
of the second and back, and lists the TCP connections of that rank's process (``ss``, the
ones it does not share with Hydra's proxy): one of them must go to PEER_ADDRESS, the first
host's address. Rank 0 prints the findings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback

import numba
import numpy as np
from mpi4py import MPI

import mpi4numba as mpi

NBYTES = 8 << 20


@numba.njit
def split_shared():
    status, node = mpi.comm_split_type(mpi.COMM_TYPE_SHARED)
    return status, node.rank, node.size


def main() -> None:
    hosts, per_host, peer = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    assert size == hosts * per_host, f"{size} ranks, expected {hosts} x {per_host}"

    names = world.allgather(MPI.Get_processor_name())
    by_host: dict[str, list[int]] = {}
    for r, name in enumerate(names):
        by_host.setdefault(name, []).append(r)
    assert len(by_host) == hosts and all(len(v) == per_host for v in by_host.values()), by_host

    if os.environ.get("MPI4NUMBA_HOSTS_TMP"):  # node-local temporary files (compile locks)
        expected = os.path.join(os.environ["MPI4NUMBA_HOSTS_TMP"], names[rank])
        assert os.environ.get("TMPDIR") == expected, (os.environ.get("TMPDIR"), expected)

    node = world.Split_type(MPI.COMM_TYPE_SHARED)
    groups = {tuple(g) for g in world.allgather(tuple(node.allgather(rank)))}
    assert groups == {tuple(v) for v in by_host.values()}, (groups, by_host)
    status, node_rank, node_size = split_shared()
    assert (status, node_rank, node_size) == (0, node.Get_rank(), node.Get_size())
    node.Free()

    first, second = (ranks[0] for ranks in list(by_host.values())[:2])
    data = np.arange(NBYTES // 8, dtype=np.float64)
    back = np.empty_like(data)
    connections: list[str] = []
    if rank == first:
        assert mpi.send(data, dest=second, tag=1) == 0
        assert mpi.recv(back, source=second, tag=2) == 0
        assert np.array_equal(back, data)
    elif rank == second:
        assert mpi.recv(back, source=first, tag=1) == 0
        assert mpi.send(back, dest=first, tag=2) == 0
        assert np.array_equal(back, data)
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established"], capture_output=True, text=True, check=True
        ).stdout
        # sockets of this process alone (not the ones it shares with Hydra's proxy)
        connections = [
            " ".join(line.split())
            for line in listing.splitlines()
            if set(re.findall(r"pid=(\d+),", line)) == {str(os.getpid())}
        ]
        assert any(f" {peer}:" in f" {line}" for line in connections), (
            f"rank {rank}: no TCP connection of its own to {peer}:\n{listing}"
        )
    connections = world.gather(connections, root=0)
    if rank == 0:
        for name, ranks in by_host.items():
            print(f"check: host {name}: ranks {ranks}")
        print(
            f"check: MPI_Comm_split_type(SHARED): {len(groups)} groups {sorted(groups)}; "
            f"{NBYTES >> 20} MiB rank {first} -> {second} -> {first}: ok"
        )
        print(
            f"check: TCP connections of rank {second}'s process alone (on {names[second]}, ss -tnp; "
            "Recv-Q Send-Q local peer):"
        )
        for line in connections[second]:
            print(f"check:   {line}")
    world.Barrier()


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)
