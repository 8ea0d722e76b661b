"""The cache key of compiled code: mpi4numba's sources, the MPI ABI and the count width.

Numba invalidates a cached function when its own file changes, not when the mpi4numba
code compiled into it does, nor when another MPI library runs it. Every lowering that
emits MPI code calls :func:`guard_cache`; the cache entries of such code carry
:data:`CACHE_TAG` and are checked by :func:`restore` before they are loaded
(``mpi4numba._core.cacheguard``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from collections.abc import Callable
from typing import Any

from .cacheguard import CacheABIMismatch, mark, note_restored
from .runtime import ABI, LARGE_COUNT, LIBMPI

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Code that never ends up in a user's compiled function: the benchmarks (their own njit
# functions are Numba's to invalidate, by their files) and the command-line tools. Editing
# them must not throw away every user's cache.
NOT_COMPILED_IN = ("bench", "_tools", "__main__.py")


def source_digest(package: str = PACKAGE) -> str:
    """A digest of the library's sources that compiled code can contain: every ``.py`` file
    below ``package`` (the layers' subfolders too) but those of :data:`NOT_COMPILED_IN`.
    Numba invalidates a cached function when its file changes, not when the mpi4numba code
    compiled into it does, so the tag carries it."""
    digest = hashlib.blake2b(digest_size=4)
    for folder, subfolders, files in os.walk(package):
        # walked in a fixed order (sorted in place), past the folders left out
        subfolders[:] = sorted(name for name in subfolders if folder != package or name not in NOT_COMPILED_IN)
        for name in sorted(files):
            if name.endswith(".py") and not (folder == package and name in NOT_COMPILED_IN):
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


# What cache entries written by mpi4numba 0.1 before guarded entries hold (Numba ran it as a
# reload function): kept so that such entries are refused, and recompiled, like any other tag.
cache_guard = functools.partial(_check_cache_tag, CACHE_TAG)


def restore(tag: str, loaders: tuple[Callable[[], None], ...], payload: bytes) -> Any:
    """Unpickle a guarded cache entry (see ``cacheguard.Guarded``): refuse another tag, then
    export the tables the code needs to the JIT linker, then unpickle Numba's own data."""
    _check_cache_tag(tag)
    for loader in loaders:
        loader()
    note_restored(loaders)
    return pickle.loads(payload)


def guard_cache(context: Any, builder: Any, *loaders: Callable[[], None]) -> None:
    """The function being compiled in ``context`` emits MPI code (``builder``): its cache
    entry is checked against this process's tag, and ``loaders`` run before it loads."""
    mark(context, builder, *loaders)
