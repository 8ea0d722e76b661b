"""``python -m mpi4numba``: ``info`` about the MPI setup, or run a program so that a failure
on any rank aborts the whole MPI job (see :mod:`mpi4numba._tools.info`, :mod:`mpi4numba._tools.run`)."""

from __future__ import annotations

import os
import sys

PROGRAM = f"{os.path.basename(sys.executable)} -m mpi4numba"
USAGE = f"""\
usage: {PROGRAM} info [--json] [-q]
   or: {PROGRAM} <script.py> [arg] ...
   or: {PROGRAM} -m <module> [arg] ...
   or: {PROGRAM} -c <code> [arg] ...
   or: {PROGRAM} - [arg] ...      (program read from stdin)
"""
HELP = f"""{USAGE}
commands:
  info          show the MPI library, launcher and settings mpi4numba uses, and what is
                wrong with them (exit status 1 if anything is); under mpiexec rank 0 prints
  script, -m, -c, -
                run a program as python would (sys.argv, __main__); an unhandled exception
                or a non-zero exit on any rank prints its traceback labelled with the rank
                and aborts the whole MPI job (MPI_Abort) instead of leaving it hanging

options:
  -h, --help    show this help and exit
  --version     show mpi4numba's version and exit

example:
  mpiexec -n 4 {PROGRAM} simulation.py --steps 100
"""


def _usage_error(message: str) -> int:
    sys.stderr.write(f"{PROGRAM}: {message}\n{USAGE}Try `{PROGRAM} -h` for more information.\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m mpi4numba`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    >>> from mpi4numba.__main__ import main
    >>> main(["-c", "print('hello')"])
    hello
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        sys.stderr.write(HELP)
        return 2
    first, rest = argv[0], argv[1:]
    if first in ("-h", "--help"):
        sys.stdout.write(HELP)
        return 0
    if first == "--version":
        from . import __version__

        print(f"mpi4numba {__version__}")
        return 0
    if first == "info":
        from ._tools import info

        try:
            return info.main(rest)
        except SystemExit as exc:  # argparse: -h gives 0, bad arguments 2
            return exc.code if isinstance(exc.code, int) else 2
    from ._tools import run

    if first in ("-m", "-c"):
        if not rest:
            return _usage_error(f"argument expected for option {first}")
        kind, target, args = ("module" if first == "-m" else "command"), rest[0], rest[1:]
    elif first == "-":
        kind, target, args = "stdin", "-", rest
    elif first.startswith("-"):
        return _usage_error(f"unknown option {first}")
    else:
        kind, target, args = "path", first, rest
    problem = run.check_target(kind, target)
    if problem is not None:
        sys.stderr.write(f"{PROGRAM}: {problem}\n")
        return 2 if kind == "path" else 1
    return run.run(kind, target, args)


if __name__ == "__main__":
    sys.exit(main())
