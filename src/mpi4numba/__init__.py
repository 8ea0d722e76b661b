"""mpi4numba: MPI for Numba.

Functions callable from ``@numba.njit`` code (and from Python) that call the MPI C
library directly, through the library mpi4py loaded. A drop-in for numba-mpi::

    import mpi4numba as numba_mpi

Importing this package does not initialise MPI, so the thread level can still be chosen
with :func:`set_thread_level` (or ``MPI4NUMBA_THREAD_LEVEL``); the first use of any other
name, or importing ``mpi4py.MPI``, initialises MPI at that level.
"""

from __future__ import annotations

import importlib
from typing import Any

from numba.core.registry import cpu_target

from . import _abort, _numbacache
from ._abi import mpich as _names_only  # the names of error classes (values come with MPI)
from ._initialize import THREAD_LEVELS, configure_mpi4py, register_communicator_typing, set_thread_level

configure_mpi4py()
register_communicator_typing()
_numbacache.install()  # before any cached function of the program compiles
_abort.install()  # a failure on one rank ends the job, also before MPI is initialised

__version__ = "0.1.0"

_EXPORTS = {
    "comm": ["rank", "size", "comm_rank", "comm_size", "comm_dup", "comm_split", "comm_free",
             "comm_split_type", "comm_compare", "comm_create", "COMM_TYPE_SHARED", "IDENT", "CONGRUENT",
             "SIMILAR", "UNEQUAL", "COMM_WORLD", "COMM_SELF", "COMM_NULL", "Comm", "comm_type"],
    "groups": ["comm_group", "group_incl", "group_excl", "group_size", "group_rank", "group_translate_ranks",
               "group_free"],
    "topology": ["dims_create", "cart_create", "cartdim_get", "cart_get", "cart_coords", "cart_rank", "cart_shift",
                 "cart_sub", "topo_test", "graph_create", "graph_neighbors", "dist_graph_create_adjacent",
                 "dist_graph_neighbors_count", "dist_graph_neighbors", "CART", "GRAPH", "DIST_GRAPH"],
    "neighbor": ["neighbor_allgather", "neighbor_alltoall", "neighbor_allgatherv", "neighbor_alltoallv"],
    "p2p": ["send", "recv", "sendrecv", "isend", "irecv", "ssend", "issend", "recv_status", "probe", "iprobe",
            "mprobe", "improbe", "mrecv", "imrecv", "send_init", "recv_init",
            "ANY_SOURCE", "ANY_TAG", "PROC_NULL", "UNDEFINED"],
    "requests": ["RequestType", "request_array", "wait", "waitall", "waitany", "test", "testall", "testany",
                 "start", "startall", "cancel", "request_free"],
    "status": ["get_count", "StatusType", "status_type"],
    "collectives": ["barrier", "bcast", "scatter", "gather", "allgather", "scatterv", "gatherv", "allgatherv",
                    "alltoall", "alltoallv"],
    "nonblocking": ["ibarrier", "ibcast", "igather", "iscatter", "iallgather", "ialltoall", "igatherv", "iscatterv",
                    "iallgatherv", "ialltoallv"],
    "ireductions": ["ireduce", "iallreduce", "iscan", "iexscan", "ireduce_scatter_block"],
    "reductions": ["allreduce", "reduce", "scan", "exscan", "reduce_scatter_block", "reduce_scatter"],
    "_buffers": ["IN_PLACE"],
    "operators": ["Operator"],
    "environment": ["initialized", "query_thread", "wtime", "error_class", "error_string",
                    "THREAD_SINGLE", "THREAD_FUNNELED", "THREAD_SERIALIZED", "THREAD_MULTIPLE",
                    *_names_only.ERROR_CLASSES],
    "window": ["WinType", "win_create", "win_allocate", "win_allocate_shared", "win_shared_query", "win_free",
               "win_fence", "win_lock", "win_unlock", "win_lock_all", "win_unlock_all", "win_flush",
               "win_flush_all", "win_flush_local", "win_flush_local_all", "win_sync", "win_to_mpi4py",
               "LOCK_EXCLUSIVE", "LOCK_SHARED", "MODE_NOCHECK", "MODE_NOSTORE", "MODE_NOPUT",
               "MODE_NOPRECEDE", "MODE_NOSUCCEED"],
    "rma": ["put", "get", "accumulate", "get_accumulate", "fetch_and_op", "compare_and_swap"],
    "datatypes": ["SUPPORTED_DTYPES", "pair_dtype", "datatype_cache_info"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["set_thread_level", "THREAD_LEVELS", "__version__", *_MODULE_OF]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mpi4numba' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    importlib.import_module(f"{__name__}.comm")  # the Numba typing of mpi4py communicators
    # The first use of a name may be as a global of a function Numba is compiling
    # (``mpi.COMM_SELF``): lowerings registered by the imports must reach that compiler.
    cpu_target.target_context.refresh()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
