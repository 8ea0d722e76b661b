"""Compile the C baselines (``latency.c``, ``suite.c``) with the MPI compiler wrapper, once
per version, and load them as shared libraries into an MPI job.

The wrapper is ``$MPICC``, else the ``mpicc`` next to the running Python (an MPI wheel's),
else ``mpicc`` on ``PATH``. Builds go to ``$XDG_CACHE_HOME/mpi4numba/bench`` (default
``~/.cache/...``), or a per-user temporary folder when that is not writable, named by a
hash of the source, the wrapper and the kind of build, so a changed input rebuilds.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("latency.c")


class BuildError(RuntimeError):
    """The C baseline could not be compiled."""


def find_mpicc() -> str:
    """Path of the MPI C compiler wrapper to use; raises BuildError when there is none."""
    if os.environ.get("MPICC"):
        return os.environ["MPICC"]
    beside = Path(sys.executable).parent / "mpicc"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpicc")
    if found is None:
        raise BuildError("no MPI C compiler: set MPICC, or put mpicc next to python or on PATH")
    return found


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mpi4numba" / "bench"
    for folder in (base, Path(tempfile.gettempdir()) / f"mpi4numba-bench-{os.getuid()}"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except OSError:
            continue
    raise BuildError(f"no writable folder for the C build (tried {base})")


def build(
    library: bool = False,
    timeout: float = 120,
    source: Path = SOURCE,
    flags: tuple[str, ...] = (),
    native: bool = False,
) -> Path:
    """Compile ``source`` (default ``latency.c``) into a program (or a shared library) and
    return its path. Reuses an earlier build of the same inputs; safe when several
    processes race. ``native``: for this machine's CPU (``-march=native``), as Numba
    compiles, where the compiler takes it (else without).
    """
    if native:
        try:
            return build(library, timeout, source, (*flags, "-march=native"))
        except BuildError:
            pass
    if not source.exists():
        raise BuildError(f"{source} is missing: the package was installed without its C source")
    mpicc = find_mpicc()
    extra = [*(["-shared", "-fPIC"] if library else []), *flags]
    real = Path(shutil.which(mpicc) or mpicc).resolve()
    stamp = real.stat().st_mtime_ns if real.exists() else 0
    key = hashlib.sha256(
        b"\0".join([source.read_bytes(), str(real).encode(), str(stamp).encode(), " ".join(extra).encode()])
    ).hexdigest()[:16]
    target = _cache_dir() / (f"{source.stem}-{key}.so" if library else f"{source.stem}-{key}")
    if target.exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    command = [mpicc, "-O2", *extra, "-o", str(partial), str(source)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"{' '.join(command)}: {exc}") from exc
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    os.replace(partial, target)
    return target


def load_library(
    MPI: Any,
    ops: tuple[str, ...],
    op_name: str,
    source: Path = SOURCE,
    flags: tuple[str, ...] = (),
    native: bool = False,
) -> ctypes.CDLL:
    """``source`` as a shared library in this MPI job: rank 0 builds it (the others wait),
    every rank loads it and checks that its function ``op_name(i)`` names ``ops`` in order
    (``native``: see :func:`build`).
    Raises BuildError on every rank when rank 0 could not build it."""
    comm = MPI.COMM_WORLD
    path, error = None, None
    if comm.Get_rank() == 0:
        try:
            path = str(build(library=True, source=source, flags=flags, native=native))
        except BuildError as exc:
            error = str(exc)
    path, error = comm.bcast((path, error), root=0)
    if error is not None:
        raise BuildError(error)
    library = ctypes.CDLL(path)
    name = getattr(library, op_name)
    name.argtypes, name.restype = [ctypes.c_int], ctypes.c_char_p
    names = tuple(name(i).decode() for i in range(len(ops)))
    if names != ops:
        raise RuntimeError(f"{source.name} operations {names} differ from {ops}")
    return library
