"""Messages of more than 2**31 - 1 elements on libraries without MPI-4 large-count routines.

Where the library has them (MPICH >= 4), routines whose prototype says ``bigcount`` call
the ``_c`` variant with a 64-bit count (see :mod:`mpi4numba._core.ccall`) and nothing here is
used. Elsewhere (Open MPI 5) a count above ``INT_MAX`` is described by one derived
datatype, so the call sends ``1`` of it:

    struct { contiguous(q, contiguous(CHUNK, base)); contiguous(r, base) }

with ``count = q * CHUNK + r``. Reductions cannot apply a predefined operator to such a
type, so they run in slices of at most ``INT_MAX`` elements instead (:func:`slices`).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from .._core import capi
from .._core.handles import HANDLE_DTYPE
from .._core.runtime import LARGE_COUNT

INT_MAX = 2**31 - 1
CHUNK = 2**30
NEEDS_FALLBACK = not LARGE_COUNT


@register_jitable  # out of line: only messages above 2**31 - 1 elements come here
def large_datatype(base, count, chunk=CHUNK):
    """A committed datatype covering ``count`` consecutive ``base`` elements (free it after use)."""
    quotient, remainder = divmod(count, chunk)
    code, block = capi.MPI_Type_contiguous(chunk, base)
    if code == 0:
        code, blocks = capi.MPI_Type_contiguous(quotient, block)
        capi.MPI_Type_free(block)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not build a datatype for a large message")
    whole = blocks
    if remainder != 0:
        code, tail = capi.MPI_Type_contiguous(remainder, base)
        code_extent, lower, extent = capi.MPI_Type_get_extent(base)
        lengths = np.ones(2, np.int32)
        displacements = np.array([0, quotient * chunk * extent], np.int64)
        parts = np.empty(2, HANDLE_DTYPE)
        parts[0] = blocks
        parts[1] = tail
        if code == 0 and code_extent == 0:
            code, whole = capi.MPI_Type_create_struct(2, lengths, displacements, parts)
        capi.MPI_Type_free(blocks)
        capi.MPI_Type_free(tail)
        if code != 0 or code_extent != 0:
            raise RuntimeError("mpi4numba: MPI could not build a datatype for a large message")
    code, whole = capi.MPI_Type_commit(whole)
    if code != 0:
        raise RuntimeError("mpi4numba: MPI could not commit a datatype for a large message")
    return whole


@register_jitable
def slices(count):
    """Number of slices of at most ``INT_MAX`` elements a reduction of ``count`` runs in
    (1 wherever the library takes 64-bit counts)."""
    if NEEDS_FALLBACK and count > INT_MAX:
        return (count + INT_MAX - 1) // INT_MAX
    return 1
