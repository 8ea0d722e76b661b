"""Layer 4, the command-line tools behind ``python -m mpi4numba``: the ``info`` report and
the script runner. Imports :mod:`mpi4numba._core` (not the routines)."""
