"""What mpi4numba relies on inside Numba, checked at import before anything is patched.

``mpi4numba._core.numbacache`` replaces four of Numba's methods and reads a few private
attributes of its cache classes. Numba does not promise to keep them, so each is checked
for the shape the code expects (names, parameters, the attributes the methods use). If
one has changed, :func:`problems` says which, nothing is patched (Numba caches as it
always did) and the cache guard fails closed (code that calls MPI is not cached).

The routines' lowerings use further internals (array models, the target context); those
fail at compile time in code that calls MPI, never in other code, and are listed by
:func:`routine_problems` for ``python -m mpi4numba info``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def _parameters(function: Any) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def _uses(function: Any, *names: str) -> bool:
    """Whether the code of ``function`` reads each of the attribute or global ``names``."""
    code = getattr(function, "__code__", None)
    return code is not None and set(names) <= set(code.co_names)


def _cache_file_sample() -> Any:
    from numba.core.caching import IndexDataCacheFile

    return IndexDataCacheFile("/nonexistent-mpi4numba-probe", "f-1.py311", "stamp")


def _checks() -> list[tuple[str, Callable[[], bool]]]:
    from numba.core import caching, codegen, compiler_lock

    cache, cache_file, lock = caching.Cache, caching.IndexDataCacheFile, compiler_lock._CompilerLock
    return [
        (
            "Cache.load_overload(self, sig, target_context)",
            lambda: _parameters(cache.load_overload) == ("self", "sig", "target_context"),
        ),
        ("Cache.save_overload(self, sig, data)", lambda: _parameters(cache.save_overload) == ("self", "sig", "data")),
        ("Cache keeps _name and _cache_file", lambda: _uses(cache.__init__, "_name", "_cache_file")),
        ("Cache.enable sets _enabled", lambda: _uses(cache.enable, "_enabled")),
        (
            "Cache._save_overload reduces and saves through _cache_file.save",
            lambda: _uses(cache._save_overload, "reduce", "_cache_file", "save"),
        ),
        (
            "Cache._load_overload loads through _cache_file.load",
            lambda: _uses(cache._load_overload, "_cache_file", "load", "rebuild"),
        ),
        ("IndexDataCacheFile.save(self, key, data)", lambda: _parameters(cache_file.save) == ("self", "key", "data")),
        (
            "IndexDataCacheFile has _save_data, _load_index, _save_index, _data_path, _dump",
            lambda: all(
                callable(getattr(cache_file, name, None))
                for name in ("_save_data", "_load_index", "_save_index", "_data_path", "_dump")
            ),
        ),
        (
            "IndexDataCacheFile.load reads the index, then a data file (missing: OSError)",
            lambda: _uses(cache_file.load, "_load_index", "_load_data", "OSError"),
        ),
        (
            "IndexDataCacheFile names data files '<base>.{number:d}.nbc' beside '<base>.nbi'",
            lambda: (
                _cache_file_sample()._data_name_pattern == "f-1.py311.{number:d}.nbc"
                and _cache_file_sample()._index_path.endswith("/f-1.py311.nbi")
                and _cache_file_sample()._source_stamp == "stamp"
            ),
        ),
        (
            "compiler_lock._CompilerLock has release() and is_locked()",
            lambda: _parameters(lock.release) == ("self",) and callable(getattr(lock, "is_locked", None)),
        ),
        (
            "every cached compile runs under compiler_lock.global_compiler_lock",
            lambda: isinstance(compiler_lock.global_compiler_lock, lock),
        ),
        (
            "CPUCodeLibrary keeps the libraries it links in _linking_libraries",
            lambda: (
                _uses(codegen.CPUCodeLibrary.__init__, "_linking_libraries")
                and _uses(codegen.CPUCodeLibrary.add_linking_library, "_linking_libraries")
            ),
        ),
    ]


def _uncachable_checks() -> list[tuple[str, Callable[[], bool]]]:
    from numba.core import caching, codegen

    return [
        (
            "a library with a global named 'numba.dynamic.globals...' is never cached",
            lambda: (
                _uses(codegen.CPUCodeLibrary._finalize_dynamic_globals, "_dynamic_globals")
                and _uses(caching.CompileResultCacheImpl.check_cachable, "has_dynamic_globals")
            ),
        ),
    ]


def _run(checks: list[tuple[str, Callable[[], bool]]]) -> list[str]:
    failed = []
    for description, check in checks:
        try:
            ok = check()
        except Exception as exc:  # an attribute gone, a signature unreadable ...
            ok = False
            description = f"{description} ({type(exc).__name__}: {exc})"
        if not ok:
            failed.append(description)
    return failed


def _run_all(make: Callable[[], list[tuple[str, Callable[[], bool]]]]) -> list[str]:
    try:
        checks = make()
    except Exception as exc:
        return [f"numba.core.caching, codegen or compiler_lock ({type(exc).__name__}: {exc})"]
    return _run(checks)


def problems() -> list[str]:
    """What changed among the internals the cache patches need (empty: all as expected)."""
    return _run_all(_checks)


def uncachable_problems() -> list[str]:
    """What changed in how Numba keeps code with dynamic globals out of its cache (the way
    the guard fails closed when the cache cannot be patched)."""
    return _run_all(_uncachable_checks)


def routine_problems() -> list[str]:
    """What changed among the internals the routines' lowerings use (reported by ``info``)."""

    def checks() -> list[tuple[str, Callable[[], bool]]]:
        from numba.core import cgutils, config, types
        from numba.core.registry import cpu_target
        from numba.np import arrayobj

        return [
            (
                "numba.np.arrayobj.make_array and populate_array",
                lambda: callable(arrayobj.make_array) and callable(arrayobj.populate_array),
            ),
            ("numba.core.cgutils.get_or_insert_function", lambda: callable(cgutils.get_or_insert_function)),
            ("cpu_target.target_context.refresh()", lambda: callable(cpu_target.target_context.refresh)),
            ("numba.core.config.DISABLE_JIT", lambda: hasattr(config, "DISABLE_JIT")),
            ("numba.core.types.MemInfoPointer", lambda: hasattr(types, "MemInfoPointer")),
            (
                "BaseContext.active_code_library",
                lambda: hasattr(type(cpu_target.target_context), "active_code_library"),
            ),
        ]

    try:
        found = _run(checks())
    except Exception as exc:
        found = [f"numba internals ({type(exc).__name__}: {exc})"]
    from .requestmemory import problem

    pool = problem()
    if pool is not None:
        found.append(f"request arrays come from Numba's allocator, not mpi4numba's pool: {pool}")
    return found
