"""The cache guard on every compile path Numba caches: code that calls MPI, cached under one
tag (mpi4numba sources, MPI ABI), is recompiled, never run, under another."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from helpers import write_source

pytestmark = pytest.mark.driver  # fresh processes, one after another on one cache

PROGRAM = textwrap.dedent(
    """
    import json, os
    import numba
    import numpy as np
    import mpi4numba as mpi

    if os.environ.get("OTHER_TAG"):  # what another MPI ABI or another mpi4numba would write
        from mpi4numba._core import cachetag
        cachetag.CACHE_TAG = "mpi4numba-other/abi"

    @numba.njit(cache=True, parallel=True)
    def parallel_loop(n):
        total = 0
        for i in numba.prange(n):
            total += i
        return total + mpi.size()

    @numba.cfunc("int64(int64)", cache=True)
    def c_callback(x):
        return x + mpi.size()

    @numba.vectorize(["float64(float64)"], cache=True)
    def ufunc(x):
        return x + mpi.size()

    @numba.guvectorize(["void(float64[:], float64[:])"], "(n)->(n)", cache=True)
    def gufunc(a, out):
        for i in range(a.shape[0]):
            out[i] = a[i] + mpi.rank() + 10

    @numba.njit(cache=True)
    def with_objmode(x):
        with numba.objmode(y="float64"):
            y = float(x) * 2
        return y + mpi.size()

    @numba.njit
    def helper(x):  # not cached itself: its MPI code is linked into its cached caller
        return x + mpi.size()

    @numba.njit(cache=True)
    def caller(x):
        return helper(x) * 2

    print("RESULT " + json.dumps({
        "parallel_loop": int(parallel_loop(10)), "c_callback": int(c_callback.ctypes(1)),
        "ufunc": ufunc(np.ones(2)).tolist(), "gufunc": gufunc(np.ones(2)).tolist(),
        "with_objmode": with_objmode(1.0), "caller": int(caller(1)),
        "hits": [sum(f.stats.cache_hits.values()) for f in (parallel_loop, with_objmode, caller)]
        + [c_callback.cache_hits],
    }))
    """
)
EXPECTED = {"parallel_loop": 46, "c_callback": 2, "ufunc": [2.0, 2.0], "gufunc": [11.0, 11.0], "with_objmode": 3.0}
# one warning per cached function, two for the gufunc (its kernel and its wrapper)
GUARDED = {"parallel_loop": 1, "c_callback": 1, "ufunc": 1, "gufunc": 2, "with_objmode": 1, "caller": 1}


def run(tmp_path, other_tag: bool) -> tuple[dict, dict[str, int]]:
    script = tmp_path / "paths.py"
    write_source(script, PROGRAM)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "OTHER_TAG": "1" if other_tag else ""}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = [text for text in done.stdout.splitlines() if text.startswith("RESULT ")]
    result = json.loads(line[len("RESULT ") :])
    assert {key: result[key] for key in EXPECTED} == EXPECTED and result["caller"] == 4, result
    recompiled: dict[str, int] = {}
    for name in re.findall(r"mpi4numba: recompiling <function (\w+) at", done.stderr):
        recompiled[name] = recompiled.get(name, 0) + 1
    return result, recompiled


def test_code_cached_under_another_tag_is_recompiled_on_every_path(tmp_path):
    first, recompiled = run(tmp_path, other_tag=False)
    assert first["hits"] == [0, 0, 0, 0] and recompiled == {}
    other, recompiled = run(tmp_path, other_tag=True)  # another ABI finds that cache
    assert other["hits"] == [0, 0, 0, 0] and recompiled == GUARDED, recompiled
    back, recompiled = run(tmp_path, other_tag=False)  # and the first one finds the other's
    assert back["hits"] == [0, 0, 0, 0] and recompiled == GUARDED, recompiled
    warm, recompiled = run(tmp_path, other_tag=False)
    assert warm["hits"] == [1, 1, 1, 1] and recompiled == {}
