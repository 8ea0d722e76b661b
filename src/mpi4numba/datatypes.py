"""NumPy dtypes as MPI datatypes: which dtypes are supported, MINLOC/MAXLOC pairs, the cache.

Supported element types: int8-64, uint8-64, float32/64, complex64/128, bool, fixed-width
bytes (``S<n>``) and structured dtypes made of these (padding, nested records and
sub-array fields included). Any other dtype is a Numba typing error that names it.

A message holds an array's elements in C (row-major) index order. C-contiguous arrays
are passed as they are; any other layout (a strided view, a Fortran-ordered block, a
negative step) is described to MPI by a derived datatype built from its shape and
strides, so data is not copied. Structured dtypes become ``MPI_Type_create_struct``
types resized to the itemsize; a two-field dtype laid out like the C struct
``{T value; int index;}`` (:func:`pair_dtype`) is MPI's predefined pair type
(``DOUBLE_INT`` ...), usable with MINLOC/MAXLOC. Derived types are built once per process
and kept in a cache (:func:`datatype_cache_info`).
"""

from __future__ import annotations

import numpy as np
from numba.np import numpy_support

from ._core import typecache
from ._support.dtypes import SUPPORTED_DTYPES, pair_type

__all__ = ["SUPPORTED_DTYPES", "pair_dtype", "datatype_cache_info"]


def pair_dtype(value: np.dtype | type | str = np.float64) -> np.dtype:
    """The structured dtype of (value, index) pairs for MINLOC/MAXLOC: ``value`` (float32,
    float64, int16, int32 or int64) and an int32 ``index``, laid out like MPI's pair types.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.datatypes import pair_dtype
    >>> mine = np.zeros(1, pair_dtype(np.float64))
    >>> mine["value"], mine["index"] = 2.5, mpi4numba.rank()  # the same value everywhere
    >>> best = np.empty_like(mine)
    >>> mpi4numba.allreduce(mine, best, mpi4numba.Operator.MAXLOC), best.tolist()  # a tie: the lowest index
    (0, [(2.5, 0)])
    """
    dtype = np.dtype([("value", np.dtype(value)), ("index", np.int32)], align=True)
    if pair_type(numpy_support.from_dtype(dtype)) is None:
        raise ValueError(f"mpi4numba: MPI has no (value, index) pair type for {np.dtype(value)}")
    return dtype


def datatype_cache_info() -> dict[str, int]:
    """Counters of this process's cache of derived datatypes: ``hits`` (a cached type was
    reused), ``cached`` (types built and kept), ``uncached`` (built and freed per call, the
    table being full) and ``entries``.

    >>> from mpi4numba.datatypes import datatype_cache_info
    >>> sorted(datatype_cache_info())
    ['cached', 'entries', 'hits', 'uncached']
    """
    return typecache.cache_info()
