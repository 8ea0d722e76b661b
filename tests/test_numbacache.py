"""Numba's cache shared by the ranks of a job: compiled once per node, never corrupt, never stale."""

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import ROOT, mpiexec

pytestmark = pytest.mark.driver

PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    if os.environ.get("LOCK_DIR_PER_RANK"):  # ranks that cannot see each other's locks: other nodes
        os.environ["MPI4NUMBA_LOCK_DIR"] = os.path.join(os.environ["LOCK_DIR_PER_RANK"], str(rank))
    import numba
    import numpy as np
    import mpi4numba as mpi
    from mpi4numba._core import numbacache as _numbacache

    @numba.njit(cache=True)
    def ring(u):
        halo = np.zeros(1, u.dtype)
        code = mpi.sendrecv(u[-1:], (mpi.rank() + 1) % mpi.size(), halo, (mpi.rank() - 1) % mpi.size())
        return code, halo[0]

    @numba.njit(cache=True)
    def total(u):
        out = np.zeros_like(u)
        return mpi.allreduce(u, out), out.sum()

    @numba.njit(cache=True)
    def odd_only(u):
        return u.sum() * 2

    dtypes = [np.dtype(d) for d in os.environ.get("DTYPES", "f8").split(",")]
    order = (total, ring) if rank % 2 else (ring, total)
    for dtype in dtypes[rank % len(dtypes):] + dtypes[:rank % len(dtypes)]:  # ranks start on different ones
        for function in order:  # and compile in different orders
            function.compile((numba.typeof(np.zeros(3, dtype)),))
    if rank % 2:
        odd_only(np.ones(3))  # a function only some ranks call
    results = []
    for dtype in dtypes:
        u = (np.arange(3) + 10 * rank).astype(dtype)
        results.append([float(x) for x in (*ring(u), *total(u))])
    stats = {f.__name__: [sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())]
             for f in (ring, total, odd_only)}
    report = {"rank": rank, "results": results, "stats": stats, "coordination": _numbacache.stats}
    with open(os.path.join(os.environ["REPORTS"], f"{rank}.json"), "w") as out:  # ranks' stdout interleave
        json.dump(report, out)
    """
)


def run(tmp_path: Path, np_: int, env: dict | None = None, python: str = sys.executable) -> list[dict]:
    script, reports_dir = tmp_path / "cached_ring.py", tmp_path / "reports"
    script.write_text(PROGRAM)
    shutil.rmtree(reports_dir, ignore_errors=True)
    reports_dir.mkdir()
    full_env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "REPORTS": str(reports_dir), **(env or {})}
    done = mpiexec(np_, str(script), env=full_env, python=python, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    reports = sorted((json.loads(path.read_text()) for path in reports_dir.glob("*.json")), key=lambda r: r["rank"])
    assert len(reports) == np_, done.stdout + done.stderr
    dtypes = (env or {}).get("DTYPES", "f8").split(",")
    for report in reports:  # the data that crossed between ranks
        rank = report["rank"]
        for values in report["results"]:
            left = (rank - 1) % np_
            assert values == [0, 10 * left + 2, 0, sum(3 + 30 * r for r in range(np_))], report
        assert len(report["results"]) == len(dtypes)
    reports[0]["stderr"] = done.stderr
    return reports


def compiles(reports: list[dict], name: str) -> int:
    return sum(r["stats"][name][1] for r in reports)


def test_ranks_of_a_node_compile_each_function_once(tmp_path):
    cold = run(tmp_path, 4, {"DTYPES": "f8,i8"})
    # each signature compiled by one rank; the others waited and loaded it
    assert compiles(cold, "ring") == 2 and compiles(cold, "total") == 2, cold
    assert compiles(cold, "odd_only") == 1
    warm = run(tmp_path, 4, {"DTYPES": "f8,i8"})
    assert all(r["stats"]["ring"] == [2, 0] and r["stats"]["total"] == [2, 0] for r in warm), warm


def test_ranks_that_cannot_coordinate_never_load_another_signatures_code(tmp_path):
    """Ranks with separate lock directories (like nodes sharing a filesystem) compile and
    save different signatures of the same functions into one cache at once."""
    env = {"DTYPES": "f8,i8,f4,i4,i2,u8", "LOCK_DIR_PER_RANK": str(tmp_path / "locks")}
    for _ in range(3):  # later runs load whatever the racing saves left; run() checks every result
        run(tmp_path, 3, env)


def test_cache_saves_write_unique_data_files_before_the_index_entry(tmp_path):
    """What makes racing saves safe: no data file is ever rewritten by another save, and an
    index entry only ever names a data file that is complete."""
    from numba.core.caching import IndexDataCacheFile

    import mpi4numba  # noqa: F401  (installs the patched save)

    events = []
    writers = [IndexDataCacheFile(str(tmp_path), "f-1.py311", "stamp") for _ in range(2)]
    for writer in writers:
        save_data, save_index = writer._save_data, writer._save_index
        writer._save_data = lambda name, data, f=save_data: (events.append(("data", name)), f(name, data))
        writer._save_index = lambda overloads, f=save_index: (events.append(("index", dict(overloads))), f(overloads))
    writers[0].save("sig-a", ("code", "a"))
    (tmp_path / "f-1.py311.nbi").unlink()  # the second writer read the index before the first wrote it
    writers[1].save("sig-b", ("code", "b"))
    data_names = [name for kind, name in events if kind == "data"]
    assert len(set(data_names)) == 2  # Numba alone would have written "f-1.py311.1.nbc" twice
    assert events[0][0] == "data" and events[1] == ("index", {"sig-a": data_names[0]})
    assert writers[1].load("sig-b") == ("code", "b") and writers[1].load("sig-a") is None


def test_without_a_lock_directory_every_rank_compiles_after_one_warning(tmp_path):
    reports = run(tmp_path, 2, {"MPI4NUMBA_LOCK_DIR": "/proc/mpi4numba-no-such-dir"})
    assert reports[0]["stderr"].count("ranks cannot coordinate Numba cache compiles") == 2  # one per rank
    assert all(r["coordination"]["fallbacks"] >= 1 for r in reports)


def test_compile_once_can_be_turned_off(tmp_path):
    reports = run(tmp_path, 2, {"MPI4NUMBA_COMPILE_ONCE": "0"})
    assert all(r["coordination"] == {"waited": 0, "compiled_holding_lock": 0, "fallbacks": 0} for r in reports)


def test_code_compiled_against_other_mpi4numba_sources_is_recompiled(tmp_path):
    """The cache tag carries a digest of mpi4numba's sources: a changed mpi4numba never runs
    machine code compiled into a cached function by the old one."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "mpi4numba", copy / "mpi4numba", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    )
    env = {"PYTHONPATH": str(copy)}
    first = run(tmp_path, 2, env)
    assert compiles(first, "ring") == 1
    with open(copy / "mpi4numba" / "_lowering.py", "a") as source:
        source.write("\n# a changed mpi4numba\n")
    changed = run(tmp_path, 2, env)
    assert compiles(changed, "ring") >= 1 and "recompiling" in changed[0]["stderr"], changed
    again = run(tmp_path, 2, env)
    assert compiles(again, "ring") == 0
