"""The ABI of the MPI library that mpi4py loaded, decided once, by asking the library.

Everything that differs between MPI implementations (handle width, ``MPI_Status``
layout, special constants, error classes, predefined handles) lives in one module per
ABI in this package: :mod:`.mpich` (MPICH, Intel MPI, MVAPICH, Cray MPICH), :mod:`.openmpi`
and :mod:`.mpiabi` (the MPI-5 standard ABI). :func:`identify` asks the library which one it
implements (``MPI_Abi_get_version``, then the objects it exports), never its name;
:func:`select` then checks every value of the table against what mpi4py reports, so a wrong
table fails at import time instead of producing wrong calls.
"""

from __future__ import annotations

import ctypes
import os
import types as _pytypes
from typing import Any

from . import mpiabi, mpich, openmpi

ABIS: tuple[_pytypes.ModuleType, ...] = (mpich, openmpi, mpiabi)
# the names of MPI's error classes are the standard's (the values differ between ABIs)
ERROR_CLASS_NAMES: tuple[str, ...] = tuple(mpich.ERROR_CLASSES)
DESCRIPTIONS = {
    "mpich": "MPICH ABI (32-bit integer handles)",
    "openmpi": "Open MPI ABI (handles are addresses of libmpi's objects)",
    "mpiabi": "MPI-5 standard ABI",
}


class ABIError(RuntimeError):
    """The running MPI library does not match any ABI that mpi4numba knows."""


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def loaded_library(MPI: Any) -> str:
    """Path of the shared object that provides ``MPI_Init`` to mpi4py's extension module
    (the library mpi4py loaded, whatever its name or the way it was found)."""
    extension = ctypes.CDLL(MPI.__file__)
    address = ctypes.cast(extension.MPI_Init, ctypes.c_void_p).value
    info = _DlInfo()
    if not ctypes.CDLL(None).dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        raise RuntimeError("mpi4numba could not locate the MPI library that mpi4py loaded")
    return os.fsdecode(info.dli_fname)


def standard_abi_version(library: ctypes.CDLL) -> tuple[int, int]:
    """``MPI_Abi_get_version`` of ``library``: ``(major, minor)`` of the MPI-5 standard ABI it
    implements, ``(-1, -1)`` when it implements its own (also a library older than MPI 5,
    which lacks the routine). Callable before ``MPI_Init``."""
    try:
        function = library.MPI_Abi_get_version
    except AttributeError:
        return (-1, -1)
    function.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    function.restype = ctypes.c_int
    major, minor = ctypes.c_int(-1), ctypes.c_int(-1)
    if function(ctypes.byref(major), ctypes.byref(minor)) != 0:
        return (-1, -1)
    return (major.value, minor.value)


def _symbol_address(library: ctypes.CDLL, name: str) -> int | None:
    try:
        return ctypes.addressof(ctypes.c_char.in_dll(library, name))
    except ValueError:
        return None


def identify(MPI: Any, library: ctypes.CDLL) -> _pytypes.ModuleType:
    """The ABI table of ``library`` (the libmpi that ``MPI``, mpi4py's module, loaded), asked
    of the library: the standard ABI version it reports, else the objects it exports (Open
    MPI's ``ompi_mpi_comm_world``, the MPICH ABI's ``MPI_UNWEIGHTED`` variable)."""
    major, minor = standard_abi_version(library)
    if major >= 0:
        if major != mpiabi.VERSION[0]:
            raise ABIError(
                f"the MPI library implements the MPI standard ABI {major}.{minor}; this mpi4numba knows "
                f"version {mpiabi.VERSION[0]}.x only: upgrade mpi4numba"
            )
        return mpiabi
    if _symbol_address(library, openmpi.HANDLES["COMM_WORLD"]) is not None:
        return openmpi
    if _symbol_address(library, mpich.UNWEIGHTED) is not None:
        return mpich
    version = MPI.Get_library_version().splitlines()[0].strip()
    raise ABIError(
        f"mpi4numba does not know the ABI of this MPI library ({version!r}): it implements neither the "
        "MPI-5 standard ABI nor MPICH's or Open MPI's"
    )


def mpi4py_built_for(MPI: Any) -> _pytypes.ModuleType | None:
    """The ABI mpi4py's extension was compiled for, read from its own constants (the width
    of a handle, the size of ``MPI_Status``, the value of ``MPI_COMM_WORLD``); None if none fits."""
    width, status = MPI._sizeof(MPI.Comm), MPI._sizeof(MPI.Status)
    world = MPI._handleof(MPI.COMM_WORLD) & (2 ** (8 * width) - 1)
    for abi in (mpich, mpiabi):
        if (width, status, world) == (abi.HANDLE_BYTES, abi.STATUS_BYTES, abi.HANDLES["COMM_WORLD"]):
            return abi
    if (width, status) == (openmpi.HANDLE_BYTES, openmpi.STATUS_BYTES):
        return openmpi
    return None


def expected_handle(abi: _pytypes.ModuleType, name: str, library: ctypes.CDLL) -> int | None:
    """The value handle ``name`` has in this process under ``abi``: the table's constant, or
    the address of the library's object (None if the library lacks it)."""
    spec = abi.HANDLES[name]
    return spec if isinstance(spec, int) else _symbol_address(library, spec)


def _pointer_constant(abi: _pytypes.ModuleType, name: str, library: ctypes.CDLL) -> int | None:
    """``MPI_UNWEIGHTED``/``MPI_WEIGHTS_EMPTY``: a constant, or the pointer a global variable holds."""
    spec = getattr(abi, name)
    if isinstance(spec, int):
        return spec
    try:
        return ctypes.c_void_p.in_dll(library, spec).value or 0
    except ValueError:
        return None


def _status_offsets(MPI: Any, size: int) -> dict[str, int]:
    """Where mpi4py's ``MPI_Status`` keeps source, tag and error (byte offsets)."""
    status = MPI.Status()
    status.source, status.tag, status.error = 0x5A1, 0x5A2, 0x5A3
    words = list((ctypes.c_int32 * (size // 4)).from_address(MPI._addressof(status)))
    marks = (("source", 0x5A1), ("tag", 0x5A2), ("error", 0x5A3))
    return {field: 4 * words.index(value) if value in words else -1 for field, value in marks}


def mismatches(abi: _pytypes.ModuleType, MPI: Any, library: ctypes.CDLL) -> list[str]:
    """Every value of the table ``abi`` that differs from what mpi4py reports (``what: mpi4py
    X, table Y``); empty when the table is right for this mpi4py and library."""
    mask = 2**64 - 1
    checks: dict[str, tuple[Any, Any]] = {
        "handle size": (MPI._sizeof(MPI.Comm), abi.HANDLE_BYTES),
        "MPI_Status size": (MPI._sizeof(MPI.Status), abi.STATUS_BYTES),
    }
    for name in ("ANY_SOURCE", "ANY_TAG", "PROC_NULL", "UNDEFINED"):
        checks[name] = (getattr(MPI, name), getattr(abi, name))
    for name in ("IN_PLACE", "BOTTOM"):
        checks[name] = (int(getattr(MPI, name)) & mask, getattr(abi, name) & mask)
    for name in ("UNWEIGHTED", "WEIGHTS_EMPTY"):
        checks[name] = (int(getattr(MPI, name)) & mask, _pointer_constant(abi, name, library))
    for table in (abi.ERROR_CLASSES, abi.CONSTANTS):
        for name, value in table.items():
            checks[name] = (getattr(MPI, name), value)
    width = 2 ** (8 * abi.HANDLE_BYTES) - 1  # mpi4py sign-extends a 32-bit handle
    for name, value in mpi4py_handle_values(MPI).items():
        want = expected_handle(abi, name, library)
        checks[f"MPI_{name}"] = (value & width, want if want is None else want & width)
    wrong = [f"{what}: mpi4py {got}, table {want}" for what, (got, want) in checks.items() if got != want]
    if not wrong:  # the sizes agree: the fields' places can be read
        offsets = _status_offsets(MPI, abi.STATUS_BYTES)
        for field, offset in offsets.items():
            want = getattr(abi, f"STATUS_{field.upper()}_OFFSET")
            if offset != want:
                wrong.append(f"MPI_Status.MPI_{field.upper()} offset: mpi4py {offset}, table {want}")
    return wrong


def select(MPI: Any, libmpi: str) -> _pytypes.ModuleType:
    """Return the ABI module for the library at ``libmpi`` that ``MPI`` (mpi4py's module)
    loaded, verified against mpi4py.

    >>> from mpi4py import MPI
    >>> from mpi4numba._abi import select
    >>> from mpi4numba._core.runtime import LIBMPI
    >>> select(MPI, LIBMPI).NAME in ("mpich", "openmpi", "mpiabi")
    True
    """
    library = ctypes.CDLL(libmpi)
    abi = identify(MPI, library)
    wrong = mismatches(abi, MPI, library)
    if wrong:
        built_for = "another ABI" if MPI._sizeof(MPI.Comm) != abi.HANDLE_BYTES else "other values"
        raise ABIError(
            f"the MPI library {libmpi} implements the {describe(abi, library)}, but mpi4py was built for "
            f"{built_for}: " + "; ".join(wrong[:8]) + ("; ..." if len(wrong) > 8 else "")
        )
    return abi


def describe(abi: _pytypes.ModuleType, library: ctypes.CDLL | None = None) -> str:
    """A name for the ABI for people: ``MPI-5 standard ABI 1.0``, ``MPICH ABI (...)``."""
    if abi is mpiabi and library is not None:
        return "{} {}.{}".format(DESCRIPTIONS[abi.NAME], *standard_abi_version(library))
    return DESCRIPTIONS[abi.NAME]


def mpi4py_handle_values(MPI: Any) -> dict[str, int]:
    """Predefined handle values as mpi4py sees them in this process (for checks and tests)."""
    special = {"ERRORS_RETURN": MPI.ERRORS_RETURN}
    values = {}
    for name in mpich.HANDLES:
        obj = special.get(name, getattr(MPI, name))
        values[name] = MPI._handleof(obj)
    return values
