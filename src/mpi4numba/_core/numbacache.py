"""Numba's on-disk cache, shared safely by the ranks of a job.

Installed when mpi4numba is imported, for every cached function of the process (``@njit``,
``cfunc``, ``vectorize``, ``guvectorize``, with or without ``parallel=True``), mpi4numba's
or not, provided Numba's internals have the shape this module expects
(``mpi4numba._core.numbainternals``); otherwise nothing is patched, one warning names what
changed, and code that calls MPI is kept out of the cache (``mpi4numba._core.cacheguard``).

* **Compile once per node.** A process that misses the cache takes a lock named after the
  function's cache index and the signature (``mpi4numba._core.nodelock``). The first rank to
  take it compiles and writes the cache; the others wait for it, then load what it wrote.
  A process that already holds such a lock (a cached function compiled while compiling
  another) never waits: it compiles itself, so ranks that call functions in different
  orders cannot deadlock. A rank that waited and still misses (the function could not be
  cached) compiles without the lock. Locks are released when the entry is saved, and, if
  the compile raised, when the thread leaves Numba's compiler lock. None of this starts
  MPI: a holder that starts MPI while compiling (``MPI_Init`` waits for every rank) marks
  its locks first, and a rank waiting on a marked lock starts MPI too.
  ``MPI4NUMBA_COMPILE_ONCE=0`` turns this off.
* **Writes that never corrupt, a directory that stays clean.** Numba numbers data files
  1, 2 ... and writes the index before the data, so two processes saving different
  signatures (ranks on different nodes sharing a filesystem) could leave an index entry
  naming another signature's code. Here a data file is named by a tag of the source stamp
  and a hash of its key, and written (atomically) before the index entry that names it;
  the index is rewritten under a node lock. Data files compiled from another version of
  the source that no index names are then deleted; those of the current source never are
  (another node may be about to name one). A lost race between nodes loses an entry (a
  later miss, which rewrites the same file), never pairs a signature with the wrong code;
  the index is byte-for-byte reproducible, as Numba intends.
* **Never stale.** A guarded entry (code that calls MPI) compiled for another MPI ABI or
  another mpi4numba raises :class:`CacheABIMismatch` while it loads; it is recompiled with
  a warning instead of run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import threading
import warnings
from typing import Any

from numba.core import caching, compiler_lock, sigutils
from numba.core.errors import NumbaWarning

from . import cacheguard, nodelock, numbainternals
from .cacheguard import CacheABIMismatch

COMPILE_ONCE_ENV = "MPI4NUMBA_COMPILE_ONCE"
LOCK_DIR_ENV = nodelock.LOCK_DIR_ENV
WAIT_ENV = nodelock.WAIT_ENV

__all__ = ["CacheABIMismatch", "install", "state"]

stats = {"waited": 0, "compiled_holding_lock": 0, "fallbacks": 0, "joined_mpi_start": 0}
_problems: list[str] = []  # Numba internals that changed: nothing patched
_installed = False
_warned = False


class _Held:
    """Compile locks held by this process: (thread, cache, signature, lock)."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, Any, Any, nodelock.Lock]] = []
        self.mutex = threading.Lock()

    def add(self, cache: Any, sig: Any, lock: nodelock.Lock) -> None:
        with self.mutex:
            self.entries.append((threading.get_ident(), cache, sig, lock))

    def mine(self) -> bool:
        me = threading.get_ident()
        with self.mutex:
            return any(entry[0] == me for entry in self.entries)

    def take(self, cache: Any = None, sig: Any = None) -> list[nodelock.Lock]:
        """Remove and return this thread's locks (of ``cache`` and ``sig`` if given)."""
        me = threading.get_ident()
        with self.mutex:
            taken = [e for e in self.entries if e[0] == me and (cache is None or (e[1] is cache and e[2] == sig))]
            self.entries = [e for e in self.entries if not any(e is t for t in taken)]
        return [entry[3] for entry in taken]

    def locks(self) -> list[nodelock.Lock]:
        with self.mutex:
            return [entry[3] for entry in self.entries]


_held = _Held()


def enabled() -> bool:
    return _installed and os.environ.get(COMPILE_ONCE_ENV, "1") != "0"


def _tell(message: str) -> None:
    """A note about the cache, as a warning: recompiling is the remedy, so a program that
    turns warnings into errors (``python -We``) goes on without it."""
    with contextlib.suppress(NumbaWarning):
        warnings.warn(message, NumbaWarning, stacklevel=5)


def _fallback(reason: str) -> None:
    global _warned
    stats["fallbacks"] += 1
    if not _warned:
        _warned = True
        _tell(f"mpi4numba: ranks cannot coordinate Numba cache compiles ({reason}); each rank compiles for itself")


_noted_refusals = False


def _lock_directory() -> str | None:
    global _noted_refusals
    folder, refused = nodelock.directory()
    if folder is None:
        _fallback(f"no safe lock directory: {'; '.join(refused)}")
    elif refused and not _noted_refusals:
        _noted_refusals = True
        _tell(f"mpi4numba: {'; '.join(refused)}: Numba cache compile locks are in {folder} instead")
    return folder


def _lock(index_path: str, what: str, wait: bool) -> nodelock.Lock | None:
    folder = _lock_directory()
    if folder is None:
        return None
    path = nodelock.lock_path(folder, os.path.realpath(index_path), what)
    lock, waited = nodelock.acquire(path, wait, _fallback, on_mark=_join_mpi_start)
    if lock is None and wait and waited:
        _tell(
            f"mpi4numba: another process has compiled for over {nodelock.wait_limit():g} s (lock {path}); "
            "compiling here too"
        )
    return lock


def _join_mpi_start() -> None:
    """The process this one waits for is starting MPI, which waits for every rank."""
    stats["joined_mpi_start"] += 1
    from . import runtime  # noqa: F401  (starts MPI at this process's thread level)


def before_mpi_start() -> None:
    """MPI is about to start: tell the ranks waiting on this process's locks to start it too."""
    for lock in _held.locks():
        with contextlib.suppress(OSError):
            nodelock.mark_starting_mpi(lock)


def _same_signature(data: Any, sig: Any) -> bool:
    signature = getattr(data, "signature", None)
    if signature is None or not hasattr(signature, "args"):  # a code library (the gufunc wrapper cache)
        return True
    args, _ = sigutils.normalize_signature(sig)
    return tuple(signature.args) == tuple(args)


def _load_checked(cache: Any, sig: Any, target_context: Any, original: Any) -> Any:
    cacheguard.take_restored()
    try:
        data = original(cache, sig, target_context)
    except CacheABIMismatch as exc:
        _tell(f"mpi4numba: recompiling {cache._name}: {exc}")
        return None
    loaders = cacheguard.take_restored()
    if data is None:
        return None
    if not _same_signature(data, sig):
        _tell(f"mpi4numba: ignoring a cache entry of {cache._name} made for {data.signature}, not {sig}")
        return None
    if loaders is not None:  # code that links this one is guarded too
        cacheguard.mark_library(cacheguard.library_of(data), loaders)
    return data


def _patched_load(original: Any) -> Any:
    def load_overload(self, sig, target_context):
        data = _load_checked(self, sig, target_context, original)
        if data is not None or not self._enabled or not enabled():
            return data
        # one compiler per signature; waiting is only for a thread that holds no lock
        lock = _lock(self._cache_file._index_path, f"compile {sig}", wait=not _held.mine())
        if lock is None:
            return _load_checked(self, sig, target_context, original)  # another process may have written it
        data = _load_checked(self, sig, target_context, original)  # written while this process looked
        if data is not None or lock.waited:
            nodelock.release(lock)  # loaded, or not cachable: compile alongside the others
            if lock.waited:
                stats["waited"] += 1
            return data
        _held.add(self, sig, lock)  # this process compiles; save_overload releases
        stats["compiled_holding_lock"] += 1
        return None

    load_overload._mpi4numba = True  # type: ignore[attr-defined]
    return load_overload


def _patched_save(original: Any) -> Any:
    def save_overload(self, sig, data):
        try:
            with cacheguard.saving(data):
                original(self, sig, data)
        finally:
            for lock in _held.take(self, sig):
                nodelock.release(lock)

    save_overload._mpi4numba = True  # type: ignore[attr-defined]
    return save_overload


def _patched_release(original: Any) -> Any:
    def release(self):
        original(self)
        # every compile path loads and saves under Numba's compiler lock: a thread that left
        # it still holding a compile lock had a compile that raised, so it never saved
        if not self.is_locked() and _held.mine():
            for lock in _held.take():
                nodelock.release(lock)

    release._mpi4numba = True  # type: ignore[attr-defined]
    return release


_SOURCE_TAG_BYTES = 4
_NAME_DIGITS = 2 * (_SOURCE_TAG_BYTES + 8)


def _tag(cache_file: Any, obj: Any, size: int) -> str:
    return hashlib.blake2b(cache_file._dump(obj), digest_size=size).hexdigest()


def _data_name(cache_file: Any, key: Any) -> str:
    """``<base>.<source tag><key tag>.nbc``: the same key and source always get the same name,
    and the name tells which source version the code was compiled from."""
    stamp = cache_file._source_stamp
    digest = _tag(cache_file, stamp, _SOURCE_TAG_BYTES) + _tag(cache_file, (stamp, key), 8)
    return cache_file._data_name_pattern.replace("{number:d}", digest)


def _named_on_disk(cache_file: Any) -> set[str] | None:
    """The data files the index on disk names now, whatever its source stamp; None if
    unreadable (then nothing is deleted)."""
    try:
        with open(cache_file._index_path, "rb") as index:
            version = pickle.load(index)
            rest = index.read()
        if version != cache_file._version:
            return set()
        _, overloads = pickle.loads(rest)
        return set(overloads.values())
    except FileNotFoundError:
        return set()
    except Exception:  # a half-written or foreign index: keep every file
        return None


def _remove_superseded(cache_file: Any) -> None:
    """Delete the function's data files of other source versions that no index names.

    Files compiled from the current source are kept even when the index lost their entry
    (ranks on another node may be about to name them: each writes its data before its
    index entry); the next miss of that signature writes the same name again. Just before
    each deletion the index on disk is read again, so a file another process has named
    meanwhile stays."""
    prefix, suffix = cache_file._data_name_pattern.split("{number:d}")
    pattern = re.compile(re.escape(prefix) + "([0-9a-f]+)" + re.escape(suffix))
    current = _tag(cache_file, cache_file._source_stamp, _SOURCE_TAG_BYTES)
    try:
        names = os.listdir(os.path.dirname(cache_file._index_path))
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or (len(match.group(1)) == _NAME_DIGITS and match.group(1).startswith(current)):
            continue
        named = _named_on_disk(cache_file)
        if named is None or name in named:
            continue
        with contextlib.suppress(OSError):
            os.unlink(cache_file._data_path(name))


def _save_entry(self, key, data):
    """Data first, under a name derived from its key, then the index entry naming it."""
    loaders = cacheguard.pending_loaders()
    if loaders is not None:
        from . import cachetag  # MPI runs: this process compiled code that calls it

        data = cacheguard.Guarded(cachetag.restore, cachetag.CACHE_TAG, loaders, self._dump(data))
    name = _data_name(self, key)
    self._save_data(name, data)
    # the index is read and rewritten under a node lock (ranks of a node lose no entries)
    lock = _lock(self._index_path, "index", wait=True) if enabled() else None
    try:
        overloads = self._load_index()
        overloads[key] = name
        self._save_index(overloads)
        _remove_superseded(self)
    finally:
        if lock is not None:
            nodelock.release(lock)


def install() -> None:
    """Patch Numba's cache (once per process), if its internals are as expected."""
    global _installed
    if _installed or _problems:
        return
    problems = numbainternals.problems()
    if problems:
        _problems.extend(problems)
        cacheguard.unguardable = "; ".join(problems)
        cacheguard.can_keep_out = not numbainternals.uncachable_problems()
        _tell(
            "mpi4numba: Numba's cache internals are not as expected ("
            + "; ".join(problems)
            + "): Numba caches as usual, without compile-once, and code that calls MPI is not cached"
        )
        return
    caching.Cache.load_overload = _patched_load(caching.Cache.load_overload)
    caching.Cache.save_overload = _patched_save(caching.Cache.save_overload)
    caching.IndexDataCacheFile.save = _save_entry
    compiler_lock._CompilerLock.release = _patched_release(compiler_lock._CompilerLock.release)
    cacheguard.patched = True
    _installed = True


def state() -> dict[str, Any]:
    """Whether compile-once and the cache guard are active, and why not."""
    if _problems:
        why = "Numba's internals changed: " + "; ".join(_problems)
        return {
            "compile_once": False,
            "cache_guard": "fail-closed",
            "why": why + " (code that calls MPI is recompiled in every process)",
        }
    if not _installed:
        return {"compile_once": False, "cache_guard": "fail-closed", "why": "not installed"}
    why = ""
    if os.environ.get(COMPILE_ONCE_ENV, "1") == "0":
        why = f"{COMPILE_ONCE_ENV}=0"
    elif nodelock.fcntl is None:
        why = "no flock on this system"
    else:
        folder, refused = nodelock.directory()
        if folder is None:
            why = "no safe lock directory: " + "; ".join(refused)
    return {"compile_once": not why, "cache_guard": "active", "why": why}
