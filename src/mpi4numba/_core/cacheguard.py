"""Which compiled code needs the cache guard, and the guarded form of its cache entry.

Machine code that calls MPI is compiled for one MPI ABI (handle width, ``MPI_Status``
layout) and one mpi4numba. Every lowering that emits such code marks the code library it
emits into (:func:`mark`), with the functions that must run before that code is loaded
again (exporting mpi4numba's tables to the JIT linker). A library that links a marked one
inherits its marks (:func:`marks_of` walks the links when the entry is saved), and so does
a library rebuilt from a guarded entry.

When Numba saves a marked library (of an ``@njit``, ``cfunc``, ``vectorize`` or
``guvectorize`` function, any of them), the entry's data is wrapped in :class:`Guarded`:
its pickle calls ``mpi4numba._core.cachetag.restore`` with the tag of the process that
compiled it, which refuses code of another tag (``CacheABIMismatch``, recompiled by
``mpi4numba._core.numbacache``) before anything of it is rebuilt. This holds for every
Numba version and compile path, as it relies only on pickling. Code without MPI is saved
exactly as Numba saves it.

When Numba's cache cannot be patched (its internals changed, see
``mpi4numba._core.numbainternals``), nothing would wrap such an entry: :func:`mark` then
makes the code uncachable instead, through Numba's own rule that code holding a dynamic
global is never cached. The guard fails closed: recompiled each run, never loaded stale.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from llvmlite import ir

Loader = Callable[[], None]

_marks: weakref.WeakKeyDictionary[Any, frozenset[Loader]] = weakref.WeakKeyDictionary()
_marks_lock = threading.Lock()
# set by numbacache.install(): entries of marked code are then guarded when saved; if not,
# ``unguardable`` says why, and whether code that calls MPI can still be kept out of the cache
patched = False
unguardable: str | None = None
can_keep_out = True
_UNCACHABLE = "numba.dynamic.globals.mpi4numba.unguarded"


def mark(context: Any, builder: ir.IRBuilder, *loaders: Loader) -> None:
    """The code being emitted calls MPI: guard its cache entries, running ``loaders``
    before it is loaded (or keep it out of the cache when entries cannot be guarded)."""
    library = context.active_code_library
    with _marks_lock:
        _marks[library] = _marks.get(library, frozenset()) | frozenset(loaders)
    if not patched:
        if not can_keep_out:
            raise RuntimeError(
                f"mpi4numba cannot guard Numba's cache on this Numba version ({unguardable}), nor keep code "
                "that calls MPI out of it: this Numba version is not supported"
            )
        module = builder.module
        if _UNCACHABLE not in module.globals:
            flag = ir.GlobalVariable(module, ir.IntType(8), _UNCACHABLE)
            flag.linkage = "weak_odr"  # kept by the optimiser and by links, one per process
            flag.initializer = ir.Constant(ir.IntType(8), 0)


def mark_library(library: Any, loaders: frozenset[Loader]) -> None:
    with _marks_lock:
        _marks[library] = _marks.get(library, frozenset()) | loaders


def marks_of(library: Any) -> frozenset[Loader] | None:
    """The loaders of ``library`` and every library it links, or None if none is marked."""
    found: set[Loader] = set()
    marked = False
    seen: set[int] = set()
    pending = [library]
    with _marks_lock:
        while pending:
            current = pending.pop()
            if current is None or id(current) in seen:
                continue
            seen.add(id(current))
            loaders = _marks.get(current)
            if loaders is not None:
                marked = True
                found |= loaders
            pending.extend(getattr(current, "_linking_libraries", ()))
    return frozenset(found) if marked else None


def library_of(data: Any) -> Any:
    """The code library of what a cache saves (a compile result, or a library itself)."""
    return data if hasattr(data, "_linking_libraries") else getattr(data, "library", None)


def marks_of_entry(data: Any) -> frozenset[Loader] | None:
    """Loaders of a compile result or library about to be saved (with its lifted loops'),
    or None if it holds no MPI code."""
    found = marks_of(library_of(data))
    for lifted in getattr(data, "lifted", ()) or ():
        for overload in getattr(lifted, "overloads", {}).values():
            more = marks_of(getattr(overload, "library", None))
            if more is not None:
                found = (found or frozenset()) | more
    return found


class CacheABIMismatch(RuntimeError):
    """Code in Numba's cache was compiled for another MPI ABI or mpi4numba version."""


class Guarded:
    """A cache entry's data, checked against the running process when unpickled: its pickle
    calls ``restore(tag, loaders, payload)`` (``mpi4numba._core.cachetag.restore``), which
    raises :class:`CacheABIMismatch` for another tag before ``payload`` is unpickled."""

    def __init__(self, restore: Callable[..., Any], tag: str, loaders: frozenset[Loader], payload: bytes) -> None:
        self.restore, self.tag, self.payload = restore, tag, payload
        # in a fixed order: functions by name, callable objects (a routine's presence) by repr
        self.loaders = tuple(sorted(loaders, key=lambda f: (f.__module__, getattr(f, "__qualname__", repr(f)))))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.restore, (self.tag, self.loaders, self.payload)


_pending = threading.local()


def pending_loaders() -> frozenset[Loader] | None:
    return getattr(_pending, "loaders", None)


class saving:
    """While Numba saves ``data``: its loaders, for :func:`pending_loaders`."""

    def __init__(self, data: Any) -> None:
        self.loaders = marks_of_entry(data)

    def __enter__(self) -> None:
        self.previous = pending_loaders()
        _pending.loaders = self.loaders

    def __exit__(self, *exc: object) -> None:
        _pending.loaders = self.previous


# set by cachetag.restore while Numba unpickles a guarded entry, read by numbacache after
# the load to mark the rebuilt library
_restored = threading.local()


def note_restored(loaders: tuple[Loader, ...]) -> None:
    _restored.loaders = frozenset(loaders)


def take_restored() -> frozenset[Loader] | None:
    loaders = getattr(_restored, "loaders", None)
    _restored.loaders = None
    return loaders
