"""Start-up: initialise MPI through mpi4py, bind its library to Numba's JIT, guard the cache.

Imported once by every module that needs MPI. After import:

* ``MPI`` is mpi4py's module (MPI is initialised at the chosen thread level);
* ``ABI`` is the table of the running implementation (see :mod:`mpi4numba._abi`);
* ``LIBMPI`` is the path of the library mpi4py loaded, whose symbols are now visible to
  Numba's JIT linker, so compiled code refers to MPI functions by name.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os

import llvmlite.binding as llvm

from . import _abort, _initialize
from ._numbacache import CacheABIMismatch
from ._abi import select as _select_abi

_initialize.configure_mpi4py()
from mpi4py import MPI  # noqa: E402  (after the thread level is configured)

ABI = _select_abi(MPI)


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _find_libmpi() -> str:
    """Path of the shared object that provides ``MPI_Init`` to mpi4py's extension module."""
    extension = ctypes.CDLL(MPI.__file__)
    address = ctypes.cast(extension.MPI_Init, ctypes.c_void_p).value
    info = _DlInfo()
    if not ctypes.CDLL(None).dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        raise RuntimeError("mpi4numba could not locate the MPI library that mpi4py loaded")
    return os.fsdecode(info.dli_fname)


LIBMPI = _find_libmpi()
# Same file as mpi4py's, so the loader hands back the already-loaded copy; this only makes
# its symbols resolvable for the JIT (mpi4py opened it RTLD_LOCAL).
llvm.load_library_permanently(LIBMPI)

# MPI-4 large-count routines (``MPI_Send_c`` ...): MPICH >= 4 has them, Open MPI 5 does not.
LARGE_COUNT = bool(getattr(ABI, "LARGE_COUNT_ROUTINES", False) and llvm.address_of_symbol("MPI_Send_c"))


def _source_digest() -> str:
    """A digest of the library's own sources: Numba invalidates a cached function when its
    file changes, not when the mpi4numba code compiled into it does, so the tag carries it."""
    package = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.blake2b(digest_size=4)
    for folder, subfolders, files in sorted(os.walk(package)):
        subfolders.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, "rb") as source:
                    digest.update(os.path.relpath(path, package).encode() + b"\0" + source.read())
    return digest.hexdigest()


CACHE_TAG = (
    f"mpi4numba-0.1+{_source_digest()}/{ABI.NAME}/h{ABI.HANDLE_BYTES}/s{ABI.STATUS_BYTES}"
    f"/c{64 if LARGE_COUNT else 32}"
)


def _check_cache_tag(tag: str) -> None:
    if tag != CACHE_TAG:
        raise CacheABIMismatch(
            f"cached code was compiled for {tag!r} but this process runs {CACHE_TAG!r} "
            f"(library {LIBMPI})"
        )


# Registered by every compiled MPI call (see _ccall); Numba runs it before loading the
# function from its cache, so stale machine code for another MPI is never executed
# (mpi4numba._numbacache recompiles instead).
cache_guard = functools.partial(_check_cache_tag, CACHE_TAG)


_abort.register_exit_check()  # runs before mpi4py's MPI_Finalize (registered earlier)
