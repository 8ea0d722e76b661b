"""Choice of MPI's thread level, made before MPI is initialised (no MPI import here)."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

THREAD_LEVEL_ENV = "MPI4NUMBA_THREAD_LEVEL"
MPI4PY_ENV = "MPI4PY_RC_THREAD_LEVEL"  # mpi4py reads it when MPI starts, over mpi4py.rc
THREAD_LEVELS = ("single", "funneled", "serialized", "multiple")
# Without a choice, MPI starts at the level mpi4py would choose (its rc.thread_level,
# "multiple" unless set), as it does for numba-mpi programs; "funneled" saves time in
# MPICH's small collectives (it takes its locks only at "multiple"). See the threads guide.

_requested: str | None = None
# the module whose import starts MPI (mpi4numba's own import of mpi4py.MPI)
RUNTIME_MODULE = __name__.rpartition(".")[0] + ".runtime"


def _by_value() -> dict[int, str]:
    """The levels by MPI's value in every ABI: 0-3 (MPICH's, Open MPI's), 0-4096 (MPI-5's)."""
    from .._abi import ABIS  # tables only: nothing starts MPI

    return {abi.CONSTANTS[f"THREAD_{name.upper()}"]: name for abi in ABIS for name in THREAD_LEVELS}


def _normalise(level: str | int) -> str:
    if isinstance(level, int) and level in _by_value():
        return _by_value()[level]
    name = str(level).strip().lower().removeprefix("mpi_thread_").removeprefix("thread_")
    if name not in THREAD_LEVELS:
        raise ValueError(f"unknown MPI thread level {level!r}; choose one of {', '.join(THREAD_LEVELS)}")
    return name


def provided_level(MPI: Any) -> str:
    """The name of the level MPI runs at (``MPI`` is mpi4py's module, MPI initialised); the
    values of the levels are the ABI's (0-3 in MPICH's and Open MPI's, 0-4096 in MPI-5's)."""
    return {getattr(MPI, f"THREAD_{name.upper()}"): name for name in THREAD_LEVELS}[MPI.Query_thread()]


def _from_environment(variable: str) -> str:
    """The level named by the environment ``variable``; a wrong one says where it came from."""
    try:
        return _normalise(os.environ[variable])
    except ValueError as exc:
        raise ValueError(f"{exc} (from {variable})") from None


def set_thread_level(level: str | int) -> None:
    """Choose the thread level MPI is initialised with; call before MPI is initialised.

    ``level`` is ``"single"``, ``"funneled"``, ``"serialized"``, ``"multiple"`` (or MPI's
    value of one, such as ``mpi4py.MPI.THREAD_FUNNELED``).
    The environment variable ``MPI4NUMBA_THREAD_LEVEL`` takes precedence; either wins over
    mpi4py's settings (``MPI4PY_RC_THREAD_LEVEL``, ``mpi4py.rc.thread_level``). Without
    either, MPI starts at mpi4py's level (``"multiple"`` by default). MPI is
    initialised by the first use of any other mpi4numba name (or by importing
    ``mpi4py.MPI``); after that the level cannot change and this raises ``RuntimeError``.

    >>> import mpi4numba
    >>> mpi4numba.set_thread_level("funneled")  # doctest: +SKIP
    """
    global _requested
    name = _normalise(level)
    if "mpi4py.MPI" in sys.modules:
        from mpi4py import MPI

        if MPI.Is_initialized():
            provided = provided_level(MPI)
            if provided != name:
                raise RuntimeError(
                    f"MPI is already initialised at thread level {provided!r}; call "
                    f"set_thread_level({name!r}) before using mpi4numba or importing mpi4py.MPI"
                )
            return
    _requested = name
    configure_mpi4py()


def chosen_thread_level() -> str | None:
    """The level chosen through mpi4numba (environment, then set_thread_level()), or None."""
    env = os.environ.get(THREAD_LEVEL_ENV)
    if env:
        return _from_environment(THREAD_LEVEL_ENV)
    return _requested


def requested_thread_level() -> str:
    """The level MPI will be asked for: mpi4numba's choice, else mpi4py's."""
    chosen = chosen_thread_level()
    if chosen is not None:
        return chosen
    if os.environ.get(MPI4PY_ENV):
        return _from_environment(MPI4PY_ENV)
    import mpi4py

    return _normalise(mpi4py.rc.thread_level)


def configure_mpi4py() -> None:
    """Tell mpi4py the thread level chosen through mpi4numba, unless MPI is already up.

    Called when mpi4numba is imported, so the level holds even if the program then
    imports ``mpi4py.MPI`` itself before using mpi4numba. Without a choice mpi4py's own
    setting stays as it is.
    """
    if "mpi4py.MPI" in sys.modules:
        return
    chosen = chosen_thread_level()
    if chosen is not None:
        import mpi4py

        mpi4py.rc.thread_level = chosen


@contextmanager
def starting_mpi() -> Iterator[None]:
    """Around the import of ``mpi4py.MPI`` (which starts MPI): mpi4numba's choice of thread
    level wins over ``MPI4PY_RC_THREAD_LEVEL``, which mpi4py would otherwise read over
    ``mpi4py.rc``. The variable is set to the choice for the import only, then restored."""
    configure_mpi4py()
    chosen, theirs = chosen_thread_level(), os.environ.get(MPI4PY_ENV)
    if chosen is None or not theirs:
        yield
        return
    os.environ[MPI4PY_ENV] = chosen
    try:
        yield
    finally:
        os.environ[MPI4PY_ENV] = theirs


_before_start: list[Callable[[], None]] = []


class _AfterMPI4PY:
    """Import hook: once ``mpi4py.MPI`` is loaded, run ``then`` (see
    :func:`after_mpi4py`), unless mpi4numba itself is what imports it."""

    def __init__(self, then: Callable[[], None]) -> None:
        self.then = then

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "mpi4py.MPI":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, then = spec.loader, self.then

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                for hook in _before_start:
                    hook()
                with starting_mpi():
                    loader.exec_module(module)
                if RUNTIME_MODULE not in sys.modules:  # else mpi4numba is starting MPI itself
                    then()

        spec.loader = Loader()
        return spec


def before_mpi4py(hook: Callable[[], None]) -> None:
    """Run ``hook`` just before ``mpi4py.MPI`` is imported (which starts MPI), whoever imports it."""
    _before_start.append(hook)


def after_mpi4py(then: Callable[[], None]) -> None:
    """Run ``then`` as soon as ``mpi4py.MPI`` exists (now, if it does).

    ``import mpi4numba`` uses it to make mpi4py communicators typeable in njit code: a
    communicator passed to an njit function is typed before the function's body (and so
    before any mpi4numba routine) is looked at, and its Numba type needs ``mpi4py.MPI``
    (an initialised MPI); waiting for the user's own import keeps ``import mpi4numba``
    free of MPI.
    """
    if "mpi4py.MPI" in sys.modules:
        then()
    elif not any(isinstance(finder, _AfterMPI4PY) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterMPI4PY(then))
