"""``python -m mpi4numba.bench suite``: tiny runs of the OSU-style suite, launched as its own jobs."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.driver

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = str(Path(sys.executable).parent / "mpiexec")
SUITE = [sys.executable, "-m", "mpi4numba.bench", "suite"]
TINY = ["--repeat", "2", "--iterations", "20", "--warmup", "2", "--window", "4"]
CELL = re.compile(r"\d+(\.\d+)? \(\d+(\.\d+)?–\d+(\.\d+)?\)")
RATIO = re.compile(r"\d+\.\d\d")
SIZE = re.compile(r"\d+ (B|KiB|MiB)")
P2P = ("latency", "bw")
COLLECTIVES = ("allreduce", "bcast", "reduce", "allgather", "alltoall", "barrier")


def _env(**extra: str) -> dict[str, str]:
    """This environment, less what would make a child think it is already inside a job."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))
    }
    return {**env, **extra}


def _run(command: list[str], timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(**env), cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def _needs_mpicc() -> None:
    from mpi4numba.bench._cbuild import BuildError, find_mpicc

    try:
        find_mpicc()
    except BuildError as exc:
        pytest.skip(str(exc))


def _sections(stdout: str) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """op -> (column heads, size label -> cells) of each ``## op`` section of the table."""
    sections: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith("## "):
            current = line[3:].split()[0].rstrip(":")
            sections[current] = ([], {})
        elif line.startswith("|") and current and not line.startswith("|-"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            heads, rows = sections[current]
            if cells[0] == "size":
                heads.extend(cells[1:])
            else:
                rows[cells[0]] = cells[1:]
    return sections


def _expected_sizes(op: str, sizes: list[int]) -> list[int]:
    if op == "barrier":
        return [0]
    if op == "bw":
        sizes = [size for size in sizes if size > 0]
    return [size for size in sizes if size % 4 == 0] if op in ("allreduce", "reduce") else sizes


def _check(
    stdout: str, document: dict, ops: tuple[str, ...], sizes: list[int], stacks: tuple[str, ...], processes: int
) -> None:
    """Table, header and JSON agree and hold every (op, size, stack) with sane numbers."""
    assert document["processes"] == processes and document["mpi_library"]
    level = document["thread_level"]
    assert re.match(rf"# mpi4numba suite \(OSU-style\): {processes} processes, MPI thread level {level} ", stdout)
    for line in stdout.splitlines():  # results only: no progress lines on stdout
        assert line == "" or line.startswith(("#", "|")), line
    sections = _sections(stdout)
    assert list(sections) == list(ops), stdout
    results = {(r["op"], r["size"], r["stack"]): r for r in document["results"]}
    assert len(results) == len(document["results"])
    for op in ops:
        heads, rows = sections[op]
        unit = "MB/s" if op == "bw" else "µs"
        expected_heads = [f"C {unit}"] + [h for s in stacks[1:] for h in (f"{s} {unit}", f"{s}/C")]
        assert heads == expected_heads, (op, heads)
        assert all(SIZE.fullmatch(label) for label in rows), rows
        by_size = {_bytes(label): cells for label, cells in rows.items()}
        assert sorted(by_size) == _expected_sizes(op, sizes), (op, rows)
        for size in _expected_sizes(op, sizes):
            for stack in stacks:
                r = results[(op, size, stack)]
                assert r["unit"] == ("MB/s" if op == "bw" else "us")
                assert 0 < r["min"] <= r["median"] <= r["max"], r
                assert len(r["values"]) == r["rounds"] == document["rounds"]
                assert r["thread_level"] == level and r["processes"] == processes
                baseline = results[(op, size, "C")]["median"]
                assert math.isclose(r["ratio_to_c"], r["median"] / baseline, rel_tol=1e-12)
            cells = by_size[size]  # C, then per stack: value, ratio to C
            assert all(CELL.fullmatch(cell) for cell in [cells[0], *cells[1::2]]), (op, size, cells)
            assert all(RATIO.fullmatch(cell) for cell in cells[2::2]), (op, size, cells)
    assert {key[0] for key in results} == set(ops)


def _bytes(label: str) -> int:
    number, unit = label.split()
    return int(number) << {"B": 0, "KiB": 10, "MiB": 20}[unit]


def test_launcher_two_processes_json_csv(tmp_path: Path) -> None:
    """Every op at 0..64 B, three stacks, -n 2 through the launcher; the files hold it all."""
    _needs_mpicc()
    raw, table = tmp_path / "suite.json", tmp_path / "suite.csv"
    done = _run(
        [
            *SUITE,
            "-n",
            "2",
            *TINY,
            "--max-size",
            "64",
            "--stacks",
            "C,mpi4numba,mpi4py",
            "--json",
            str(raw),
            "--csv",
            str(table),
        ],
        NUMBA_NRT_STATS="1",
    )
    document = json.loads(raw.read_text())
    sizes = [0, 1, 2, 4, 8, 16, 32, 64]
    _check(done.stdout, document, P2P + COLLECTIVES, sizes, ("C", "mpi4numba", "mpi4py"), 2)
    assert "# note: bw: 0 B skipped" in done.stdout
    assert "# note: allreduce: 1 B, 2 B skipped" in done.stdout
    # the njit loops allocate nothing per iteration (request slots of a preallocated array)
    allocations = {
        (r["op"], r["size"]): r["allocs_per_iteration"] for r in document["results"] if r["stack"] == "mpi4numba"
    }
    assert allocations and set(allocations.values()) == {0.0}, allocations
    with table.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(document["results"])
    for row, record in zip(rows, document["results"]):
        assert (row["op"], int(row["size"]), row["stack"]) == (record["op"], record["size"], record["stack"])
        for field in ("min", "median", "max", "ratio_to_c"):
            assert math.isclose(float(row[field]), record[field], rel_tol=1e-9)
        assert row["thread_level"] == document["thread_level"] and row["processes"] == "2"
        assert row["mpi_library"] == document["mpi_library"] and len(row["values"].split()) == 2


def test_collectives_three_processes_in_one_job(tmp_path: Path) -> None:
    """Under mpiexec -n 3 every stack runs in that job, at a chosen thread level."""
    _needs_mpicc()
    raw = tmp_path / "suite.json"
    command = [
        MPIEXEC,
        "-n",
        "3",
        *SUITE,
        *TINY,
        "--repeat",
        "1",
        "--min-size",
        "4",
        "--max-size",
        "16",
        "--ops",
        ",".join(COLLECTIVES),
        "--stacks",
        "mpi4py,mpi4numba,C",
        "--thread-level",
        "serialized",
        "--json",
        str(raw),
    ]
    done = _run(command)
    document = json.loads(raw.read_text())
    assert document["thread_level"] == "serialized"
    _check(done.stdout, document, COLLECTIVES, [4, 8, 16], ("C", "mpi4numba", "mpi4py"), 3)


def test_numba_mpi_beside_the_others(tmp_path: Path) -> None:
    """numba-mpi, when installed, runs what it has; alltoall is skipped with a note."""
    pytest.importorskip("numba_mpi")
    _needs_mpicc()
    raw = tmp_path / "suite.json"
    done = _run(
        [
            *SUITE,
            *TINY,
            "--repeat",
            "1",
            "--max-size",
            "8",
            "--ops",
            "latency,bw,allgather,alltoall",
            "--json",
            str(raw),
        ]
    )
    stacks = {(r["op"], r["stack"]) for r in json.loads(raw.read_text())["results"]}
    assert {("latency", "numba-mpi"), ("bw", "numba-mpi"), ("allgather", "numba-mpi")} <= stacks
    assert ("alltoall", "numba-mpi") not in stacks
    assert "# note: numba-mpi: alltoall skipped" in done.stdout


def test_without_c_compiler_the_others_still_run(tmp_path: Path) -> None:
    raw = tmp_path / "suite.json"
    done = _run(
        [*SUITE, *TINY, "--repeat", "1", "--ops", "barrier", "--stacks", "C,mpi4numba,mpi4py", "--json", str(raw)],
        MPICC=str(tmp_path / "no-such-mpicc"),
    )
    assert "# note: C: skipped" in done.stdout
    results = json.loads(raw.read_text())["results"]
    assert sorted(r["stack"] for r in results) == ["mpi4numba", "mpi4py"]
    assert all(r["ratio_to_c"] is None for r in results)
    heads, rows = _sections(done.stdout)["barrier"]
    assert heads == ["mpi4numba µs", "mpi4py µs"] and CELL.fullmatch(rows["0 B"][0])


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "suite.png"
    _run(
        [
            *SUITE,
            *TINY,
            "--repeat",
            "1",
            "--ops",
            "latency,allreduce,barrier",
            "--max-size",
            "16",
            "--stacks",
            "mpi4numba,mpi4py",
            "--plot",
            str(picture),
        ]
    )
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "arguments, words",
    [
        (["--ops", "allreduce,ping,pong"], ["ping, pong", "latency"]),
        (["--max-size", "lots"], ["--max-size", "lots"]),
        (["--min-size", "-8"], ["--min-size"]),
        (["--min-size", "64", "--max-size", "8"], ["--min-size"]),
        (["--stacks", "fortran"], ["fortran", "numba-mpi"]),
        (["--repeat", "0"], ["--repeat"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(arguments: list[str], words: list[str]) -> None:
    done = subprocess.run([*SUITE, *arguments], capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert all(word in done.stderr for word in words), done.stderr


def test_plot_without_matplotlib_fails_before_any_work(tmp_path: Path) -> None:
    hidden = tmp_path / "matplotlib"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    done = subprocess.run(
        [*SUITE, "--plot", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))),
        cwd=ROOT,
    )
    assert done.returncode == 2 and done.stdout == "" and "matplotlib" in done.stderr, done.stderr
    assert not (tmp_path / "x.png").exists()
