"""The cache key: a change to any source file of mpi4numba, in any layer, changes it."""

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
