"""The cache key: a change to any source file of mpi4numba that compiled code can contain,
in any layer, changes it; a change to the benchmarks or the command-line tools does not."""

from __future__ import annotations

import shutil

from mpi4numba._core import cachetag


def test_tag_names_the_sources_abi_and_count_width():
    assert cachetag.CACHE_TAG.startswith(f"mpi4numba-0.1+{cachetag.source_digest()}/")
    assert "/h" in cachetag.CACHE_TAG and "/s" in cachetag.CACHE_TAG and "/c" in cachetag.CACHE_TAG


def test_digest_covers_every_layer(tmp_path):
    copy = tmp_path / "mpi4numba"
    shutil.copytree(cachetag.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = cachetag.source_digest(str(copy))
    assert original == cachetag.source_digest()
    seen = {original}
    for changed in ("_support/validate.py", "_core/ccall.py", "_abi/mpich.py", "p2p.py"):
        with open(copy / changed, "a") as source:
            source.write("\n# changed\n")
        seen.add(cachetag.source_digest(str(copy)))
    (copy / "_support" / "new_layer").mkdir()
    (copy / "_support" / "new_layer" / "module.py").write_text("X = 1\n")
    seen.add(cachetag.source_digest(str(copy)))
    assert len(seen) == 6


def test_digest_ignores_what_compiled_code_cannot_contain(tmp_path):
    copy = tmp_path / "mpi4numba"
    shutil.copytree(cachetag.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = cachetag.source_digest(str(copy))
    for changed in ("bench/latency.py", "_tools/info.py", "__main__.py"):
        with open(copy / changed, "a") as source:
            source.write("\n# changed\n")
    (copy / "bench" / "new_benchmark.py").write_text("X = 1\n")
    assert cachetag.source_digest(str(copy)) == original
    with open(copy / "_support" / "lowering.py", "a") as source:
        source.write("\n# changed\n")
    assert cachetag.source_digest(str(copy)) != original
