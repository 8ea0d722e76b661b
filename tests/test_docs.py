"""Every code snippet of the README and the guide runs, or says why it cannot here (driver).

A page's ``python`` blocks run under ``mpiexec -n 2``: a block that imports mpi4numba
starts a program, and each block that does not continues the one before it (it may use
what that defined); its ``bash`` blocks run line by line in a
shell whose ``python`` and ``mpiexec`` are this venv's, in a scratch directory. A block
that cannot run on one machine (a cluster's ``module load``, ``srun``, ``pip install``,
root) or that is output is preceded by a comment saying so::

    <!-- not run: needs a SLURM cluster -->

and the reason must be given. A snippet that no longer runs fails here instead of rotting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, mpiexec

pytestmark = pytest.mark.driver

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (.*?) -->\s*\Z", re.S)
RUNNABLE = ("python", "bash")
BIN = str(Path(sys.executable).parent)


def blocks(page: Path) -> list[tuple[int, str, str, str | None]]:
    """``(line, language, code, reason not run)`` of every fenced block of ``page``."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        marker = NOT_RUN.search(before[-400:])
        found.append((before.count("\n") + 1, match.group(1), match.group(2), marker.group(1) if marker else None))
    return found


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_every_block_runs_or_says_why_not():
    """Blocks in languages that are not run are output or tables; the rest are run below."""
    for page in PAGES:
        for line, language, _, reason in blocks(page):
            where = f"{_name(page)}:{line}"
            if reason is not None:
                assert len(reason.strip()) > 5, f"{where}: give the reason the block is not run"
            elif language not in RUNNABLE:
                assert language in ("console", "text", "toml", "yaml"), f"{where}: a ```{language} block"


def _python_pages() -> list[Path]:
    return [page for page in PAGES if any(lang == "python" and not why for _, lang, _, why in blocks(page))]


def _programs(page: Path) -> list[tuple[str, str]]:
    """``(where, source)`` of the programs of a page's python blocks (see the module doc)."""
    programs: list[tuple[str, str]] = []
    for line, language, code, reason in blocks(page):
        if language != "python" or reason is not None:
            continue
        part = f"# --- {_name(page)}:{line}\n{code}"
        if re.search(r"^import mpi4numba\b", code, re.M) or not programs:
            programs.append((f"{_name(page)}:{line}", part))
        else:
            where, source = programs[-1]
            programs[-1] = (where, source + "\n" + part)
    return programs


PROGRAMS = [program for page in _python_pages() for program in _programs(page)]


@pytest.mark.parametrize("where, source", PROGRAMS, ids=[where for where, _ in PROGRAMS])
def test_python_snippets_run(where, source, tmp_path):
    program = tmp_path / "snippets.py"
    program.write_text(source)
    done = mpiexec(2, str(program), timeout=600, env={"MPI4NUMBA_THREAD_LEVEL": None})
    assert done.returncode == 0, f"{where}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _bash_blocks() -> list[tuple[str, str]]:
    return [
        (f"{_name(page)}:{line}", code)
        for page in PAGES
        for line, language, code, reason in blocks(page)
        if language == "bash" and reason is None
    ]


@pytest.mark.parametrize("where, code", _bash_blocks(), ids=[where for where, _ in _bash_blocks()])
def test_shell_snippets_run(where, code, tmp_path):
    env = {**os.environ, "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    for key in [key for key in env if key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))]:
        del env[key]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, f"{where}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
