"""``python -m mpi4numba info``: which MPI this Python uses, and what is wrong with the setup.

Prints one ``key: value`` line per fact, then ``problem:``/``fix:`` pairs. The exit status
is 0 without problems, 1 with problems, 2 for bad arguments.

MPI is initialised here by hand (``mpi4py.rc.initialize = False``) so that the library's
vendor can be read first: MPICH started by Open MPI's launcher aborts inside ``MPI_Init``,
and that is worth a report rather than a crash. Under a launcher, rank 0 prints and the
other ranks contribute their host, pid and library.

This module holds the order of the steps and the command line; the facts come from the
modules beside it (:mod:`.report`, :mod:`.library`, :mod:`.launcher`, :mod:`.settings`,
:mod:`.cuda`, :mod:`.ranks`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import warnings
from collections.abc import Mapping

from .._core import launchers, threadlevel
from .cuda import cuda_support
from .launcher import launcher_facts, launcher_fix
from .library import abi_facts, choice_reason, import_mpi, libmpi_preloaded
from .ranks import launch_problems, processes_text
from .report import Report
from .settings import numba_facts, one_sided_facts, strided_facts


def collect(environ: Mapping[str, str] | None = None) -> tuple[Report | None, int]:
    """Gather the report on every process; returns (report on the printing process else None,
    exit status). Initialises MPI unless that would abort the process.

    >>> from mpi4numba._tools.info import collect
    >>> report, status = collect()  # doctest: +SKIP
    """
    environ = os.environ if environ is None else environ
    report = Report()
    launch = launchers.detect_launch(environ)
    preloaded = libmpi_preloaded()  # before mpi4py loads one
    report.add("python", sys.executable, f"{sys.executable} ({platform.python_version()})")
    report.facts["python_version"] = platform.python_version()
    import mpi4py
    import numpy

    from .. import __version__

    report.add("mpi4numba_version", __version__)
    report.add("mpi4py_version", mpi4py.__version__)
    report.add("numpy_version", numpy.__version__)
    launched = "no launcher (singleton)" if launch.family is None else f"{launch.launcher} ({launch.evidence})"
    report.add(
        "launched_by",
        {"launcher": launch.launcher, "rank": launch.rank, "size": launch.size, "evidence": launch.evidence},
        launched,
    )
    printer = launch.rank in (None, 0)  # until MPI says otherwise

    MPI = import_mpi(report)
    if MPI is None:
        numba_facts(report)
        # The ranks that do not print end with 0: a launcher ends the whole job when the
        # first process ends with an error, which could be before rank 0 has printed.
        return (report, 1) if printer else (None, 0)
    library_text = MPI.Get_library_version().replace("\x00", "").strip()  # allowed before MPI_Init
    # mpi4py's wheels hold one extension per ABI (MPI.mpich.*.so, MPI.openmpi.*.so); a source
    # build has one extension, linked to the MPI it was built with.
    abi = next((name for name in ("mpich", "openmpi") if f".{name}." in os.path.basename(MPI.__file__)), None)
    library = launchers.library_flavour(library_text, abi or "")
    report.add("mpi_library_version", library_text, " ".join(library_text.splitlines()[0].split()))
    report.add(
        "mpi_vendor", {"vendor": library.vendor, "version": library.version, "family": library.family}, str(library)
    )
    report.add("mpi_standard", "{}.{}".format(*MPI.Get_version()))
    abi_known = abi_facts(report, MPI)
    report.add("handle_size", MPI._sizeof(MPI.Comm), f"{MPI._sizeof(MPI.Comm)} bytes")
    report.add("status_size", MPI._sizeof(MPI.Status), f"{MPI._sizeof(MPI.Status)} bytes (MPI_Status)")

    libmpi = None
    try:
        from .._core import runtime  # binds the library to Numba's JIT; MPI is still not initialised

        libmpi = runtime.LIBMPI
        large = runtime.LARGE_COUNT
        report.add(
            "large_count",
            large,
            "yes (MPI-4 *_c routines, 64-bit counts)"
            if large
            else "no *_c routines (counts above 2**31-1 go as derived datatypes, reductions in slices)",
        )
    except Exception as exc:
        if abi_known:  # else abi_facts has named the problem and its fix
            report.problem(
                f"mpi4numba cannot use this MPI library: {exc}",
                "use MPICH (>= 3.1, also Intel MPI, MVAPICH), Open MPI (>= 4) or a library of the MPI-5 "
                f"standard ABI, e.g. `{sys.executable} -m pip install mpich`",
            )
    report.add("implementation_reason", choice_reason(libmpi, abi, preloaded, environ))
    numba_facts(report)

    # Launchers are probed before MPI_Init: no fork() from an initialised MPI process.
    matching = launcher_facts(report, library, libmpi) if printer else None

    try:
        requested = threadlevel.requested_thread_level()
    except ValueError as exc:
        report.problem(str(exc), f"set {threadlevel.THREAD_LEVEL_ENV} to one of {', '.join(threadlevel.THREAD_LEVELS)}")
        requested = "multiple"  # mpi4py's default
    if launchers.init_would_abort(launch, library, environ):
        report.problem(
            f"{launch.launcher} started this process ({launch.evidence}) but this Python's MPI is "
            f"{library}, whose MPI_Init aborts there (that launcher speaks PMIx, MPICH expects PMI)",
            launcher_fix(library, matching),
        )
        # as above: a rank that does not print ends with 0, so that the launcher does not end
        # the job (on the first error) before rank 0 has printed
        return (report, 1) if printer else (None, 0)

    if not MPI.Is_initialized():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            MPI.Init_thread(getattr(MPI, f"THREAD_{requested.upper()}"))
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    levels = {getattr(MPI, f"THREAD_{name.upper()}"): name for name in threadlevel.THREAD_LEVELS}
    provided = levels.get(MPI.Query_thread(), str(MPI.Query_thread()))
    record = {
        "rank": rank,
        "host": MPI.Get_processor_name(),
        "pid": os.getpid(),
        "launcher_rank": launch.rank,
        "mpi_library": libmpi,
        "thread_level": provided,
    }
    records = world.gather(record, root=0) if size > 1 else [record]
    printer = rank == 0 if size > 1 else printer
    if not printer:
        return None, world.bcast(None, root=0)

    report.add("world_size", size)
    report.add("processes", records, processes_text(records))
    report.add(
        "thread_level", {"provided": provided, "requested": requested}, f"{provided} (mpi4numba requests {requested})"
    )
    order = threadlevel.THREAD_LEVELS  # single < funneled < serialized < multiple
    if provided in order and order.index(provided) < order.index(requested):
        report.problem(
            f"MPI provides thread level {provided}, lower than the {requested} mpi4numba requests",
            f"export {threadlevel.THREAD_LEVEL_ENV}={provided} if no thread but the main one calls "
            "MPI, or use an MPI library built with thread support",
        )
    one_sided_facts(report, MPI, library, provided)
    strided_facts(report)
    cuda, how = cuda_support(libmpi)
    report.add("cuda_aware", cuda, f"{cuda} ({how})")
    launch_problems(report, launch, size, library, matching)
    libraries = sorted({str(r["mpi_library"]) for r in records})
    if len(libraries) > 1:
        report.problem(
            f"processes loaded different MPI libraries: {', '.join(libraries)}",
            "make every node see the same installation (same venv path, same LD_LIBRARY_PATH)",
        )
    status = 1 if report.problems else 0
    if size > 1:
        world.bcast(status, root=0)
    return report, status


def main(argv: list[str] | None = None) -> int:
    """Print the report; exit status 0 (no problems), 1 (problems) or 2 (bad arguments).

    >>> from mpi4numba._tools.info import main
    >>> main(["-q"])  # doctest: +SKIP
    0
    """
    parser = argparse.ArgumentParser(
        prog=f"{os.path.basename(sys.executable)} -m mpi4numba info",
        description="Show the MPI library, launcher and settings mpi4numba uses, and any problem with them. "
        "Under mpiexec, rank 0 prints for all processes.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of key: value lines")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems and their fixes")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    report, status = collect()
    if report is not None:
        text = (
            json.dumps(report.as_dict(), indent=2, default=str) + "\n" if options.json else report.render(options.quiet)
        )
        sys.stdout.write(text)
        sys.stdout.flush()
    return status
