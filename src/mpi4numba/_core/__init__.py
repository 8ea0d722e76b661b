"""Layer 1, the bridge to the MPI library: start-up (thread level, MPI_Init through mpi4py,
binding libmpi to Numba's JIT), the cache key and guard, how handles are represented, the
C prototype compiler and the declarations of the MPI functions, and the Numba types of
MPI's native objects (communicator, status, ``IN_PLACE``). Imports only :mod:`mpi4numba._abi`.
"""
