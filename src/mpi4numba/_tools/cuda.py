"""Whether the MPI library is CUDA-aware, asked of the library itself through
``MPIX_Query_cuda_support`` (MPICH and Open MPI export it when built with CUDA); a library
without that routine gives ``unknown``.
"""

from __future__ import annotations

import ctypes


def cuda_support(libmpi: str | None) -> tuple[str, str]:
    """("yes"/"no"/"unknown", how it was found) from ``MPIX_Query_cuda_support`` if the library has it."""
    if not libmpi:
        return "unknown", "the MPI library was not found"
    try:
        library = ctypes.CDLL(libmpi)  # the file already loaded: the loader hands back that copy
        query = library.MPIX_Query_cuda_support
    except (OSError, AttributeError):
        return "unknown", "the library has no MPIX_Query_cuda_support"
    query.restype, query.argtypes = ctypes.c_int, []
    value = query()
    return ("yes" if value else "no"), f"MPIX_Query_cuda_support() = {value}"
