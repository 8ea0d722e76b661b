"""The ABI of the MPI library that mpi4py loaded, decided once.

Everything that differs between MPI implementations (handle width, ``MPI_Status``
layout, special constants, error classes, predefined handles) lives in one module per
ABI in this package. :func:`select` picks the module that matches the running library
and checks it against the values mpi4py reports, so a wrong table fails at import time
instead of producing wrong calls.
"""

from __future__ import annotations

import types as _pytypes
from typing import Any

from . import mpich, openmpi

_ABIS = {"mpich": mpich, "openmpi": openmpi}
# the names of MPI's error classes are the standard's (the values differ between ABIs)
ERROR_CLASS_NAMES: tuple[str, ...] = tuple(mpich.ERROR_CLASSES)


class ABIError(RuntimeError):
    """The running MPI library does not match any ABI that mpi4numba knows."""


def _name_from_mpi4py(MPI: Any) -> str:
    filename = getattr(MPI, "__file__", "") or ""
    for name in _ABIS:
        if f".{name}." in filename:
            return name
    version = MPI.Get_library_version()
    if "Open MPI" in version:
        return "openmpi"
    if any(tag in version for tag in ("MPICH", "Intel(R) MPI", "MVAPICH", "CRAY MPICH")):
        return "mpich"
    raise ABIError(f"mpi4numba does not know the ABI of this MPI library: {version.splitlines()[0]!r}")


def select(MPI: Any) -> _pytypes.ModuleType:
    """Return the ABI module for the library behind ``MPI`` (mpi4py's module), verified."""
    abi = _ABIS[_name_from_mpi4py(MPI)]
    checks = {
        "handle size": (MPI._sizeof(MPI.Comm), abi.HANDLE_BYTES),
        "MPI_Status size": (MPI._sizeof(MPI.Status), abi.STATUS_BYTES),
        "ANY_SOURCE": (MPI.ANY_SOURCE, abi.ANY_SOURCE),
        "ANY_TAG": (MPI.ANY_TAG, abi.ANY_TAG),
        "PROC_NULL": (MPI.PROC_NULL, abi.PROC_NULL),
        "UNDEFINED": (MPI.UNDEFINED, abi.UNDEFINED),
    }
    for cls in ("ERR_COUNT", "ERR_RANK", "ERR_ROOT", "ERR_TRUNCATE", "ERR_ARG", "ERR_REQUEST"):
        checks[cls] = (getattr(MPI, cls), abi.ERROR_CLASSES[cls])
    wrong = [f"{what}: library {got}, table {want}" for what, (got, want) in checks.items() if got != want]
    if wrong:
        raise ABIError(f"the {abi.NAME} ABI table does not match the running MPI library: " + "; ".join(wrong))
    return abi


def mpi4py_handle_values(MPI: Any) -> dict[str, int]:
    """Predefined handle values as mpi4py sees them in this process (for checks and tests)."""
    special = {"ERRORS_RETURN": MPI.ERRORS_RETURN}
    values = {}
    for name in mpich.HANDLES:
        obj = special.get(name, getattr(MPI, name))
        values[name] = MPI._handleof(obj)
    return values
