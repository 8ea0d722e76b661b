"""What the processes of a launch tell: how the ranks sit on the hosts (the ``processes``
line, gathered from every rank), and the problem of a launcher that started N processes
while MPI sees fewer (each rank 0 of 1), with the fix for ``srun`` or for ``mpiexec``.
"""

from __future__ import annotations

from typing import Any

from .._core.launchers import Flavour, LaunchEnvironment
from .launcher import launcher_fix
from .report import Report


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


def processes_text(records: list[dict[str, Any]]) -> str:
    """``2 (vm: ranks 0-1)``: processes grouped by host."""
    by_host: dict[str, list[int]] = {}
    for record in records:
        by_host.setdefault(record["host"], []).append(record["rank"])
    groups = [f"{host}: rank{'s' if len(ranks) > 1 else ''} {_spans(ranks)}" for host, ranks in by_host.items()]
    return f"{len(records)} ({'; '.join(groups)})"


def launch_problems(
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
        fix = launcher_fix(library, matching)
    report.problem(what, fix)
