"""Layer 2, what routines are made of: the ``@api`` decorator, the typing-time checks, dtypes
as MPI datatypes, derived datatypes, buffers, operators, windows and the MPI vocabulary of
lowered bodies. Imports only :mod:`mpi4numba._core` and :mod:`mpi4numba._abi`.
"""
