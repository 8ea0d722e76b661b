"""How strided buffers travel: the strategies a benchmark can choose at run time.

Shared by ``strided`` and ``halo``. Versions of mpi4numba with ``set_strided(mode)`` (and
``strided()``, ``MPI4NUMBA_STRIDED``) send a strided view either as a derived datatype
(``"datatype"``), packed into a contiguous buffer (``"pack"``), or as ``"auto"`` chooses;
the mode takes effect at run time, without recompiling. Older versions always describe a
strided view by a derived datatype: there the benchmarks measure that path alone and say
so (:data:`MISSING`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MODES = ("datatype", "pack", "auto")
MISSING = (
    "mpi4numba.set_strided is not available in this version: a strided view is always sent "
    "as a derived datatype, measured as 'datatype'; 'pack' and 'auto' are not measured (n/a)"
)


def available(mpi: Any) -> bool:
    """Whether this mpi4numba can choose how strided buffers travel (``set_strided``)."""
    return hasattr(mpi, "set_strided")


def modes(mpi: Any) -> tuple[str, ...]:
    """The strategies that can be measured: all of :data:`MODES`, or ``datatype`` alone."""
    return MODES if available(mpi) else ("datatype",)


def current(mpi: Any) -> str:
    """The strategy in force: ``strided()``, or ``datatype`` where there is no choice."""
    return str(mpi.strided()) if available(mpi) else "datatype"


@contextmanager
def using(mpi: Any, mode: str | None) -> Iterator[None]:
    """Run the block with strided buffers sent by ``mode`` (None: the mode in force), then
    restore the previous mode. Without ``set_strided`` only ``datatype`` (or None) is accepted."""
    if mode is None:
        yield
        return
    if not available(mpi):
        if mode != "datatype":
            raise ValueError(f"strided mode {mode!r} needs mpi4numba.set_strided")
        yield
        return
    previous = mpi.set_strided(mode)
    try:
        yield
    finally:
        mpi.set_strided(previous)
