"""Reduction operators: the :class:`Operator` members, usable in compiled code and from Python.

``Operator`` members are small integers that mean the same in every process, so code that
uses them caches safely. For drop-in compatibility with numba-mpi an operator may also be
given as the integer numba-mpi uses (the address of mpi4py's handle, different in every
process), looked up at run time; an unknown value gives ``MPI_OP_NULL``, which MPI rejects
with ``MPI_ERR_OP``. Which operators apply to which dtypes follows the MPI standard; one
that does not apply is a typing error (written in the code) or a ``ValueError`` (from
Python).
"""

from __future__ import annotations

from ._support.operators import Operator

__all__ = ["Operator"]
