"""The report of ``python -m mpi4numba info``: facts with their display text, problems with
their fixes, and notes. Every other module of the report adds to one :class:`Report`; this
one decides the order of the lines and renders them as text or as a JSON-ready dict.
"""

from __future__ import annotations

from typing import Any

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
    "mpi4py_build",
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
