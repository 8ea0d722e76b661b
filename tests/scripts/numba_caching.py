"""Numba's own caching tests, twice: as Numba ships them, and with mpi4numba imported in
every process they start (a ``sitecustomize`` module on ``PYTHONPATH``).

    python tests/scripts/numba_caching.py [--processes N]

They cover every compile path Numba caches (``njit``, ``parallel=True``, ``vectorize``,
``guvectorize``, ``cfunc``, object mode, generated overloads) and the cache files
themselves. The run with mpi4numba comes first; only if a test fails there does the run
without it follow, to tell Numba's own failures from mpi4numba's. Exits non-zero if a
test fails only with mpi4numba imported, if the two runs did not run the same tests, or
if mpi4numba's cache patches were not active.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

MODULES = (
    "numba.tests.npyufunc.test_caching",
    "numba.tests.test_caching",
    "numba.tests.test_parfors_caching",
    "numba.tests.test_cfunc",
)
SITECUSTOMIZE = "import mpi4numba  # every process of the run, as a program that uses it would\n"
# that the sitecustomize module ran (a failing one only prints a message), and patched
PROBE = (
    "import sys; assert 'mpi4numba' in sys.modules; from mpi4numba._core import numbacache; print(numbacache.state())"
)
# "test_name (module.Class.test_name) ... ok" (on Python 3.10 "(module.Class)"); a test with a
# docstring has its first line between the name and " ... ok", on a line of its own
HEADER = re.compile(r"^(test\w*) \(([\w.]+)\)")
OUTCOME = re.compile(r" \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)")


def results(output: str) -> dict[str, str]:
    """Outcome per test (``module.Class.test`` -> ``ok``/``FAIL``/...) in unittest's verbose output."""
    found: dict[str, str] = {}
    current = None
    for line in output.splitlines():
        header = HEADER.match(line)
        if header:
            name, where = header.groups()
            current = where if where.endswith("." + name) else f"{where}.{name}"
        outcome = OUTCOME.search(line)
        if outcome and current is not None:
            found[current] = outcome.group(1)
            current = None
    return found


def run(processes: int, sitecustomize_dir: str | None) -> tuple[dict[str, str], str, float]:
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)  # the tests choose their own cache directories
    if sitecustomize_dir:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [sitecustomize_dir, env.get("PYTHONPATH")]))
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "numba.runtests", "-v", "-m", str(processes), *MODULES],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    output = done.stdout + done.stderr
    return results(output), output, time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="test processes (numba.runtests -m, default 2)")
    options = parser.parse_args(argv)
    import numba

    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "sitecustomize.py"), "w") as module:
            module.write(SITECUSTOMIZE)
        probe = subprocess.run(
            [sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": folder},
            timeout=120,
        )
        if "'compile_once': True, 'cache_guard': 'active'" not in probe.stdout:
            print(f"mpi4numba's cache patches are not active here:\n{probe.stdout}{probe.stderr}")
            return 1
        imported, imported_output, imported_seconds = run(options.processes, folder)
        failing = ("FAIL", "ERROR", "unexpected success")
        failed = sorted(name for name, outcome in imported.items() if outcome in failing)
        # without mpi4numba only where needed: to tell its failures from Numba's own
        plain, plain_output, plain_seconds = run(options.processes, None) if failed or not imported else ({}, "", 0.0)
    print(f"Numba {numba.__version__}, Python {sys.version.split()[0]}: {len(imported)} tests")
    print(f"  with mpi4numba imported in every process: {imported_seconds:.0f} s, {summary(imported)}")
    if not failed and imported:
        print("  (no failure: the run without mpi4numba is not needed)")
        return 0
    print(f"  without mpi4numba: {plain_seconds:.0f} s, {summary(plain)}")
    status = 0
    if not plain or set(plain) != set(imported):
        print("the two runs did not run the same tests:")
        for name in sorted(set(plain) ^ set(imported)):
            print(f"  {name}: {plain.get(name, 'not run')} / {imported.get(name, 'not run')}")
        status = 1
    for name in failed:
        if plain.get(name) in failing:
            print(f"fails without mpi4numba too (Numba's own): {name} ({plain[name]})")
        else:
            print(f"fails only with mpi4numba imported: {name} ({imported[name]})")
            status = 1
    if status:
        print("\n--- output with mpi4numba imported ---\n" + imported_output[-20000:])
    return status


def summary(found: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for outcome in found.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
