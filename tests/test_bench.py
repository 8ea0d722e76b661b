"""``python -m mpi4numba.bench``: helloworld, latency, strided, halo and others, each run as its own mpiexec jobs."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpi4numba.bench import machine

pytestmark = pytest.mark.driver

ROOT = Path(__file__).resolve().parent.parent
MPIEXEC = str(Path(sys.executable).parent / "mpiexec")
LABELS = (
    "ping-pong 8 B",
    "ping-pong 1 KiB",
    "ping-pong 64 KiB",
    "allreduce 1 double",
    "bcast 1 double",
    "barrier",
    "isend+irecv+waitall 8 B",
)
CELL = re.compile(r"^\d+\.\d{3} \(\d+\.\d{3}\)$")


def _env() -> dict[str, str]:
    """This environment, less what would make a child think it is already inside a job."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_"))
    }


def _run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def _needs_mpicc() -> None:
    from mpi4numba.bench._cbuild import BuildError, find_mpicc

    try:
        find_mpicc()
    except BuildError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_helloworld_matches_mpi4py(np_: int) -> None:
    ours = _run([MPIEXEC, "-n", str(np_), sys.executable, "-m", "mpi4numba.bench", "helloworld"]).stdout
    lines = ours.splitlines()
    assert len(lines) == np_
    width = len(str(np_ - 1))
    for rank, line in enumerate(lines):
        assert re.fullmatch(rf"Hello, World! I am process {rank:{width}d} of {np_} on \S.*\.", line), line
    reference = _run([MPIEXEC, "-n", str(np_), sys.executable, "-m", "mpi4py.bench", "helloworld"]).stdout
    assert ours == reference


def test_helloworld_quiet() -> None:
    done = _run([MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4numba.bench", "helloworld", "-q"])
    assert done.stdout == ""


def _table(stdout: str) -> dict[str, list[str]]:
    """Rows of the printed table: label -> its other cells."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| operation"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _check_table(stdout: str) -> None:
    rows = _table(stdout)
    assert sorted(rows) == sorted(LABELS), stdout
    for label, cells in rows.items():
        assert len(cells) == 5, (label, cells)
        for cell in cells[:3]:
            assert CELL.match(cell), (label, cell)
        for ratio in cells[3:]:
            assert float(ratio) > 0, (label, ratio)


def test_latency_launcher(tmp_path: Path) -> None:
    _needs_mpicc()
    raw = tmp_path / "raw.json"
    command = [
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "latency",
        "--repeat",
        "1",
        "--iterations",
        "200",
        "--json",
        str(raw),
    ]
    done = _run(command, timeout=600)
    _check_table(done.stdout)
    record = json.loads(raw.read_text())
    assert sorted(job["stack"] for job in record["jobs"]) == ["C", "mpi4numba", "mpi4py"]
    (level,) = {job["thread_level"] for job in record["jobs"]}  # one level for all stacks
    assert f"2 processes, MPI thread level {level}" in done.stdout


def test_latency_thread_level_reaches_every_job(tmp_path: Path) -> None:
    _needs_mpicc()
    raw = tmp_path / "raw.json"
    command = [
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "latency",
        "--repeat",
        "1",
        "--iterations",
        "50",
        "--warmup",
        "5",
        "--thread-level",
        "serialized,funneled",
        "--json",
        str(raw),
    ]
    done = _run(command, timeout=600)
    for level in ("serialized", "funneled"):  # a whole comparison at each level
        assert f"MPI thread level {level} (every stack)" in done.stdout
        jobs = json.loads(Path(f"{raw}.{level}").read_text())["jobs"]
        assert sorted(job["stack"] for job in jobs) == ["C", "mpi4numba", "mpi4py"]
        assert {job["thread_level"] for job in jobs} == {level}
    # then what each level costs mpi4numba, against the first
    summary = done.stdout.split("# mpi4numba at each MPI thread level")[1]
    head = summary.splitlines()[1]
    assert "serialized µs" in head and "funneled µs" in head and "funneled / serialized" in head, summary
    levels = json.loads(raw.read_text())["levels"]
    assert set(levels) == {"serialized", "funneled"} and levels["funneled"]["mpi4numba"]["barrier"], levels


def test_latency_inside_one_job() -> None:
    _needs_mpicc()
    command = [
        MPIEXEC,
        "-n",
        "2",
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "latency",
        "--repeat",
        "1",
        "--iterations",
        "200",
    ]
    done = _run(command, timeout=600)
    _check_table(done.stdout)
    assert "in one mpiexec job" in done.stdout


PYTHON_LABELS = (
    "ping-pong 8 B: send(a, 1), recv(a, 1)",
    "the same, every argument by keyword",
    "allreduce(a, b), 1 double",
    "bcast(a, 0), 1 double",
    "barrier()",
    "isend+irecv+waitall 8 B",
    "rank()",
)


def _check_python_table(stdout: str, numba_mpi: bool) -> None:
    head = next(line for line in stdout.splitlines() if line.startswith("| operation"))
    assert [cell.strip() for cell in head.strip("|").split("|")] == [
        "operation",
        "mpi4numba µs",
        "numba-mpi µs",
        "mpi4py µs",
        "mpi4numba/mpi4py",
        "numba-mpi/mpi4py",
    ], head
    rows = _table(stdout)
    assert list(rows) == list(PYTHON_LABELS), stdout
    for label, cells in rows.items():
        assert len(cells) == 5, (label, cells)
        for cell in (cells[0], cells[2], *cells[1:2] * numba_mpi):
            assert CELL.match(cell), (label, cell)
        for ratio in (cells[3], *cells[4:] * numba_mpi):
            assert float(ratio) > 0, (label, ratio)
        if not numba_mpi:
            assert cells[1] == cells[4] == "-", (label, cells)


def test_latency_from_python_inside_one_job() -> None:
    """``--from-python`` under mpiexec: the three stacks' calls from Python in this job."""
    command = [MPIEXEC, "-n", "2", sys.executable, "-m", "mpi4numba.bench", "latency", "--from-python"]
    done = _run([*command, "--repeat", "2", "--iterations", "50", "--warmup", "0"], timeout=600)
    numba_mpi = importlib.util.find_spec("numba_mpi") is not None
    _check_python_table(done.stdout, numba_mpi)
    assert (
        "calls from Python: 2 processes" in done.stdout and "2 round(s) of mpi4numba, numba-mpi, mpi4py" in done.stdout
    )
    assert "after 2 warm-up" in done.stdout  # a first call compiles: never timed


def test_latency_from_python_launcher(tmp_path: Path) -> None:
    """Launched: one job for all rounds, at the level asked for; one process (no
    point-to-point rows there)."""
    raw = tmp_path / "raw.json"
    command = [sys.executable, "-m", "mpi4numba.bench", "latency", "--from-python", "-n", "1"]
    done = _run([*command, "--repeat", "1", "--iterations", "20", "--thread-level", "funneled", "--json", str(raw)])
    assert "MPI thread level funneled (every stack)" in done.stdout
    rows = _table(done.stdout)
    assert list(rows) == list(PYTHON_LABELS)
    for label in PYTHON_LABELS[:2] + PYTHON_LABELS[5:6]:
        assert rows[label] == ["-"] * 5, (label, rows[label])
    assert CELL.match(rows["rank()"][0]) and CELL.match(rows["rank()"][2]), rows
    record = json.loads(raw.read_text())
    assert record["mode"] == "launcher" and record["job"]["thread_level"] == "funneled"
    assert len(record["results"]["mpi4py"]["allreduce"]) == 1


def _strided_rows(done, labels: list[str]) -> None:
    """The table has the variants' columns, a row per label and pattern, well-formed cells."""
    rows = _table(done.stdout)
    head = rows.pop("layout pattern")
    assert head == [
        "datatype µs",
        "pack µs",
        "auto µs",
        "njit copy µs",
        "contiguous µs",
        "auto/min(pack,datatype) (≤ 1.1)",
        "strided/contiguous (≤ 1.5)",
    ], done.stdout
    names = [f"{label} {pattern}" for label in labels for pattern in ("ping-pong", "sendrecv", "isend/irecv")]
    assert list(rows) == names, done.stdout
    for name in names:
        *cells, auto_ratio, contiguous_ratio = rows[name]
        for cell in cells:
            assert re.fullmatch(r"\d+\.\d \(\d+\.\d\)", cell), (name, cell)
        assert float(auto_ratio) > 0 and float(contiguous_ratio) > 0
    assert "MPI thread level" in done.stdout


def test_strided_faces_small_grid() -> None:
    command = [*BENCH, "strided", "--layouts", "faces", "--size", "16"]
    done = _run([*command, "--repeat", "2", "--iterations", "10", "--warmup", "1"], timeout=600)
    _strided_rows(done, [f"{face} of 16^3" for face in ("a[0]", "a[:,0]", "a[:,:,0]")])
    assert "faces of a 16^3 float64 grid" in done.stdout and "columns" not in done.stdout


def test_strided_columns_table() -> None:
    command = [*BENCH, "strided", "--layouts", "columns", "--rows", "16,64", "--width", "4"]
    done = _run([*command, "--repeat", "2", "--iterations", "20", "--warmup", "1"], timeout=600)
    _strided_rows(done, [f"u[:,1] {rows}x4" for rows in (16, 64)])
    assert "faces" not in done.stdout


def test_strided_rejects_bad_arguments() -> None:
    _refused(["strided", "--layouts", "rows"], "--layouts: choose among faces, columns")
    _refused(["strided", "--rows", "1k"], "--rows must be comma-separated integers")


def _halo(env: dict[str, str] | None = None) -> tuple[list[str], list[list[str]], str]:
    """A tiny ``halo`` run: its table's head and rows, and its stdout."""
    command = [*BENCH, "halo", "--sizes", "32x4,16x2", "--steps", "6", "--repeat", "2", "--warmup", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env or _env(), cwd=ROOT)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    head, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in lines)
    assert re.search(
        r"^# fields after the last step: max abs difference between implementations: 0 \(equal\)$",
        done.stdout,
        re.M,
    ), done.stdout
    assert "columns periodic over 2 processes, MPI thread level " in done.stdout
    return head, rows, done.stdout


def _check_halo(head: list[str], rows: list[list[str]], numba_mpi: bool) -> None:
    references = ["numba-mpi", "mpi4py"] if numba_mpi else ["mpi4py"]
    assert head == ["size per rank", "implementation", "µs per step", *(f"/ {name}" for name in references)], head
    for size in ("32x4", "16x2"):
        labels = [row[1] for row in rows if row[0] == size]
        assert labels[0].startswith("mpi4numba (") and labels[-2:] == ["mpi4py", "stencil only (no exchange)"]
        assert ("numba-mpi" in labels) == numba_mpi, labels
        assert all(label.startswith("mpi4numba (") for label in labels[: -2 - numba_mpi]), labels
    for row in rows:
        assert len(row) == len(head) and re.fullmatch(r"\d+\.\d \(\d+\.\d\)", row[2]), row
        assert all(float(ratio) > 0 for ratio in row[3:]), row
        if row[1] in references:  # its own ratio
            assert row[3 + references.index(row[1])] == "1.00", row


def test_halo_table_and_equal_fields() -> None:
    head, rows, _ = _halo()
    _check_halo(head, rows, importlib.util.find_spec("numba_mpi") is not None)


def test_halo_without_numba_mpi(tmp_path: Path) -> None:
    (tmp_path / "numba_mpi").mkdir()
    (tmp_path / "numba_mpi" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**_env(), "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    head, rows, stdout = _halo(env)
    _check_halo(head, rows, numba_mpi=False)
    assert "# numba-mpi is not installed or cannot load: its implementation and '/ numba-mpi' are skipped" in stdout


def test_halo_rejects_bad_arguments() -> None:
    _refused(["halo", "--sizes", "32"], "--sizes: ROWSxCOLS, comma-separated")
    _refused(["halo", "--steps", "0"], "--steps must be at least 1")


def test_inplace_allreduce_table() -> None:
    command = [
        MPIEXEC,
        "-n",
        "2",
        sys.executable,
        "-m",
        "mpi4numba.bench",
        "inplace",
        "--repeat",
        "2",
        "--iterations",
        "20",
        "--warmup",
        "2",
    ]
    done = _run(command, timeout=600)
    lines = _before_machine(done.stdout).splitlines()
    assert "thread level" in lines[0] and "2 processes" in lines[0], done.stdout
    rows = [line.split() for line in lines if not line.startswith("#") and "size" not in line]
    assert [" ".join(row[:2]) for row in rows] == ["8 B", "8 KiB", "1 MiB"], done.stdout
    for row in rows:
        assert re.fullmatch(r"\d+\.\d{3}", row[2]) and float(row[-1]) > 0, row


PERSISTENT_LABELS = [
    "allreduce 1 double",
    "allreduce_init: start + wait",
    "bcast 1 double",
    "bcast_init: start + wait",
    "neighbor_alltoall, ring",
    "neighbor_alltoall_init: start + wait",
    "filled by threads, one isend",
    "filled by threads, partitioned",
    "the threads' fill alone, no MPI",
]


def test_persistent_table(tmp_path: Path) -> None:
    """The launcher runs C (with OpenMP) and mpi4numba in one job; every operation has a time
    per stack, the ratio to C, and the persistent forms their ratio to the blocking ones."""
    _needs_mpicc()
    raw = tmp_path / "raw.json"
    command = [sys.executable, "-m", "mpi4numba.bench", "persistent", "-n", "2", "--repeat", "2"]
    command += ["--iterations", "20", "--warmup", "2", "--threads", "2", "--elements", "64", "--json", str(raw)]
    done = _run(command, timeout=600)
    results = json.loads(raw.read_text())["results"]
    lines = _before_machine(done.stdout).splitlines()
    assert "2 processes" in lines[0] and "thread level multiple" in lines[0], done.stdout
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")][1:]
    assert [row[0] for row in rows] == PERSISTENT_LABELS, done.stdout
    for row in rows:
        assert CELL.match(row[1]) and CELL.match(row[2]) and float(row[3]) > 0, row
        assert (row[4] == "") == (row[0] in PERSISTENT_LABELS[0:7:2] + PERSISTENT_LABELS[8:]), row  # nothing to compare
        if not row[0].startswith("filled by threads"):
            assert row[6] == "", row
            continue
        # the fill taken out: a ratio, or n/a where the fill alone took as long as the message in every round
        op = "isend_filled" if "isend" in row[0] else "psend_filled"
        c, ours = results["C"], results["mpi4numba"]
        measurable = any(
            c_op > c_fill and ours_op > ours_fill
            for c_op, c_fill, ours_op, ours_fill in zip(c[op], c["fill_only"], ours[op], ours["fill_only"])
        )
        assert float(row[6]) > 0 if measurable else row[6] == "n/a", (row, results)


def test_a_native_build_falls_back_where_the_compiler_refuses_march_native(tmp_path: Path, monkeypatch) -> None:
    """The C baselines built for this machine's CPU (as Numba compiles) where ``mpicc``
    takes ``-march=native``, else as before."""
    from mpi4numba.bench import _cbuild

    wrapper = tmp_path / "mpicc"
    log = tmp_path / "calls"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'case " $* " in *" -march=native "*) echo "unknown option" >&2; exit 1;; esac\n'
        'while [ "$1" != "-o" ]; do shift; done\n'
        'echo built > "$2"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("MPICC", str(wrapper))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    built = _cbuild.build(library=True, source=_cbuild.SOURCE, flags=("-fopenmp",), native=True)
    assert built.read_text() == "built\n"
    calls = log.read_text().splitlines()
    assert len(calls) == 2 and "-march=native" in calls[0] and "-march=native" not in calls[1], calls


def test_io_table() -> None:
    """mpi4numba, mpi4py and NumPy write the same global array (checked on disk by the job)."""
    command = [sys.executable, "-m", "mpi4numba.bench", "io", "-n", "2", "--megabytes", "2", "--repeat", "2"]
    done = _run(command, timeout=600)
    lines = _before_machine(done.stdout).splitlines()
    assert "2 processes write a 2 MiB float64 array" in lines[0], done.stdout
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| ")][1:]
    assert [row[0] for row in rows] == ["mpi4numba", "mpi4py", "numpy tofile (rank 0 alone)"], done.stdout
    for row in rows:
        assert re.fullmatch(r"\d+\.\d{2} \(\d+\.\d{2}\)", row[1]), row


def test_inplace_rejects_bad_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mpi4numba.bench", "inplace", "--repeat", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=ROOT,
    )
    assert done.returncode == 2 and "--repeat must be at least 1" in done.stderr


# --- ringtest, pingpong, pi, startup ---

BENCH = [sys.executable, "-m", "mpi4numba.bench"]
RING_LINE = re.compile(r"time for (\d+) loops = (\S+) seconds \((\d+) processes, (\d+) bytes\)")
PINGPONG_HEADER = ["# MPI PingPong Test", "# Size [B]  Bandwidth [MB/s] | Time Mean [s] \u00b1 StdDev [s]  Samples"]
PINGPONG_LINE = re.compile(r" *(\d+) +(\d+\.\d\d|inf) \| (\d\.\d{7}e[+-]\d\d) \u00b1 (\d\.\d{4}e[+-]\d\d) +(\d+)")
PI_ROW = re.compile(r" *(\d+) +(\S+) +(\d+\.\d{6}) +(\d+\.\d{6}) +(\d+\.\d\d|\d\.\de[+-]\d\d) +(\d\.\de[+-]\d\d)")
STARTUP_CELL = re.compile(r"\d+\.\d{3} \(\d+\.\d{3}\)")


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One Numba cache for these tests: the kernels compile once (seconds), not in every job."""
    return str(tmp_path_factory.mktemp("numba-cache"))


def _mpirun(cache: str, np_: int, *args: str, reference: bool = False) -> subprocess.CompletedProcess:
    """``mpiexec -n np_`` running ``python -m mpi4numba.bench`` (mpi4py.bench if ``reference``)."""
    module = "mpi4py.bench" if reference else "mpi4numba.bench"
    command = [MPIEXEC, "-n", str(np_), sys.executable, "-m", module, *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**_env(), "NUMBA_CACHE_DIR": cache, "MPIEXEC_TIMEOUT": "240"},
    )
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def _refused(args: list[str], message: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command that must stop at once with exit status 2 and one error line naming ``message``."""
    done = subprocess.run([*BENCH, *args], capture_output=True, text=True, timeout=120, env=env or _env(), cwd=ROOT)
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], (args, done.stderr)
    assert done.stdout == ""
    return done


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_ringtest_output(np_: int, numba_cache: str) -> None:
    done = _mpirun(numba_cache, np_, "ringtest", "-n", "64", "-s", "2", "-l", "20")
    match = RING_LINE.fullmatch(done.stdout.rstrip("\n"))
    assert match, done.stdout
    loops, seconds, processes, nbytes = match.groups()
    assert (loops, processes, nbytes) == ("20", str(np_), "64") and float(seconds) >= 0


def test_ringtest_same_format_as_mpi4py(numba_cache: str) -> None:
    options = ["ringtest", "-n", "8", "-l", "5"]
    ours = _mpirun(numba_cache, 2, *options).stdout
    reference = _mpirun(numba_cache, 2, *options, reference=True).stdout
    assert RING_LINE.sub("", ours) == RING_LINE.sub("", reference) == "\n"
    assert RING_LINE.match(ours).group(1, 3, 4) == RING_LINE.match(reference).group(1, 3, 4)


def test_ringtest_quiet_at_a_thread_level(numba_cache: str) -> None:
    assert _mpirun(numba_cache, 2, "ringtest", "-q", "--thread-level", "single", "-l", "3").stdout == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["-l", "0"], "-l/--loop must be at least 1"),
        (["-s", "x"], "invalid int value"),
    ],
)
def test_ringtest_rejects_bad_arguments(args: list[str], message: str) -> None:
    _refused(["ringtest", *args], message)


def _pingpong_rows(stdout: str) -> list[tuple[str, ...]]:
    lines = stdout.splitlines()
    assert lines[:2] == PINGPONG_HEADER, stdout
    rows = [PINGPONG_LINE.fullmatch(line) for line in lines[2:]]
    assert all(rows), stdout
    return [row.groups() for row in rows]


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_pingpong_output(np_: int, numba_cache: str) -> None:
    done = _mpirun(
        numba_cache,
        np_,
        "pingpong",
        "-n",
        "4096",
        "-s",
        "2",
        "-l",
        "20",
        "--large-size",
        "1024",
        "--skip-large",
        "1",
        "--loop-large",
        "5",
    )
    rows = _pingpong_rows(done.stdout)
    assert [int(row[0]) for row in rows] == [1 << i for i in range(13)]
    assert [int(row[4]) for row in rows] == [20] * 11 + [5] * 2  # fewer trips above --large-size
    for nbytes, bandwidth, mean, stdev, _ in rows:
        assert float(mean) > 0 and float(stdev) >= 0
        if bandwidth != "inf":  # MB/s from the rounded mean: agrees to its 8 digits
            assert float(bandwidth) == pytest.approx(int(nbytes) / float(mean) / 1e6, rel=1e-6, abs=0.01)


def test_pingpong_same_format_as_mpi4py(numba_cache: str) -> None:
    options = ["pingpong", "-m", "4", "-n", "64", "-s", "1", "-l", "10"]
    ours = _pingpong_rows(_mpirun(numba_cache, 2, *options).stdout)
    reference = _pingpong_rows(_mpirun(numba_cache, 2, *options, reference=True).stdout)
    assert [(row[0], row[4]) for row in ours] == [(row[0], row[4]) for row in reference]


def test_pingpong_without_header_and_stats(numba_cache: str) -> None:
    done = _mpirun(numba_cache, 1, "pingpong", "-n", "16", "-l", "5", "--no-header", "--no-stats")
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["1", "2", "4", "8", "16"]
    assert all(re.fullmatch(r" *\d+ +(\d+\.\d\d|inf)", line) for line in done.stdout.splitlines()), done.stdout
    assert _mpirun(numba_cache, 2, "pingpong", "-q", "-n", "16", "-l", "5").stdout == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p"], "-p/--pickle is not supported"),
        (["-a", "none"], "--array none is not supported"),
        (["-m", "5", "-n", "6"], "no power of two between"),
        (["-l", "0"], "--loop must be at least 1"),
    ],
)
def test_pingpong_rejects_bad_arguments(args: list[str], message: str) -> None:
    _refused(["pingpong", *args], message)


@pytest.mark.parametrize("np_", [1, 2, 3])
def test_pi_table(np_: int, numba_cache: str) -> None:
    from mpi4numba.bench.pi import tolerance

    done = _mpirun(numba_cache, np_, "pi", "--intervals", "1000", "--calls", "1,10", "--repeat", "1")
    lines = done.stdout.splitlines()
    processes = "1 process" if np_ == 1 else f"{np_} processes"
    assert re.match(
        rf"# pi by the midpoint rule over 1000 intervals, {processes}, MPI thread level "
        r"(single|funneled|serialized|multiple), ",
        lines[0],
    ), done.stdout
    assert lines[2].split() == [
        "calls",
        "intervals/call",
        "mpi4numba",
        "[s]",
        "mpi4py",
        "[s]",
        "mpi4py/mpi4numba",
        "pi",
        "error",
    ]
    rows = [PI_ROW.fullmatch(line) for line in lines[3:]]
    assert len(rows) == 2 and all(rows), done.stdout
    assert [row.group(1) for row in rows] == ["1", "10"]
    for row in rows:
        assert float(row.group(5)) > 0 and float(row.group(6)) <= tolerance(1000)
    assert "pi: 2/2" in done.stderr  # progress goes to stderr


def test_pi_plot(tmp_path: Path, numba_cache: str) -> None:
    pytest.importorskip("matplotlib")
    figure = tmp_path / "ratio.png"
    _mpirun(numba_cache, 2, "pi", "--intervals", "1000", "--calls", "1,10,100", "--repeat", "1", "--plot", str(figure))
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pi_plot_without_matplotlib(tmp_path: Path) -> None:
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {**_env(), "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    _refused(["pi", "--plot", str(tmp_path / "ratio.png")], "--plot needs matplotlib", env=env)
    assert not (tmp_path / "ratio.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--calls", "1,x"], "--calls must be comma-separated integers"),
        (["--intervals", "10", "--calls", "100"], "--calls values must lie between 1 and --intervals (10)"),
        (["--repeat", "0"], "--repeat must be at least 1"),
    ],
)
def test_pi_rejects_bad_arguments(args: list[str], message: str) -> None:
    _refused(["pi", *args], message)


def _before_machine(stdout: str) -> str:
    """A measuring command's output without its last line, which names the machine (once)."""
    rest, last = stdout.rstrip("\n").rsplit("\n", 1)
    assert last == f"# {machine()}" and machine() not in rest, stdout
    return rest


def test_startup_cold_and_warm(tmp_path: Path) -> None:
    raw = tmp_path / "startup.json"
    done = _run([*BENCH, "startup", "-n", "1,2", "--functions", "2", "--json", str(raw)], timeout=600)
    assert _before_machine(done.stdout).startswith("# mpi4numba start-up: 1 process per job, MPI thread level ")
    assert "# mpi4numba start-up: 2 processes per job" in done.stdout
    rows = _table(done.stdout.split("# mpi4numba start-up: 2 processes")[1])
    assert list(rows) == [
        "step",
        "import numpy",
        "import numba",
        "import mpi4numba",
        "MPI init (from mpi4py import MPI)",
        "mpi4numba routines (bind libmpi)",
        "cached functions: compile (cold) / cache load (warm)",
        "cached functions: first call",
        "total",
    ], done.stdout
    for label, cells in list(rows.items())[1:]:
        assert len(cells) == 2 and all(STARTUP_CELL.fullmatch(cell) for cell in cells), (label, cells)
    assert "# cold job: 2 compiles of 2 function(s) on 2 ranks (the rest loaded from the cache)" in done.stdout
    assert re.search(r"^-n 1: \d+\.\d{3} s \(1\.00\)$", done.stdout, re.M), done.stdout
    assert re.search(r"^-n 2: -?\d+\.\d{3} s \(-?\d+\.\d\d\)$", done.stdout, re.M), done.stdout
    runs = json.loads(raw.read_text())["runs"]
    for count, jobs in runs.items():
        assert [len(jobs[job]["ranks"]) for job in ("cold", "warm")] == [int(count)] * 2
        # the ranks of the node compile each function once between them; the warm job loads everything
        assert sum(r["cache_misses"] for r in jobs["cold"]["ranks"]) == 2
        assert all(r["cache_hits"] == 2 and r["cache_misses"] == 0 for r in jobs["warm"]["ranks"])
        compile_ = {job: max(r["seconds"]["compile"] for r in jobs[job]["ranks"]) for job in ("cold", "warm")}
        assert compile_["cold"] > compile_["warm"], compile_


def test_compile_side_by_side(tmp_path: Path) -> None:
    raw = tmp_path / "compile.json"
    done = _run([*BENCH, "compile", "--rounds", "1", "--cases", "dtype,floor", "--json", str(raw)], timeout=600)
    rows = _table(done.stdout)
    stacks = ["mpi4numba"] + (["numba-mpi"] if importlib.util.find_spec("numba_mpi") else [])
    assert list(rows) == [
        "case",
        "the same call site, each new dtype (int64)",
        "reference: a first njit function without MPI",
    ], done.stdout
    results = json.loads(raw.read_text())["results"]
    assert list(results) == stacks
    for stack in stacks:
        assert all(0 < seconds < 60 for case in ("dtype", "floor") for seconds in results[stack][case]), results


def test_startup_refuses_to_run_under_mpiexec() -> None:
    done = subprocess.run(
        [MPIEXEC, "-n", "2", *BENCH, "startup"], capture_output=True, text=True, timeout=120, env=_env(), cwd=ROOT
    )
    assert done.returncode == 2 and done.stderr.count("run it without mpiexec") == 1, done.stderr


def test_startup_rejects_bad_arguments() -> None:
    _refused(["startup", "-n", "0"], "-n/--np must be at least 1")
    _refused(["startup", "--functions", "5"], "--functions: invalid choice")


def test_latency_rejects_an_unknown_thread_level() -> None:
    _refused(["latency", "--thread-level", "funneled,fast"], "--thread-level: unknown level 'fast'")


def test_calibrate_measures_saves_and_mpi4numba_reads_the_table(tmp_path) -> None:
    """A small calibration (runs of 8 and 16 bytes, arrays up to 2 KiB) prints the table and
    the ratios, and --save writes a table that a new process of mpi4numba uses."""
    import json
    import os

    path = tmp_path / "table.json"
    command = [*BENCH, "calibrate", "--max-bytes", "2048", "--max-run", "16", "--repeat", "1", "--save"]
    env = {**_env(), "MPI4NUMBA_STRIDED_TABLE": str(path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    saved = json.loads(path.read_text())
    table = saved["table"]
    assert len(table) == 10 and all(len(row) == 16 and set(row) <= set("P.pd") for row in table), table
    assert all(row == "." * 16 for row in table[2:]), table  # runs longer than --max-run: datatypes
    assert saved["processes"] == 2 and len(saved["ratios"]["edge"][0]) == 16
    assert "table = " + json.dumps(table) in done.stdout
    check = f"from mpi4numba.datatypes import strided_settings as f; print(f()['table'] == {table!r}, f()['source'])"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and done.stdout.split()[:2] == ["True", "calibrated"], done.stdout + done.stderr
    assert os.fspath(path) in done.stdout


def test_calibrate_rejects_bad_arguments() -> None:
    _refused(["calibrate", "--max-bytes", "10"], "--max-bytes >= 1024")
