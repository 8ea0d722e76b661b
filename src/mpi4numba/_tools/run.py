"""``python -m mpi4numba script.py | -m module | -c code | - [args]``: run a program so
that a failure on any rank ends the whole MPI job instead of hanging it.

The program runs as ``__main__`` with ``sys.argv`` and ``sys.path[0]`` set as ``python``
would set them. MPI is not initialised here beforehand, so the program can still choose
its thread level (:func:`mpi4numba.set_thread_level`).

If the program raises on a rank of a job of several processes, that rank prints the
traceback with every line labelled ``[rank N]`` and calls ``MPI_Abort`` on
``COMM_WORLD``: the other ranks may be blocked in a collective waiting for it.
``SystemExit(0)``/``SystemExit(None)`` end normally; any other exit status aborts too,
with that status. ``MPI4NUMBA_ABORT_ON_ERROR=0`` keeps the report but skips the abort,
as it does for mpi4numba's exception hook (see :mod:`mpi4numba._core.abort`), which also
covers ``python script.py`` once mpi4numba is imported.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import traceback
import types

from .._core.abort import end_job, exit_status, flush


def _trimmed(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback without the frames of this runner and runpy (as ``python script.py`` shows it)."""
    hidden = {os.path.normcase(__file__), os.path.normcase(runpy.__file__)}
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if os.path.normcase(name) not in hidden and not name.startswith("<frozen runpy"):
            break
        tb = tb.tb_next
    return tb


def _run_code(source: str, filename: str, argv0: str, args: list[str]) -> None:
    """Run ``source`` as ``python -c`` / ``python -`` does: in a fresh ``__main__`` module."""
    sys.argv[:] = [argv0, *args]
    code = compile(source, filename, "exec")
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    previous = sys.modules.get("__main__")
    sys.modules["__main__"] = main  # for pickle & co., as runpy does for scripts
    try:
        exec(code, main.__dict__)
    finally:
        if previous is not None:
            sys.modules["__main__"] = previous


def _run_path(path: str, args: list[str]) -> None:
    sys.argv[:] = [path, *args]
    if os.path.isfile(path) and not getattr(sys.flags, "safe_path", False) and not sys.flags.isolated:
        # python puts the script's (symlink-resolved) directory first on the path
        sys.path[0] = os.path.dirname(os.path.realpath(path))
    runpy.run_path(path, run_name="__main__")


def _run_module(name: str, args: list[str]) -> None:
    sys.argv[:] = [name, *args]  # runpy replaces argv[0] with the module's file, as python -m does
    runpy.run_module(name, run_name="__main__", alter_sys=True)


def check_target(kind: str, target: str) -> str | None:
    """Why ``target`` cannot run (as python words it), or None. Failing the same way on every
    rank before MPI starts ends the job by itself, so this needs no abort.

    >>> check_target("path", "/nonexistent.py")
    "can't open file '/nonexistent.py': [Errno 2] No such file or directory"
    """
    if kind == "path" and not os.path.exists(target):
        return f"can't open file {target!r}: [Errno 2] No such file or directory"
    if kind == "module":
        try:
            if importlib.util.find_spec(target) is None:
                return f"No module named {target}"
        except (ImportError, ValueError):
            return None  # a failing parent package: reported with its traceback when run
    return None


def run(kind: str, target: str, args: list[str]) -> int:
    """Run a program and return its exit status; a failure on one rank aborts the job.

    ``kind`` is ``"path"`` (a script, directory or zip file), ``"module"`` (``-m``),
    ``"command"`` (``-c``) or ``"stdin"`` (``-``).

    >>> from mpi4numba._tools.run import run
    >>> run("command", "import sys; print(sys.argv)", ["a", "b"])
    ['-c', 'a', 'b']
    0
    """
    try:
        if kind == "path":
            _run_path(target, args)
        elif kind == "module":
            _run_module(target, args)
        elif kind == "command":
            _run_code(target, "<string>", "-c", args)
        else:
            _run_code(sys.stdin.read(), "<stdin>", "-", args)
    except SystemExit as exc:
        status = exit_status(exc.code)
        return 0 if status == 0 else end_job(status, f"exited with status {status}")
    except BaseException as exc:
        status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        text = "".join(traceback.format_exception(type(exc), exc, _trimmed(exc.__traceback__)))
        return end_job(status, "unhandled exception", text)
    finally:
        flush()
    return 0
