"""The ABI table: what compiled code materialises equals what mpi4py sees in this process."""

import os

import numba
import numpy as np
from mpi4py import MPI

import mpi4numba as mpi
from mpi4numba._abi import mpi4py_handle_values
from mpi4numba._core import runtime
from mpi4numba._core.ccall import predefined

HANDLE_NAMES = sorted(runtime.ABI.HANDLES)


def _materialise_all():
    source = "def materialise():\n    return (" + ", ".join(f"predefined({n!r})" for n in HANDLE_NAMES) + ",)\n"
    namespace = {"predefined": predefined}
    exec(source, namespace)
    return numba.njit(namespace["materialise"])()


def test_predefined_handles_equal_mpi4py_values():
    mask = 2**64 - 1
    expected = mpi4py_handle_values(MPI)
    got = dict(zip(HANDLE_NAMES, _materialise_all()))
    for name in HANDLE_NAMES:
        assert got[name] & mask == expected[name] & mask, name


def test_constants_and_sizes():
    abi = runtime.ABI
    assert (mpi.ANY_SOURCE, mpi.ANY_TAG, mpi.PROC_NULL, mpi.UNDEFINED) == (
        MPI.ANY_SOURCE,
        MPI.ANY_TAG,
        MPI.PROC_NULL,
        MPI.UNDEFINED,
    )
    assert abi.HANDLE_BYTES == MPI._sizeof(MPI.Comm) == np.dtype(mpi.RequestType).itemsize
    assert MPI._sizeof(MPI.Status) == abi.STATUS_BYTES
    for name, value in abi.ERROR_CLASSES.items():
        assert getattr(MPI, name) == value, name
    for name, value in abi.CONSTANTS.items():
        assert getattr(MPI, name) == value, name


def test_bound_library_is_the_one_mpi4py_loaded():
    with open("/proc/self/maps") as maps:
        mapped = {line.split()[-1] for line in maps if "/" in line}
    assert os.path.realpath(runtime.LIBMPI) in {os.path.realpath(p) for p in mapped}
    assert runtime.ABI.NAME in ("mpich", "openmpi")


def test_message_handles_are_in_the_table():
    # their values are checked against mpi4py's MPI.MESSAGE_NULL/MESSAGE_NO_PROC above
    assert {"MESSAGE_NULL", "MESSAGE_NO_PROC"} <= set(HANDLE_NAMES)


@numba.njit(cache=True)
def _status_fields(status):
    return status.source, status.tag, status.error


def test_status_offsets_match_mpi4py():
    status = MPI.Status()
    status.source, status.tag, status.error = 12345, 678, MPI.ERR_TRUNCATE
    status.Set_elements(MPI.BYTE, 24)  # the ABI's private count words
    assert _status_fields(status) == (12345, 678, MPI.ERR_TRUNCATE)
    again = _status_fields.py_func  # boxing: a status that went through compiled code
    echoed = numba.njit(lambda s: s)(status)
    assert isinstance(echoed, MPI.Status) and echoed is not status
    assert again(echoed) == (12345, 678, MPI.ERR_TRUNCATE)
    assert echoed.Get_count(MPI.BYTE) == 24 and echoed.Get_count(MPI.DOUBLE) == 3
    assert MPI._sizeof(status) == runtime.ABI.STATUS_BYTES
