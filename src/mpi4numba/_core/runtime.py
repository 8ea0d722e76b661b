"""Start-up: initialise MPI through mpi4py and bind its library to Numba's JIT.

Imported by every module that needs MPI. After import:

* ``MPI`` is mpi4py's module (MPI is initialised at the chosen thread level);
* ``ABI`` is the table of the running implementation (see :mod:`mpi4numba._abi`);
* ``LIBMPI`` is the path of the library mpi4py loaded, whose symbols are now visible to
  Numba's JIT linker, so compiled code refers to MPI functions by name.
"""

from __future__ import annotations

import llvmlite.binding as llvm

from .. import _abi
from . import abort, threadlevel

with threadlevel.starting_mpi():
    from mpi4py import MPI

LIBMPI = _abi.loaded_library(MPI)
ABI = _abi.select(MPI, LIBMPI)  # asked of the library, checked against mpi4py
# Same file as mpi4py's, so the loader hands back the already-loaded copy; this only makes
# its symbols resolvable for the JIT (mpi4py opened it RTLD_LOCAL).
llvm.load_library_permanently(LIBMPI)

# MPI-4 large-count routines (``MPI_Send_c`` ...): MPICH >= 4 has them, Open MPI 5 does not.
LARGE_COUNT = bool(getattr(ABI, "LARGE_COUNT_ROUTINES", False) and llvm.address_of_symbol("MPI_Send_c"))


abort.register_exit_check()  # runs before mpi4py's MPI_Finalize (registered earlier)
