"""If a Numba internal that mpi4numba patches or relies on has changed, mpi4numba patches
nothing, says once what changed, and keeps code that calls MPI out of the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from helpers import write_source

from mpi4numba._core import numbainternals

pytestmark = pytest.mark.driver  # each case is a fresh process with one internal changed

# Each change keeps Numba itself working (a refactoring Numba might make), so that what the
# test sees is what mpi4numba does about it.
CHANGES = {
    "Cache.load_overload(self, sig, target_context)": """
        from numba.core import caching
        original = caching.Cache.load_overload
        caching.Cache.load_overload = lambda self, sig, target_context, *more: original(self, sig, target_context)
        """,
    "Cache.save_overload(self, sig, data)": """
        from numba.core import caching
        original = caching.Cache.save_overload
        caching.Cache.save_overload = lambda self, sig, data, *more: original(self, sig, data)
        """,
    "Cache._load_overload loads through _cache_file.load": """
        from numba.core import caching
        original = caching.Cache._load_overload
        caching.Cache._load_overload = lambda self, sig, target_context: original(self, sig, target_context)
        """,
    "IndexDataCacheFile.save(self, key, data)": """
        from numba.core import caching
        original = caching.IndexDataCacheFile.save
        caching.IndexDataCacheFile.save = lambda self, key, data, *more: original(self, key, data)
        """,
    "IndexDataCacheFile names data files": """
        from numba.core import caching
        original = caching.IndexDataCacheFile.__init__
        def __init__(self, cache_path, filename_base, source_stamp):
            original(self, cache_path, filename_base, source_stamp)
            self._data_name_pattern = "%s.v2.{number:d}.nbc" % filename_base
        caching.IndexDataCacheFile.__init__ = __init__
        """,
    "compiler_lock._CompilerLock has release() and is_locked()": """
        from numba.core import compiler_lock
        original = compiler_lock._CompilerLock.release
        compiler_lock._CompilerLock.release = lambda self, *more: original(self)
        """,
    "CPUCodeLibrary keeps the libraries it links in _linking_libraries": """
        from numba.core import codegen
        original = codegen.CPUCodeLibrary.add_linking_library
        codegen.CPUCodeLibrary.add_linking_library = lambda self, library: original(self, library)
        """,
}

PROGRAM = textwrap.dedent(
    """
    import json, sys, warnings
    import numba
    import numpy as np
    from numba.core import caching

    {change}
    patched_before = caching.Cache.load_overload
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import mpi4numba as mpi
        from mpi4numba._core import numbacache

    @numba.njit(cache=True)
    def without_mpi(x):
        return x + 1

    @numba.njit(cache=True)
    def with_mpi(x):
        out = np.zeros(1)
        return mpi.allreduce(np.array([x]), out), out[0]

    print("REPORT " + json.dumps({{
        "warnings": [str(w.message) for w in caught if "mpi4numba" in str(w.message)],
        "patched": caching.Cache.load_overload is not patched_before,
        "state": numbacache.state(),
        "results": [without_mpi(1), list(with_mpi(2.0))],
        "hits": [sum(f.stats.cache_hits.values()) for f in (without_mpi, with_mpi)],
    }}))
    """
)


def run(tmp_path, change: str) -> dict:
    script = tmp_path / "changed.py"
    write_source(script, PROGRAM.format(change=textwrap.dedent(change)))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [text for text in done.stdout.splitlines() if text.startswith("REPORT ")]
    return json.loads(line[len("REPORT ") :])


def test_this_numba_has_every_internal_as_expected():
    assert numbainternals.problems() == []
    assert numbainternals.uncachable_problems() == []
    assert numbainternals.routine_problems() == []


def test_unchanged_numba_is_patched(tmp_path):
    for hits in ([0, 0], [1, 1]):
        report = run(tmp_path, "")
        assert report["patched"] and report["warnings"] == [], report
        assert report["state"] == {"compile_once": True, "cache_guard": "active", "why": ""}
        assert report["results"] == [2, [0, 2.0]] and report["hits"] == hits, report


@pytest.mark.parametrize("internal", list(CHANGES))
def test_a_changed_internal_turns_patching_off_and_keeps_mpi_code_out_of_the_cache(tmp_path, internal):
    for hits in ([0, 0], [1, 0]):  # code without MPI is cached as Numba does; MPI code never
        report = run(tmp_path, CHANGES[internal])
        assert not report["patched"], report
        (warning,) = report["warnings"]  # one, naming what changed
        assert internal in warning and "not cached" in warning, warning
        assert report["state"]["cache_guard"] == "fail-closed" and not report["state"]["compile_once"]
        assert internal in report["state"]["why"]
        assert report["results"] == [2, [0, 2.0]] and report["hits"] == hits, report


def test_mpi_code_is_refused_if_it_can_be_neither_guarded_nor_kept_out_of_the_cache(tmp_path):
    change = textwrap.dedent(CHANGES["Cache.load_overload(self, sig, target_context)"]) + textwrap.dedent(
        """
        from numba.core import codegen
        dynamic = codegen.CPUCodeLibrary._finalize_dynamic_globals
        codegen.CPUCodeLibrary._finalize_dynamic_globals = lambda self: dynamic(self)
        """
    )
    script = tmp_path / "refused.py"
    script.write_text(PROGRAM.format(change=textwrap.dedent(change)))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    assert "cannot guard Numba's cache on this Numba version" in done.stderr, done.stderr


def test_info_says_why_the_cache_is_not_patched(tmp_path):
    change = textwrap.dedent(CHANGES["IndexDataCacheFile.save(self, key, data)"])
    code = (
        change
        + "import runpy, sys\nsys.argv = ['mpi4numba', 'info']\nrunpy.run_module('mpi4numba', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # a problem was found
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert lines["numba cache coordination"].startswith("every rank compiles, MPI code not cached"), done.stdout
    assert "IndexDataCacheFile.save(self, key, data)" in lines["numba cache coordination"]
    assert "mpi4numba did not patch Numba's cache" in done.stdout, done.stdout


def test_request_arrays_on_numbas_allocator_are_reported(monkeypatch):
    from mpi4numba._core import requestmemory

    monkeypatch.setattr(requestmemory, "_PROBLEM", "Numba's MemInfo is laid out as [...]")
    assert numbainternals.routine_problems() == [
        "request arrays come from Numba's allocator, not mpi4numba's pool: Numba's MemInfo is laid out as [...]"
    ]
