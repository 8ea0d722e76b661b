"""Shared helpers for the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NUMERIC_DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float32,
    np.float64,
    np.complex64,
    np.complex128,
    np.bool_,
]


def sample(dtype, n: int, seed: int) -> np.ndarray:
    """Deterministic values of ``dtype`` that differ per ``seed`` (a rank, say)."""
    values = (np.arange(n) * 7 + seed * 13 + 1) % 101
    if np.dtype(dtype) == np.bool_:
        return values % 2 == seed % 2
    if np.issubdtype(dtype, np.complexfloating):
        return (values + 1j * (values + 1)).astype(dtype)
    return values.astype(dtype)


def mpiexec(
    np_: int, *args: str, env: dict | None = None, timeout: float = 300, python: str = sys.executable
) -> subprocess.CompletedProcess:
    """Run ``python args`` under the mpiexec that belongs to ``python``, with a time limit
    (``env`` adds variables; a value of None removes one)."""
    launcher = str(Path(python).parent / "mpiexec")
    full_env = {**os.environ, **(env or {})}
    for key in [key for key, value in full_env.items() if value is None]:
        del full_env[key]
    for key in list(full_env):  # a clean launch, even from inside another MPI job
        if key.startswith(("PMI_", "PMIX_", "OMPI_COMM_WORLD", "HYDRA_")):
            del full_env[key]
    return subprocess.run(
        [launcher, "-n", str(np_), python, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
    )


def write_source(path: Path, text: str) -> None:
    """Write a program that the tests run with ``cache=True`` again and again: only if its
    text changed, as Numba before 0.63 stamps a source by its modification time."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
