"""Numba's cache shared by the ranks of a job: compiled once per node, never corrupt, never stale."""

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import ROOT, mpiexec, write_source

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
    write_source(script, PROGRAM)
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
    # The first compile starts MPI, whose MPI_Init waits for every rank: each rank either
    # held a lock then, or saw the holder's mark while waiting and started MPI too.
    for report in cold:
        coordination = report["coordination"]
        assert coordination["compiled_holding_lock"] or coordination["joined_mpi_start"], cold
    warm = run(tmp_path, 4, {"DTYPES": "f8,i8"})
    assert all(r["stats"]["ring"] == [2, 0] and r["stats"]["total"] == [2, 0] for r in warm), warm


def test_ranks_that_cannot_coordinate_never_load_another_signatures_code(tmp_path):
    """Ranks with separate lock directories (like nodes sharing a filesystem) compile and
    save different signatures of the same functions into one cache at once."""
    env = {"DTYPES": "f8,i8,f4,i4,i2,u8", "LOCK_DIR_PER_RANK": str(tmp_path / "locks")}
    for _ in range(3):  # later runs load whatever the racing saves left; run() checks every result
        run(tmp_path, 3, env)


def test_cache_saves_name_data_files_by_key_and_write_them_before_the_index_entry(tmp_path):
    """What makes racing saves safe: a data file's name comes from its key (another
    signature never rewrites it), and an index entry only ever names a complete file."""
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
    # the race lost sig-a's entry (a miss); its file, compiled from this source, stays
    assert sorted(p.name for p in tmp_path.glob("*.nbc")) == sorted(data_names)
    # the same key and source always get the same name: the index is reproducible
    writers[0].save("sig-a", ("code", "a"))
    assert events[-2] == ("data", data_names[0])
    assert writers[1].load("sig-a") == ("code", "a") and writers[1].load("sig-b") == ("code", "b")


def test_a_save_never_deletes_a_file_another_process_is_about_to_name(tmp_path):
    """Another node (no shared lock) rewrites the index between this process's data write
    and its index write: the file stays and the entry loads (CI of stop 33 saw a dangling name)."""
    from numba.core.caching import IndexDataCacheFile

    import mpi4numba  # noqa: F401  (installs the patched save)

    this, other = (IndexDataCacheFile(str(tmp_path), "f-1.py311", "stamp") for _ in range(2))
    save_data = this._save_data

    def data_then_the_other_node_saves(name, data):
        save_data(name, data)
        other.save("sig-b", ("code", "b"))

    this._save_data = data_then_the_other_node_saves
    this.save("sig-a", ("code", "a"))
    assert this.load("sig-a") == ("code", "a") and this.load("sig-b") == ("code", "b")
    assert len(list(tmp_path.glob("*.nbc"))) == 2


def test_files_of_an_edited_source_are_deleted_unless_an_index_names_them(tmp_path, monkeypatch):
    from numba.core.caching import IndexDataCacheFile

    import mpi4numba  # noqa: F401  (installs the patched save)

    old = IndexDataCacheFile(str(tmp_path), "f-1.py311", ("mtime-1", 10))
    for key in ("sig-a", "sig-b"):
        old.save(key, ("old code", key))
    (tmp_path / "f-1.py311.7.nbc").write_bytes(b"Numba's own numbering, named by no index")
    assert len(list(tmp_path.glob("*.nbc"))) == 3
    new = IndexDataCacheFile(str(tmp_path), "f-1.py311", ("mtime-2", 11))
    new.save("sig-a", ("new code", "a"))
    assert [p.name for p in tmp_path.glob("*.nbc")] == [new._load_index()["sig-a"]]
    # a process still running the old source names its file just after the new index is written
    save_index = new._save_index

    def index_then_the_old_source_saves(overloads):
        save_index(overloads)
        with monkeypatch.context() as another_node:  # its own lock directory
            another_node.setenv("MPI4NUMBA_LOCK_DIR", str(tmp_path / "locks-of-another-node"))
            old.save("sig-a", ("old code", "a"))

    new._save_index = index_then_the_old_source_saves
    new.save("sig-b", ("new code", "b"))
    assert old.load("sig-a") == ("old code", "a")  # its file was kept: the index named it
    assert new.load("sig-b") is None  # the old source's index replaced the new one: a miss


def test_without_a_lock_directory_every_rank_compiles_after_one_warning(tmp_path):
    reports = run(tmp_path, 2, {"MPI4NUMBA_LOCK_DIR": "/proc/mpi4numba-no-such-dir"})
    assert reports[0]["stderr"].count("ranks cannot coordinate Numba cache compiles") == 2  # one per rank
    assert all(r["coordination"]["fallbacks"] >= 1 for r in reports)


def test_compile_once_can_be_turned_off(tmp_path):
    reports = run(tmp_path, 2, {"MPI4NUMBA_COMPILE_ONCE": "0"})
    off = {"waited": 0, "compiled_holding_lock": 0, "fallbacks": 0, "joined_mpi_start": 0}
    assert all(r["coordination"] == off for r in reports)


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
    changed_source = copy / "mpi4numba" / "_core" / "ccall.py"  # compiled into every MPI call
    assert changed_source.is_file()
    with open(changed_source, "a") as source:
        source.write("\n# a changed mpi4numba\n")
    changed = run(tmp_path, 2, env)
    assert compiles(changed, "ring") >= 1 and "recompiling" in changed[0]["stderr"], changed
    again = run(tmp_path, 2, env)
    assert compiles(again, "ring") == 0


WITHOUT_MPI = textwrap.dedent(
    """
    import json, os, sys
    import numba
    import numpy as np
    import mpi4numba

    @numba.njit(cache=True)
    def plain(x):
        return x + 1

    @numba.njit(cache=True, parallel=True)
    def parallel(n):
        total = 0
        for i in numba.prange(n):
            total += i
        return total

    @numba.vectorize(["float64(float64)"], cache=True)
    def twice(x):
        return 2 * x

    @numba.guvectorize(["void(float64[:], float64[:])"], "(n)->()", cache=True)
    def sum_of(a, out):
        out[0] = a.sum()

    @numba.cfunc("int64(int64)", cache=True)
    def plus_two(x):
        return x + 2

    values = [plain(1), parallel(10), float(twice(1.5)), float(sum_of(np.ones(4))), plus_two.ctypes(1)]
    started = "mpi4py.MPI" in sys.modules
    mpi4numba.set_thread_level("serialized")  # still possible: nothing started MPI

    @numba.njit(cache=True)
    def ranks_total(rank):
        out = np.zeros(1)
        return mpi4numba.allreduce(np.array([rank + 1.0]), out), out[0]

    rank = int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))
    report = {"values": values, "started_before": started, "level": mpi4numba.thread_level(),
              "allreduce": list(ranks_total(rank)), "hits": sum(plain.stats.cache_hits.values())}
    with open(os.path.join(os.environ["REPORTS"], f"{rank}.json"), "w") as out:
        json.dump(report, out)
    """
)


def test_cached_code_without_mpi_never_starts_mpi(tmp_path):
    """Under a launcher, compiling and loading cached functions of every kind that make no
    MPI call leaves MPI alone: the thread level can still be chosen afterwards."""
    script, reports_dir = tmp_path / "no_mpi.py", tmp_path / "reports"
    write_source(script, WITHOUT_MPI)
    reports_dir.mkdir()
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "REPORTS": str(reports_dir)}
    for hits in (1, 2):  # cold (one rank compiles, the other loads), then warm
        done = mpiexec(2, str(script), env=env, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        reports = [json.loads(path.read_text()) for path in sorted(reports_dir.glob("*.json"))]
        assert len(reports) == 2
        for report in reports:
            assert report["values"] == [2, 45, 3.0, 4.0, 3] and not report["started_before"], report
            assert report["level"] == "serialized" and report["allreduce"] == [0, 3.0], report
        assert sum(report["hits"] for report in reports) == hits, reports


NODE = textwrap.dedent(
    """
    import importlib, os, sys, time
    sys.path.insert(0, os.environ["MODULE_DIR"])
    import numpy as np
    import mpi4numba  # noqa: F401
    path = os.path.join(os.environ["MODULE_DIR"], "edited.py")
    for version in range(int(os.environ["EDITS"])):
        text = f"import numba\\n@numba.njit(cache=True)\\ndef step(x):\\n    return x + {version}\\n"
        if not os.path.exists(path) or open(path).read() != text:
            with open(path + f".{os.getpid()}", "w") as new:
                new.write(text)
            os.replace(path + f".{os.getpid()}", path)
        module = importlib.import_module("edited") if version == 0 else importlib.reload(sys.modules["edited"])
        for value in (np.float64(1), np.int64(1), np.float32(1)):
            module.step(value)
    """
)


def test_the_cache_directory_holds_only_live_files(tmp_path):
    """Two "nodes" (no shared locks) edit and recompile one cached source 20 times at once:
    afterwards every name in the function's index has its file, and no file of an older
    version of the source is left."""
    import pickle
    import subprocess

    cache = tmp_path / "cache"
    (tmp_path / "node.py").write_text(NODE)
    processes = [
        subprocess.Popen(
            [sys.executable, str(tmp_path / "node.py")],
            env={
                **os.environ,
                "NUMBA_CACHE_DIR": str(cache),
                "MODULE_DIR": str(tmp_path),
                "EDITS": "20",
                "MPI4NUMBA_LOCK_DIR": str(tmp_path / f"locks-{node}"),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    for process in processes:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
    indexes = list(cache.rglob("*.nbi"))
    assert len(indexes) == 1, indexes
    with open(indexes[0], "rb") as index:
        pickle.load(index)  # Numba's version
        _, overloads = pickle.loads(index.read())
    named = set(overloads.values())
    present = {path.name for path in indexes[0].parent.glob("*.nbc")}
    # the index's files are there, and only files compiled from the index's source (at most
    # one per signature: a lost race between the nodes may have dropped an entry, not a file)
    source_tags = {name.split(".")[-2][:8] for name in present | named}
    assert named <= present and 1 <= len(named) <= len(present) <= 3, (present, named)
    assert len(source_tags) == 1, (present, named)


RAISING = textwrap.dedent(
    """
    import fcntl, os, sys
    import numba
    import numpy as np
    import mpi4numba  # noqa: F401
    from mpi4numba._core import numbacache

    def bad(x):
        return x + "a string"

    def bad_kernel(a, out):
        out[0] = a + "a string"

    compilers = {
        "njit": lambda: numba.njit(cache=True)(bad)(1.0),
        "cfunc": lambda: numba.cfunc("float64(float64)", cache=True)(bad),
        "vectorize": lambda: numba.vectorize(["float64(float64)"], cache=True)(bad),
        "guvectorize": lambda: numba.guvectorize(["void(float64[:], float64[:])"], "(n)->()", cache=True)(bad_kernel),
    }
    compilers[sys.argv[1]]()  # raises: a typing error
    """
)


@pytest.mark.parametrize("path", ["njit", "cfunc", "vectorize", "guvectorize"])
def test_a_compile_that_raises_releases_its_lock(tmp_path, path):
    """Whatever Numba compile path raised, no compile lock stays held (a peer would wait for
    it up to MPI4NUMBA_COMPILE_WAIT seconds per function)."""
    import subprocess

    script = tmp_path / "raising.py"
    script.write_text(
        RAISING.replace("compilers[sys.argv[1]]()  # raises: a typing error", "")
        + textwrap.dedent(
            """
            try:
                compilers[sys.argv[1]]()
            except numba.core.errors.TypingError:
                pass
            else:
                raise SystemExit("the compile did not raise")
            held = []
            for name in os.listdir(os.environ["MPI4NUMBA_LOCK_DIR"]):
                with open(os.path.join(os.environ["MPI4NUMBA_LOCK_DIR"], name), "rb") as lock:
                    try:  # another open file description: conflicts with a held flock
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        held.append(name)
            assert os.listdir(os.environ["MPI4NUMBA_LOCK_DIR"]), "no lock was taken"
            print("HELD", len(held), len(numbacache._held.entries))
            """
        )
    )
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
        "MPI4NUMBA_LOCK_DIR": str(tmp_path / "locks"),
    }
    done = subprocess.run([sys.executable, str(script), path], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "HELD 0 0" in done.stdout, done.stdout + done.stderr
