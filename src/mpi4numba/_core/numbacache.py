"""Numba's on-disk cache, made safe and shared by the ranks of a job.

Installed when mpi4numba is imported (before MPI is initialised), for every
``@njit(cache=True)`` function of the process, mpi4numba's or not:

* **Compile once per node.** When a function misses the cache, the process takes a lock
  named after the function's cache index and the signature, in a node-local directory (``$TMPDIR``, or
  ``MPI4NUMBA_LOCK_DIR``). The first rank to take it compiles and writes the cache; the
  others wait for it, then load what it wrote. A process that already holds such a lock
  (a cached function compiled while compiling another) never waits: it compiles
  itself, so ranks that call functions in different orders or take different branches
  cannot deadlock. A rank that waited and still misses (the function could not be
  cached) compiles without the lock, in parallel with the others. The lock dies with its
  process. Under an MPI launcher, MPI is initialised before a rank takes or waits for a
  lock (MPI_Init waits for every rank). ``MPI4NUMBA_COMPILE_ONCE=0`` turns this off; where no lock can be taken
  (no writable lock directory, no ``flock``) every rank compiles, after one warning.
* **Writes that never corrupt.** Numba numbers data files 1, 2 ... and writes the index
  before the data, so two processes saving different signatures of a function (ranks on
  different nodes sharing a filesystem) could leave an index entry pointing at another
  signature's machine code. Here every data file has a unique name and is written
  (atomically, by rename) before the index entry that names it; a lost race loses an
  entry (a later miss; ranks of one node update the index under a lock and lose none),
  never pairs a signature with the wrong code. A loaded entry whose
  signature is not the one asked for is ignored.
* **Never stale.** Code compiled for another MPI ABI or another mpi4numba raises
  :class:`CacheABIMismatch` while it loads (see ``mpi4numba._core.cachetag``); it is
  recompiled with a warning instead of run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import uuid
import warnings
from typing import Any

from numba.core import caching, dispatcher, sigutils
from numba.core.errors import NumbaWarning

from .launchers import JOB_VARIABLE_PREFIXES

COMPILE_ONCE_ENV = "MPI4NUMBA_COMPILE_ONCE"
LOCK_DIR_ENV = "MPI4NUMBA_LOCK_DIR"
WAIT_ENV = "MPI4NUMBA_COMPILE_WAIT"  # seconds a rank waits for another's compile (default 600)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class CacheABIMismatch(RuntimeError):
    """Code in Numba's cache was compiled for another MPI ABI or mpi4numba version."""


class _State(threading.local):
    def __init__(self) -> None:
        self.held: list[tuple[Any, Any, int]] = []  # (cache, sig, lock file descriptor)


_state = _State()
_warned = False
stats = {"waited": 0, "compiled_holding_lock": 0, "fallbacks": 0}


def enabled() -> bool:
    return os.environ.get(COMPILE_ONCE_ENV, "1") != "0" and fcntl is not None


def _fallback(reason: str) -> None:
    global _warned
    stats["fallbacks"] += 1
    if not _warned:
        _warned = True
        _tell(f"mpi4numba: ranks cannot coordinate Numba cache compiles ({reason}); each rank compiles for itself")


def lock_directory() -> str:
    return os.environ.get(LOCK_DIR_ENV) or os.path.join(tempfile.gettempdir(), f"mpi4numba-locks-{os.getuid()}")


def _lock_path(index_path: str, what: str) -> str:
    name = f"{os.path.realpath(index_path)}\0{what}"
    return os.path.join(lock_directory(), hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")


def _try_lock(path: str, wait: bool) -> tuple[int | None, bool]:
    """``(descriptor or None, waited)``: the node lock at ``path``."""
    try:
        os.makedirs(lock_directory(), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        _fallback(f"no lock directory: {exc}")
        return None, False
    deadline = time.monotonic() + float(os.environ.get(WAIT_ENV, "600"))
    delay, waited = 0.002, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, waited
        except BlockingIOError:
            if wait and time.monotonic() > deadline:
                _tell(
                    f"mpi4numba: another process has compiled for over {os.environ.get(WAIT_ENV, '600')} s "
                    f"(lock {path}); compiling here too"
                )
            if not wait or time.monotonic() > deadline:
                os.close(fd)
                return None, waited
            waited = True
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        except OSError as exc:
            os.close(fd)
            _fallback(f"flock failed: {exc}")
            return None, False


def _unlock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_signature(cres: Any, sig: Any) -> bool:
    args, _ = sigutils.normalize_signature(sig)
    return tuple(cres.signature.args) == tuple(args)


def _tell(message: str) -> None:
    """A note about the cache, as a warning: recompiling is the remedy, so a program that
    turns warnings into errors (``python -We``) goes on without it."""
    with contextlib.suppress(NumbaWarning):
        warnings.warn(message, NumbaWarning, stacklevel=5)


def _load_checked(cache, sig, target_context, original):
    try:
        cres = original(cache, sig, target_context)
    except CacheABIMismatch as exc:
        _tell(f"mpi4numba: recompiling {cache._name}: {exc}")
        return None
    if cres is not None and not _same_signature(cres, sig):
        _tell(f"mpi4numba: ignoring a cache entry of {cache._name} made for {cres.signature}, not {sig}")
        return None
    return cres


def _initialise_mpi_under_a_launcher() -> None:
    """MPI_Init waits for every rank of the job: a rank must not reach it (lazily, while
    compiling) holding a lock that another rank waits for before its own MPI_Init."""
    if any(key.startswith(JOB_VARIABLE_PREFIXES) for key in os.environ):
        from . import runtime  # noqa: F401  (initialises MPI at mpi4numba's thread level)


def _patched_load(original):
    def load_overload(self, sig, target_context):
        cres = _load_checked(self, sig, target_context, original)
        if cres is not None or not self._enabled or not enabled():
            return cres
        _initialise_mpi_under_a_launcher()
        # one compiler per signature; waiting is only for a process that holds no lock
        path = _lock_path(self._cache_file._index_path, f"compile {sig}")
        fd, waited = _try_lock(path, wait=not _state.held)
        if fd is None:
            return _load_checked(self, sig, target_context, original)  # another process may have written it
        cres = _load_checked(self, sig, target_context, original)  # written while this process looked
        if cres is not None or waited:
            _unlock(fd)  # loaded, or not cachable: compile alongside the others
            if waited:
                stats["waited"] += 1
            return cres
        _state.held.append((self, sig, fd))  # this process compiles; save_overload releases
        stats["compiled_holding_lock"] += 1
        return None

    load_overload._mpi4numba = True  # type: ignore[attr-defined]
    return load_overload


def _release(cache, sig) -> None:
    for i, (held_cache, held_sig, fd) in enumerate(_state.held):
        if held_cache is cache and held_sig == sig:
            del _state.held[i]
            _unlock(fd)
            return


def _patched_save(original):
    def save_overload(self, sig, data):
        try:
            original(self, sig, data)
        finally:
            _release(self, sig)

    save_overload._mpi4numba = True  # type: ignore[attr-defined]
    return save_overload


def _patched_compile(original):
    def compile(self, sig):
        depth = len(_state.held)
        try:
            return original(self, sig)
        finally:  # a compile that failed never saved: its lock goes now
            while len(_state.held) > depth:
                _unlock(_state.held.pop()[2])

    compile._mpi4numba = True  # type: ignore[attr-defined]
    return compile


def _patched_index_save(self, key, data):
    """Data first, under a name no other process uses, then the index entry naming it."""
    data_name = self._data_name_pattern.replace("{number:d}", uuid.uuid4().hex[:16])
    self._save_data(data_name, data)
    # the index is read and rewritten under a node lock (ranks of a node lose no entries)
    fd, _ = _try_lock(_lock_path(self._index_path, "index"), wait=True) if enabled() else (None, False)
    try:
        overloads = self._load_index()
        replaced = overloads.get(key)
        overloads[key] = data_name
        self._save_index(overloads)
    finally:
        if fd is not None:
            _unlock(fd)
    if replaced and replaced != data_name:
        with contextlib.suppress(OSError):
            os.unlink(self._data_path(replaced))


def install() -> None:
    """Patch Numba's cache (once per process)."""
    if getattr(caching.Cache.load_overload, "_mpi4numba", False):
        return
    caching.Cache.load_overload = _patched_load(caching.Cache.load_overload)
    caching.Cache.save_overload = _patched_save(caching.Cache.save_overload)
    dispatcher.Dispatcher.compile = _patched_compile(dispatcher.Dispatcher.compile)
    caching.IndexDataCacheFile.save = _patched_index_save
