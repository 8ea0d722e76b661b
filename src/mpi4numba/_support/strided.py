"""How a strided array crosses MPI: packed into contiguous scratch, or described by a datatype.

A derived datatype moves a strided array without a copy in mpi4numba, but the MPI library
then walks the layout itself, and some libraries do that slowly for small blocks: on the
MPICH wheel a column of a C-ordered array (one element per block) costs 30x a copy into
a contiguous buffer. So each transfer of a strided array of numbers chooses, at run time
from its layout:

* ``pack``: the elements are copied in C order into scratch memory of the process (a pool
  of growable blocks: :mod:`mpi4numba._core.packing`), MPI moves the scratch, and a
  receive copies back the elements that arrived;
* ``datatype``: MPI is given the array itself and a cached derived datatype.

The mode (``MPI4NUMBA_STRIDED=auto|pack|datatype``, or ``mpi4numba.set_strided`` at run
time) decides. ``auto`` looks the layout up in a table measured for the MPI library in
use (:data:`BUILT_IN`, or one calibrated on the machine by ``python -m mpi4numba.bench
calibrate --save``): by the length of the innermost contiguous run of the layout and the
size of the array, whichever was faster there. Structured dtypes, arrays larger than
``max_bytes`` (scratch would cost more memory than it saves time), persistent requests and
one-sided operations always use a datatype; non-blocking calls keep their scratch until
their request completes (:mod:`mpi4numba._support.deferred`).
"""

from __future__ import annotations

import functools
import json
import os

import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable

from .._core import capi
from .._core import packing as pool
from .._core.launchers import library_flavour
from .._core.runtime import ABI, MPI
from .._core.scratch import scratch_array
from .datatypes import block_datatype, buffer, element_base

MODES = {"auto": pool.AUTO, "pack": pool.PACK, "datatype": pool.DATATYPE}
MAX_BYTES = 64 << 20
_TRUNCATE = ABI.ERROR_CLASSES["ERR_TRUNCATE"]
TABLE_ENV = "MPI4NUMBA_STRIDED_TABLE"

# ``auto``'s tables, per MPI library, measured with ``python -m mpi4numba.bench calibrate``
# (docs/guide/performance.md): one string per size of the contiguous runs of a layout (8,
# 16, ... 4096 bytes and longer), one character per size of the array (512 bytes or less,
# 1 KiB, ... 16 MiB and more, each up to the next power of two): "P" packs, "." gives MPI
# a derived datatype; "p" packs only an array of exactly that power of two bytes, "d"
# packs all but that one (MPI libraries switch protocols at powers of two: the MPICH
# wheel moves exactly 8 KiB of single elements 40 times slower, 8 KiB + 8 no slower).
# Measured on the project's 2-core machine, 2 processes on one node, funneled, with
# ``calibrate --repeat 7`` (one run each; a cell within 5% either way is a coin toss).
BUILT_IN: dict[str, list[str]] = {
    "MPICH": [  # the MPICH 5.0.2 wheel
        "p...p...........",
        "P...PPPPPPPPPPPP",
        "dp..PPPPPPPPPPPP",
        "Pp..PPPPPPPPPPPP",
        "d...PPPPPPPPPppp",
        "d...PPPPPPPPP...",
        "....PPPPPPpPd...",
        "...........dP...",
        "................",
        "................",
    ],
    "Open MPI": [  # the Open MPI 5.0.11 wheel
        "dPP.............",
        "PPPdPPPPPp......",
        "..PPPpPPPp......",
        "PPPPPPPPPp......",
        "PPPPPPPPPp......",
        "p.dPPPPp........",
        "..PPPPp.........",
        ".............ddd",
        "................",
        "................",
    ],
    "Intel MPI": [  # the impi-rt 2021.18 wheel, I_MPI_FABRICS=shm
        "PPPPPPPPPPPPPPPP",
        "PPPPPPPPPPPPPPPP",
        "PP.dPPPPPdPPPPPP",
        "PP..............",
        "PPp..d..........",
        "P...............",
        ".p..............",
        "................",
        "................",
        "................",
    ],
}
_NO_TABLE = ["." * pool.SIZE_BUCKETS] * pool.RUN_BUCKETS
_INSIDE, _EDGE = "Pd", "Pp"  # the characters that pack between powers of two, at one


def table_words(rows: list[str]) -> list[int]:
    """The settings words of a table of strings (see :data:`BUILT_IN`): those for sizes
    between powers of two, then those for powers of two."""
    if len(rows) != pool.RUN_BUCKETS or any(len(row) != pool.SIZE_BUCKETS or set(row) - set("P.pd") for row in rows):
        raise ValueError(
            f"mpi4numba: a strided table has {pool.RUN_BUCKETS} rows of {pool.SIZE_BUCKETS} characters "
            "'P', '.', 'p' or 'd'"
        )
    return [sum(1 << t for t, c in enumerate(row) if c in chars) for chars in (_INSIDE, _EDGE) for row in rows]


def table_rows(words: list[int]) -> list[str]:
    inside, edge = words[: pool.RUN_BUCKETS], words[pool.RUN_BUCKETS :]
    cells = {(True, True): "P", (False, False): ".", (False, True): "p", (True, False): "d"}
    return [
        "".join(cells[bool(i >> t & 1), bool(e >> t & 1)] for t in range(pool.SIZE_BUCKETS))
        for i, e in zip(inside, edge)
    ]


def running_library() -> tuple[str, str]:
    flavour = library_flavour(MPI.Get_library_version())
    return flavour.vendor, flavour.version


def calibration_file(vendor: str, version: str) -> str:
    """Where ``bench calibrate --save`` keeps the table of this MPI library (and where it is
    read at start-up): ``$MPI4NUMBA_STRIDED_TABLE``, else the user's cache directory."""
    if os.environ.get(TABLE_ENV):
        return os.environ[TABLE_ENV]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = "".join(c if c.isalnum() or c in ".-" else "_" for c in f"{vendor}-{version}")
    return os.path.join(cache, "mpi4numba", f"strided-{name}.json")


_source = ""


def settings() -> dict[str, object]:
    """The strided-transfer settings in force: ``mode``, ``max_bytes`` (the largest array
    packed), auto's ``table`` (see :data:`BUILT_IN`) and where it came from (``source``)."""
    words = [int(w) for w in pool.SETTINGS[pool.TABLE :]]
    mode = next(name for name, value in MODES.items() if value == pool.SETTINGS[pool.MODE])
    return {
        "mode": mode,
        "max_bytes": int(pool.SETTINGS[pool.MAX_BYTES]),
        "table": table_rows(words),
        "source": _source,
    }


def configure(mode: str | None = None, table: list[str] | None = None, source: str = "") -> str:
    """Set the mode (and ``auto``'s table), returning the previous mode."""
    global _source
    previous = str(settings()["mode"])
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mpi4numba: the strided mode must be one of {', '.join(MODES)}, not {mode!r}")
        pool.SETTINGS[pool.MODE] = MODES[mode]
    if table is not None:
        pool.SETTINGS[pool.TABLE :] = table_words(table)
        _source = source
    return previous


def _load_table(vendor: str, version: str) -> tuple[list[str], str]:
    """auto's table for this library: a calibrated one if its file exists, else the built-in one."""
    path = calibration_file(vendor, version)
    if os.path.exists(path):
        try:
            with open(path) as file:
                saved = json.load(file)
            rows = saved["table"]
            table_words(rows)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"mpi4numba: cannot read the strided table {path}: {exc}") from None
        return rows, f"calibrated ({path})"
    if vendor in BUILT_IN:
        return BUILT_IN[vendor], f"built in for {vendor}"
    return _NO_TABLE, f"none for {vendor or 'this MPI library'}: derived datatypes"


def _from_environment() -> None:
    pool.SETTINGS[pool.MAX_BYTES] = MAX_BYTES
    mode = os.environ.get("MPI4NUMBA_STRIDED", "").strip().lower() or "auto"
    try:
        configure(mode, *_load_table(*running_library()))
    except ValueError as exc:
        raise ValueError(f"{exc} (from MPI4NUMBA_STRIDED or {TABLE_ENV})") from None


_from_environment()


def packable(dtype: types.Type) -> bool:
    """Whether elements of ``dtype`` can be packed (numbers and booleans; a structured dtype
    keeps its struct datatype)."""
    return isinstance(dtype, (types.Number, types.Boolean))


@register_jitable
def _innermost_run(shape, strides, itemsize):
    """Bytes of the longest run of elements contiguous in memory at the end of the layout."""
    run = itemsize
    for axis in range(len(shape) - 1, -1, -1):
        if shape[axis] != 1 and strides[axis] != run:
            break
        run *= shape[axis]
    return run


@register_jitable
def _bucket(value, smallest_log2, buckets):
    return min(max(pool.log2_floor(value) - smallest_log2, 0), buckets - 1)


@register_jitable
def packs(array):
    """Whether a transfer of the strided ``array`` packs it, under the settings in force."""
    mode = pool.setting(pool.MODE)
    nbytes = array.size * array.itemsize
    if mode == pool.DATATYPE or nbytes > pool.setting(pool.MAX_BYTES):
        return False
    if mode == pool.PACK:
        return True
    run = _bucket(_innermost_run(array.shape, array.strides, array.itemsize), 3, pool.RUN_BUCKETS)
    table = pool.EDGES if nbytes & (nbytes - 1) == 0 else pool.TABLE
    return (pool.setting(table + run) >> _bucket(nbytes, 9, pool.SIZE_BUCKETS)) & 1 == 1


NO_MEMORY = -2  # the block of scratch that could not be allocated: the caller raises MemoryError


@register_jitable
def claim_scratch(nbytes):
    """``(block, address)`` of scratch for ``nbytes``: a pool block, or (all busy) a block
    of its own (``block == BLOCKS``); address 0 if memory ran out."""
    for block in range(pool.BLOCKS):
        if pool.claim_block(block):
            address = pool.block_word(block, pool.ADDRESS)
            if pool.block_word(block, pool.CAPACITY) < nbytes:
                capacity = max(nbytes, 2 * pool.block_word(block, pool.CAPACITY), 4096)
                pool.c_free(address)
                address = pool.c_malloc(capacity)
                pool.set_block(block, address, capacity if address != 0 else 0)
            if address == 0:
                pool.free_block(block)
            return block, address
    return pool.BLOCKS, pool.c_malloc(nbytes)


@register_jitable
def give_back(block, address):
    """Return the scratch of :func:`claim_scratch` (nothing for ``block < 0``: no scratch)."""
    if block == pool.BLOCKS:
        pool.c_free(address)
    elif block >= 0:
        pool.free_block(block)


def _copy_loops(ndim: int, into_flat: bool) -> str:
    """The source of ``copy(array, flat, count)``: the first ``count`` elements of ``array``
    in C order to (or from) the 1-D ``flat``, one loop per axis; the innermost loop has no
    test of its own (whole rows, then the part of one)."""
    names = [f"i{axis}" for axis in range(ndim - 1)]
    index = "".join(f"{name}, " for name in names)
    element = f"array[{index}j]"
    lines = ["def copy(array, flat, count):", f"    row = array.shape[{ndim - 1}]", "    k = 0"]
    for axis, name in enumerate(names):
        lines.append(f"{'    ' * (axis + 1)}for {name} in range(array.shape[{axis}]):")
    inner = "    " * ndim
    lines.append(f"{inner}n = min(row, count - k)")
    lines.append(f"{inner}for j in range(n):")
    lines.append(f"{inner}    {'flat[k + j] = ' + element if into_flat else element + ' = flat[k + j]'}")
    lines.append(f"{inner}k += n")
    lines.append(f"{inner}if k == count:")
    lines.append(f"{inner}    return")
    return "\n".join(lines)


@functools.cache
def _copier(ndim: int, into_flat: bool):
    namespace: dict = {}
    exec(_copy_loops(ndim, into_flat), namespace)
    return namespace["copy"]


def pack(array, flat, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


def unpack(array, flat, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(pack)
def _pack_impl(array, flat, count):
    """The first ``count`` elements of ``array`` (C order) into ``flat``."""
    return _copier(array.ndim, True)


@overload(unpack)
def _unpack_impl(array, flat, count):
    """The first ``count`` elements of ``flat`` into ``array`` (C order)."""
    return _copier(array.ndim, False)


@register_jitable
def strided_view(array, fill):
    """``(address, count, datatype, derived, block)`` of a strided ``array`` as MPI moves it:
    packed into scratch (``block >= 0``; its elements copied there if ``fill``, the send
    side) or described by a datatype (``block == -1``)."""
    if array.size > 0 and not array.flags.c_contiguous and packs(array):
        base, _, per_element = element_base(array)
        block, address = claim_scratch(array.size * array.itemsize)
        if address != 0:
            if fill:
                pack(array, scratch_array(address, array.size, array), array.size)
            return np.uint64(address), array.size * per_element, base, False, block
    address, count, datatype, derived = buffer(array)
    return address, count, datatype, derived, -1


@register_jitable
def unpack_received(array, address, block, code, status, datatype):
    """After a receive into :func:`strided_view`'s scratch (``block >= 0``), the elements that
    arrived go into ``array``: on success as many as the status counts, on truncation all
    that fitted (what MPI does with a datatype)."""
    if block < 0:
        return
    count = 0
    if code == 0:
        _, received = capi.MPI_Get_count(status, datatype)
        count = min(max(received, 0), array.size)
    elif capi.MPI_Error_class(code)[1] == _TRUNCATE:
        count = array.size
    unpack(array, scratch_array(address, array.size, array), count)


@register_jitable
def unpack_all(array, address, block, count, wanted):
    """After a receive of a message of known size (``count`` elements: ``bcast``, a block of
    ``scatter``) into scratch, they go into ``array`` if ``wanted`` (the receive succeeded
    and this process received)."""
    if block >= 0 and wanted:
        unpack(array, scratch_array(address, count, array), count)


@register_jitable
def block_view(array, elements, granularity, fill):
    """``(address, count, datatype, derived, block)`` of the first ``elements`` elements of
    ``array`` (a collective's own buffer), ``count`` being MPI units of ``granularity``
    elements: packed into scratch (``block >= 0``, filled if ``fill``) where the settings
    say so or the layout has no regular blocks, else a datatype of the array itself."""
    base, _, per_element = element_base(array)
    if elements == 0 or array.flags.c_contiguous:
        return np.uint64(array.ctypes.data), granularity * per_element, base, False, -1
    whole = elements == array.size and granularity == elements
    units = 0
    if not whole and not packs(array):
        datatype, derived, units, _ = block_datatype(array, granularity)
        if units > 0:
            return np.uint64(array.ctypes.data), granularity // units, datatype, derived, -1
    if whole and not packs(array):
        address, count, datatype, derived = buffer(array)
        return address, count, datatype, derived, -1
    block, address = claim_scratch(elements * array.itemsize)
    if address == 0:  # the routine raises MemoryError, naming itself
        return np.uint64(0), 0, base, False, NO_MEMORY
    if fill:
        pack(array, scratch_array(address, elements, array), elements)
    return np.uint64(address), granularity * per_element, base, False, block


@register_jitable
def c_order(array):
    """``(address, block)`` of the elements of ``array`` in C order, for a call that takes
    C-ordered memory only (reductions: MPI's operators take predefined datatypes;
    neighbourhood collectives): its own memory if C-contiguous (``block == -1``), else a copy
    in pool scratch, which :func:`from_c_order` gives back."""
    if array.size == 0 or array.flags.c_contiguous:
        return np.uint64(array.ctypes.data), -1
    block, address = claim_scratch(array.size * array.itemsize)
    if address == 0:  # the routine raises MemoryError, naming itself
        return np.uint64(0), NO_MEMORY
    pack(array, scratch_array(address, array.size, array), array.size)
    return np.uint64(address), block


@register_jitable
def from_c_order(array, address, block, count):
    """After the call, the first ``count`` elements of :func:`c_order`'s copy go into
    ``array`` (none for a buffer only sent: ``count == 0``), and the scratch is given back."""
    if block >= 0:
        unpack(array, scratch_array(address, array.size, array), min(count, array.size))
        give_back(block, address)
