"""mpi4numba's own settings in the report: the Numba version, cache directory and cache
coordination (and whether the Numba internals it relies on are as expected), how strided
arrays cross MPI, and whether one-sided windows over user memory work at the thread level
in force.
"""

from __future__ import annotations

import os
from typing import Any

from .._core import onesided
from .._core.launchers import Flavour
from .report import Report


def _writable(directory: str) -> bool:
    """Whether Numba can create files in ``directory`` (creating it first if need be)."""
    while directory and not os.path.exists(directory):
        directory = os.path.dirname(directory.rstrip(os.sep)) if directory != os.sep else ""
    return bool(directory) and os.access(directory, os.W_OK | os.X_OK)


def numba_facts(report: Report) -> None:
    """The Numba version, cache directory and cache coordination, with their problems."""
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


def strided_facts(report: Report) -> None:
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


def one_sided_facts(report: Report, MPI: Any, library: Flavour, provided: str) -> None:
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
