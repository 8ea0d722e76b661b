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

The mode (``MPI4NUMBA_STRIDED=auto|pack|datatype``, or :func:`set_strided` at run time)
decides; ``auto`` packs where the innermost contiguous run of the layout is at most
``block_bytes`` long (per MPI library, measured: :data:`PACK_BELOW`; overridden by
``MPI4NUMBA_PACK_BELOW``). Structured dtypes, arrays larger than ``max_bytes`` (scratch
would cost more memory than it saves time) and the routines where MPI keeps the buffer
after the call (receives and persistent requests of non-blocking calls, one-sided
operations) always use a datatype.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable

from .._core import capi
from .._core import packing as pool
from .._core.launchers import library_flavour
from .._core.runtime import ABI, MPI
from .datatypes import block_datatype, buffer, element_base

MODES = {"auto": pool.AUTO, "pack": pool.PACK, "datatype": pool.DATATYPE}

# The longest contiguous run (bytes) that ``auto`` still packs, per MPI library: the
# largest block size at which packing was faster on every count measured with
# ``python -m mpi4numba.bench strided --calibrate`` (docs/performance.md has the tables).
PACK_BELOW = {"MPICH": 512, "Open MPI": 64, "Intel MPI": 512}
DEFAULT_PACK_BELOW = 64
MAX_BYTES = 64 << 20
_TRUNCATE = ABI.ERROR_CLASSES["ERR_TRUNCATE"]


def _library() -> str:
    return library_flavour(MPI.Get_library_version()).vendor


def settings() -> dict[str, int | str]:
    """The strided-transfer settings in force: ``mode``, ``block_bytes`` (the longest
    contiguous run ``auto`` packs), ``max_bytes`` (the largest array packed)."""
    mode = next(name for name, value in MODES.items() if value == pool.SETTINGS[pool.MODE])
    return {
        "mode": mode,
        "block_bytes": int(pool.SETTINGS[pool.BLOCK_BYTES]),
        "max_bytes": int(pool.SETTINGS[pool.MAX_BYTES]),
    }


def configure(mode: str | None = None, block_bytes: int | None = None) -> str:
    """Set the mode (and ``auto``'s block size), returning the previous mode."""
    previous = str(settings()["mode"])
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mpi4numba: the strided mode must be one of {', '.join(MODES)}, not {mode!r}")
        pool.SETTINGS[pool.MODE] = MODES[mode]
    if block_bytes is not None:
        if int(block_bytes) < 0:
            raise ValueError(f"mpi4numba: the block size packed must not be negative, got {block_bytes}")
        pool.SETTINGS[pool.BLOCK_BYTES] = int(block_bytes)
    return previous


def _from_environment() -> None:
    pool.SETTINGS[pool.MAX_BYTES] = MAX_BYTES
    pool.SETTINGS[pool.BLOCK_BYTES] = PACK_BELOW.get(_library(), DEFAULT_PACK_BELOW)
    mode = os.environ.get("MPI4NUMBA_STRIDED", "").strip().lower() or "auto"
    below = os.environ.get("MPI4NUMBA_PACK_BELOW", "").strip()
    try:
        configure(mode, int(below) if below else None)
    except ValueError as exc:
        raise ValueError(f"{exc} (from MPI4NUMBA_STRIDED / MPI4NUMBA_PACK_BELOW)") from None


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
def packs(array):
    """Whether a transfer of the strided ``array`` packs it, under the settings in force."""
    mode = pool.setting(pool.MODE)
    if mode == pool.DATATYPE or array.size * array.itemsize > pool.setting(pool.MAX_BYTES):
        return False
    return mode == pool.PACK or _innermost_run(array.shape, array.strides, array.itemsize) <= pool.setting(
        pool.BLOCK_BYTES
    )


@register_jitable
def _claim(nbytes):
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
    """Return the scratch of :func:`_claim` (nothing for ``block < 0``: no scratch)."""
    if block == pool.BLOCKS:
        pool.c_free(address)
    elif block >= 0:
        pool.free_block(block)


def _copy_loops(ndim: int, into_flat: bool) -> str:
    """The source of ``copy(array, flat, count)``: the first ``count`` elements of ``array``
    in C order to (or from) the 1-D ``flat``, one loop per axis."""
    names = [f"i{axis}" for axis in range(ndim)]
    lines = ["def copy(array, flat, count):", "    k = 0"]
    for axis, name in enumerate(names):
        lines.append(f"{'    ' * (axis + 1)}for {name} in range(array.shape[{axis}]):")
    inner = "    " * (ndim + 1)
    index = ", ".join(names)
    lines.append(f"{inner}if k == count:")
    lines.append(f"{inner}    return")
    lines.append(f"{inner}{'flat[k] = array[' + index + ']' if into_flat else 'array[' + index + '] = flat[k]'}")
    lines.append(f"{inner}k += 1")
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
        block, address = _claim(array.size * array.itemsize)
        if address != 0:
            if fill:
                pack(array, pool.scratch_array(address, array.size, array), array.size)
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
    unpack(array, pool.scratch_array(address, array.size, array), count)


@register_jitable
def unpack_all(array, address, block, count, wanted):
    """After a receive of a message of known size (``count`` elements: ``bcast``, a block of
    ``scatter``) into scratch, they go into ``array`` if ``wanted`` (the receive succeeded
    and this process received)."""
    if block >= 0 and wanted:
        unpack(array, pool.scratch_array(address, count, array), count)


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
    block, address = _claim(elements * array.itemsize)
    if address == 0:
        raise MemoryError("mpi4numba: no memory to pack a strided buffer")
    if fill:
        pack(array, pool.scratch_array(address, elements, array), elements)
    return np.uint64(address), granularity * per_element, base, False, block


@register_jitable
def packed_copy(array):
    """``(copy, address, count, datatype, derived)`` of a strided ``array`` sent by a
    non-blocking call: packed into a new array that the request keeps alive, or (empty
    copy) described by a datatype."""
    if array.size > 0 and not array.flags.c_contiguous and packs(array):
        copy = np.empty(array.size, array.dtype)
        pack(array, copy, array.size)
        base, _, per_element = element_base(array)
        return copy, np.uint64(copy.ctypes.data), array.size * per_element, base, False
    address, count, datatype, derived = buffer(array)
    return np.empty(0, array.dtype), address, count, datatype, derived
