"""C functions declared by prototype: a routine the library lacks is an error code that
names it, and cached code records which way it was compiled."""

import numba
import pytest

import mpi4numba as mpi
from mpi4numba._core.cacheguard import CacheABIMismatch
from mpi4numba._core.ccall import Presence, c_function
from mpi4numba._core.launchers import Flavour
from mpi4numba._core.refusals import refusal

# a routine no MPI library has, declared as a newer MPI's would be
MPI_Imaginary = c_function("int MPI_Imaginary(int value, out int flag)", since="9.9")


@numba.njit
def call_imaginary():
    return MPI_Imaginary(3)


@pytest.mark.jit_only
def test_a_missing_routine_returns_a_code_that_names_it_and_the_library():
    code, flag = call_imaginary()
    assert flag == 0
    assert mpi.error_class(code) == mpi.ERR_UNSUPPORTED_OPERATION
    text = mpi.error_string(code)
    if code != mpi.ERR_UNSUPPORTED_OPERATION:  # a code of its own, where the library lets codes carry texts
        assert "MPI_Imaginary (MPI-9.9) is not in this MPI library" in text, text


def test_cached_code_is_refused_where_the_routine_is_not_as_it_was_compiled():
    Presence("MPI_Imaginary", False)()  # compiled without it, still without: loads
    Presence("MPI_Send", True)()
    with pytest.raises(CacheABIMismatch, match="compiled with MPI_Imaginary, which this MPI library lacks or gets"):
        Presence("MPI_Imaginary", True)()
    with pytest.raises(CacheABIMismatch, match="compiled without MPI_Send, which this MPI library has"):
        Presence("MPI_Send", False)()


def test_routines_a_library_gets_wrong_are_refused_there():
    intel = Flavour("mpich", "Intel MPI", "2021.18.1")
    assert "stale data" in refusal("MPI_Allgather_init", intel)
    assert refusal("MPI_Psend_init", intel) is None  # its partitioned messages pass the tests
    assert refusal("MPI_Allgather_init", Flavour("mpich", "MPICH", "5.0.2")) is None
    assert refusal("MPI_Allgather_init", Flavour("openmpi", "Open MPI", "5.0.11")) is None
    assert "only part of it" in refusal("MPI_Parrived", Flavour("openmpi", "Open MPI", "5.0.11"))
    assert refusal("MPI_Parrived", Flavour("mpich", "MPICH", "5.0.2")) is None
    assert "no data or stale data" in refusal("MPI_Allreduce_init", Flavour("mpich", "MPICH", "4.1.3"))
    assert refusal("MPI_Gather_init", Flavour("mpich", "MPICH", "5.0.2")) is None
    assert refusal("MPI_Psend_init", Flavour("mpich", "MPICH", "4.1.3")) is None
