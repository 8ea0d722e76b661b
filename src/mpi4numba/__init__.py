"""mpi4numba: MPI for Numba.

Functions callable from ``@numba.njit`` code (and from Python) that call the MPI C
library directly, through the library mpi4py loaded. A drop-in for numba-mpi::

    import mpi4numba as numba_mpi

Importing this package does not initialise MPI, so the thread level can still be chosen
with :func:`set_thread_level` (or ``MPI4NUMBA_THREAD_LEVEL``); the first use of any other
name, or importing ``mpi4py.MPI``, initialises MPI at that level.
"""

from __future__ import annotations

import ast
import importlib
import os
from typing import Any

from numba.core.registry import cpu_target

from . import _abi
from ._core import abort, numbacache

# usable before MPI is initialised, so not imported lazily (environment's __all__ lists them)
from ._core.threadlevel import (  # noqa: F401
    THREAD_LEVELS,
    after_mpi4py,
    before_mpi4py,
    configure_mpi4py,
    set_thread_level,
)

__version__ = "0.1.0"

# The modules whose ``__all__`` is mpi4numba's namespace, in the order of the reference.
PUBLIC_MODULES = (
    "comm",
    "groups",
    "topology",
    "neighbor",
    "p2p",
    "partitioned",
    "requests",
    "status",
    "collectives",
    "nonblocking",
    "reductions",
    "ireductions",
    "operators",
    "environment",
    "window",
    "rma",
    "file",
    "datatypes",
)


def _declared_names(module: str) -> list[str]:
    """A public module's ``__all__``, read from its source: importing the module would
    initialise MPI. It is a list of strings, which ``__all__ += list(NAME)`` may extend by
    a tuple of names of ``_abi`` (where names that every MPI shares are kept)."""
    path = os.path.join(os.path.dirname(__file__), f"{module}.py")
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read(), path)
    names: list[str] | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            names = list(ast.literal_eval(node.value))
        elif isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__" and names is not None:
            names += getattr(_abi, node.value.args[0].id)  # type: ignore[attr-defined]
    if names is None:
        raise RuntimeError(f"mpi4numba.{module} declares no __all__")
    return names


_MODULE_OF = {name: module for module in PUBLIC_MODULES for name in _declared_names(module)}

__all__ = ["__version__", *_MODULE_OF]


def _type_communicators() -> None:
    """mpi4py communicators become typeable in njit code (needs mpi4py.MPI: see after_mpi4py)."""
    from . import comm  # noqa: F401


configure_mpi4py()
after_mpi4py(_type_communicators)
numbacache.install()  # before any cached function of the program compiles
before_mpi4py(numbacache.before_mpi_start)  # MPI_Init waits for every rank: never while others wait for us
abort.install()  # a failure on one rank ends the job, also before MPI is initialised


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'mpi4numba' has no attribute {name!r}")
    # the one import by name in mpi4numba: a public module, named in PUBLIC_MODULES
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    _type_communicators()
    # The first use of a name may be as a global of a function Numba is compiling
    # (``mpi.COMM_SELF``): lowerings registered by the imports must reach that compiler.
    cpu_target.target_context.refresh()
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
