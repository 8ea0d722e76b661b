"""The cache key of compiled code: mpi4numba's sources, the MPI ABI and the count width.

Numba invalidates a cached function when its own file changes, not when the mpi4numba
code compiled into it does, nor when another MPI library runs it. Every compiled MPI call
registers :data:`cache_guard`, which compares the tag the code was compiled for with this
process's :data:`CACHE_TAG` before the code is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import os

from .numbacache import CacheABIMismatch
from .runtime import ABI, LARGE_COUNT, LIBMPI

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def source_digest(package: str = PACKAGE) -> str:
    """A digest of the library's own sources, every ``.py`` file below ``package`` (the
    layers' subfolders too): Numba invalidates a cached function when its file changes,
    not when the mpi4numba code compiled into it does, so the tag carries it."""
    digest = hashlib.blake2b(digest_size=4)
    for folder, _, files in sorted(os.walk(package)):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, "rb") as source:
                    digest.update(os.path.relpath(path, package).encode() + b"\0" + source.read())
    return digest.hexdigest()


CACHE_TAG = (
    f"mpi4numba-0.1+{source_digest()}/{ABI.NAME}/h{ABI.HANDLE_BYTES}/s{ABI.STATUS_BYTES}/c{64 if LARGE_COUNT else 32}"
)


def _check_cache_tag(tag: str) -> None:
    if tag != CACHE_TAG:
        raise CacheABIMismatch(
            f"cached code was compiled for {tag!r} but this process runs {CACHE_TAG!r} (library {LIBMPI})"
        )


# Numba runs it before loading a function from its cache, so stale machine code for
# another MPI is never executed (mpi4numba._core.numbacache recompiles instead).
cache_guard = functools.partial(_check_cache_tag, CACHE_TAG)


def guard_cache(context) -> None:
    """Make the function being compiled in ``context`` check the tag when it is loaded
    from Numba's cache: every code path that calls MPI or reads its handles does this."""
    context.active_code_library._reload_init.add(cache_guard)
