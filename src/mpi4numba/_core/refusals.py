"""Routines that mpi4numba refuses on libraries that have them but get them wrong.

A call of a refused routine returns ``MPI_ERR_UNSUPPORTED_OPERATION`` whose
``error_string`` names the routine, the library and why, as for a routine the library
lacks (see :mod:`mpi4numba._core.ccall`): wrong data never arrives silently.
"""

from __future__ import annotations

from .launchers import Flavour

_COLLECTIVES = (
    "Barrier Bcast Gather Gatherv Scatter Scatterv Allgather Allgatherv Alltoall Alltoallv Reduce Allreduce "
    "Reduce_scatter_block Scan Exscan Neighbor_allgather Neighbor_allgatherv Neighbor_alltoall Neighbor_alltoallv"
)
PERSISTENT_COLLECTIVES = frozenset(f"MPI_{name}_init" for name in _COLLECTIVES.split())

# (vendor, version prefix, routines, why): checked with mpi4py alone, without mpi4numba
_REFUSED = (
    (
        "Intel MPI",
        "2021.",
        PERSISTENT_COLLECTIVES,
        (
            "its persistent collectives deliver stale data or none (MPI_Allgather_init, MPI_Gather_init, "
            "MPI_Scatter_init; found on 2021.18): use the non-blocking ones"
        ),
    ),
    (
        "MPICH",
        "4.",
        PERSISTENT_COLLECTIVES,
        (
            "its persistent collectives deliver no data or stale data (MPI_Gather_init, MPI_Scatter_init; "
            "found on 4.1.3, right in 5.0): use the non-blocking ones"
        ),
    ),
    (
        "Open MPI",
        "5.",
        frozenset({"MPI_Parrived"}),
        (
            "it reports a partition arrived while only part of it has, where the sender uses more "
            "partitions (found on 5.0.11): complete the request with wait or test"
        ),
    ),
)


def refusal(routine: str, flavour: Flavour) -> str | None:
    """Why ``routine`` is refused on the library ``flavour``, or None."""
    for vendor, version, routines, why in _REFUSED:
        if flavour.vendor == vendor and flavour.version.startswith(version) and routine in routines:
            return why
    return None
