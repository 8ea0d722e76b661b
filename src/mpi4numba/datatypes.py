"""NumPy dtypes as MPI datatypes: which dtypes are supported, MINLOC/MAXLOC pairs, the cache.

Supported element types: int8-64, uint8-64, float32/64, complex64/128, bool, fixed-width
bytes (``S<n>``) and structured dtypes made of these (padding, nested records and
sub-array fields included). Any other dtype is a Numba typing error that names it.

A message holds an array's elements in C (row-major) index order. C-contiguous arrays
are passed as they are. Any other layout (a strided view, a Fortran-ordered block, a
negative step) is either described to MPI by a derived datatype built from its shape and
strides, so data is not copied, or, where the MPI library moves small blocks slowly
through datatypes, packed into contiguous scratch memory by the compiled call (blocking
and non-blocking point-to-point calls and collectives, arrays of numbers: see
:func:`set_strided`). Structured dtypes become ``MPI_Type_create_struct``
types resized to the itemsize; a two-field dtype laid out like the C struct
``{T value; int index;}`` (:func:`pair_dtype`) is MPI's predefined pair type
(``DOUBLE_INT`` ...), usable with MINLOC/MAXLOC. Derived types are built once per process
and kept in a cache (:func:`datatype_cache_info`).
"""

from __future__ import annotations

import numpy as np
from numba.np import numpy_support

from ._core import typecache
from ._support import strided as _strided
from ._support.dtypes import SUPPORTED_DTYPES, pair_type

__all__ = [
    "SUPPORTED_DTYPES",
    "pair_dtype",
    "datatype_cache_info",
    "set_strided",
    "strided",
    "strided_settings",
    "strided_table_file",
]


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


def set_strided(mode: str) -> str:
    """Choose how strided arrays of numbers cross MPI, from now on, in this process; returns
    the previous mode. ``mode``:

    * ``"auto"`` (the default): packed into contiguous scratch or described by a derived
      datatype, whichever a table measured for the MPI library in use says is faster for
      the layout (the length of its contiguous runs, the size of the array); see
      :func:`strided_settings` and ``python -m mpi4numba.bench calibrate``;
    * ``"pack"``: always packed (arrays up to 64 MiB);
    * ``"datatype"``: always a derived datatype (no copy in mpi4numba).

    Packing applies to blocking calls (send, recv, sendrecv, bcast, a process's own block
    in gather, scatter, allgather, alltoall and their v-forms) and to isend, issend, irecv
    and imrecv (the scratch lives until mpi4numba's wait/test routines see the request
    complete; a receive's elements are copied in then); persistent requests and one-sided
    calls keep a datatype (MPI uses the buffer at every start, or after the call returns).
    ``MPI4NUMBA_STRIDED=auto|pack|datatype`` sets it at start-up. Compiled code reads the
    setting at each call: nothing is recompiled.

    >>> import mpi4numba
    >>> previous = mpi4numba.set_strided("pack")
    >>> mpi4numba.strided()
    'pack'
    >>> mpi4numba.set_strided(previous)
    'pack'
    """
    return _strided.configure(mode)


def strided() -> str:
    """The mode in force for strided arrays: ``"auto"``, ``"pack"`` or ``"datatype"`` (see
    :func:`set_strided`).

    >>> import mpi4numba
    >>> mpi4numba.strided() in ("auto", "pack", "datatype")
    True
    """
    return str(_strided.settings()["mode"])


def strided_settings() -> dict[str, object]:
    """The settings for strided arrays: ``mode``, ``max_bytes`` (the largest array packed),
    ``auto``'s ``table`` and its ``source`` (built in for the MPI library, or calibrated on
    this machine). The table has a row per length of the contiguous runs of a layout (8,
    16, ... 4096 bytes and longer) and a character per size of the array (512 bytes or
    less, 1 KiB, ... 16 MiB and more): "P" packs, "." uses a derived datatype.

    >>> from mpi4numba.datatypes import strided_settings
    >>> sorted(strided_settings())
    ['max_bytes', 'mode', 'source', 'table']
    """
    return _strided.settings()


def strided_table_file() -> str:
    """Where a table of ``auto`` calibrated for the MPI library in use is kept, and read at
    start-up if it exists (``python -m mpi4numba.bench calibrate --save`` writes it):
    ``$MPI4NUMBA_STRIDED_TABLE``, else ``strided-<library>-<version>.json`` in
    ``~/.cache/mpi4numba/`` (``$XDG_CACHE_HOME``).

    >>> from mpi4numba.datatypes import strided_table_file
    >>> strided_table_file().endswith(".json")
    True
    """
    return _strided.calibration_file(*_strided.running_library())
