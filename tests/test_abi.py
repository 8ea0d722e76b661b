"""The ABI table: what compiled code materialises equals what mpi4py sees in this process."""

import ctypes
import os

import numba
import numpy as np
import pytest
from mpi4py import MPI

import mpi4numba as mpi
from mpi4numba import _abi
from mpi4numba._abi import mpi4py_handle_values
from mpi4numba._core import runtime
from mpi4numba._core.ccall import predefined
from mpi4numba._tools.library import abi_facts
from mpi4numba._tools.report import Report

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
    assert runtime.ABI.NAME in ("mpich", "openmpi", "mpiabi")


def test_the_library_says_which_abi_and_only_that_table_fits():
    library = ctypes.CDLL(runtime.LIBMPI)
    major, minor = _abi.standard_abi_version(library)
    assert (major >= 1) == (runtime.ABI is _abi.mpiabi)
    assert _abi.identify(MPI, library) is runtime.ABI
    for abi in _abi.ABIS:
        wrong = _abi.mismatches(abi, MPI, library)
        assert (wrong == []) == (abi is runtime.ABI), (abi.NAME, wrong)
        if abi is not runtime.ABI:  # a wrong table is named by what differs
            assert any(what.startswith(("handle size", "MPI_COMM_WORLD", "ANY_SOURCE")) for what in wrong), wrong


def test_the_tables_define_the_same_names():
    reference = _abi.mpich
    for abi in _abi.ABIS:
        for table in ("HANDLES", "ERROR_CLASSES", "CONSTANTS"):
            assert set(getattr(abi, table)) == set(getattr(reference, table)), (abi.NAME, table)
        names = {name for name in vars(abi) if name.isupper()}
        assert names - {"VERSION"} == {name for name in vars(reference) if name.isupper()}, abi.NAME


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


class _BuiltFor:
    """mpi4py's module as if its extension had been compiled for ``abi`` (its constants only)."""

    def __init__(self, abi):
        self._abi = abi

    def __getattr__(self, name):
        return getattr(MPI, name)

    def _sizeof(self, obj):
        sizes = {MPI.Comm: self._abi.HANDLE_BYTES, MPI.Status: self._abi.STATUS_BYTES}
        return sizes[obj] if obj in sizes else MPI._sizeof(obj)

    def _handleof(self, obj):
        world = self._abi.HANDLES["COMM_WORLD"]
        return world if obj is MPI.COMM_WORLD and isinstance(world, int) else MPI._handleof(obj)


def test_info_names_the_abi_the_library_and_mpi4py_share():
    report = Report()
    assert abi_facts(report, MPI) is True and report.problems == []
    assert report.facts["implementation"] == runtime.ABI.NAME
    assert report.facts["mpi4py_build"]["abi"] == runtime.ABI.NAME
    assert os.path.samefile(report.facts["mpi_library"], runtime.LIBMPI)


@pytest.mark.parametrize("other", [abi for abi in _abi.ABIS if abi is not runtime.ABI], ids=lambda abi: abi.NAME)
def test_info_names_an_mpi4py_built_for_another_abi(other):
    """e.g. pip reused its cached standard-ABI build of mpi4py for the system's MPICH."""
    report = Report()
    assert abi_facts(report, _BuiltFor(other)) is False
    [problem] = report.problems
    assert _abi.describe(other) in problem["problem"] and report.facts["implementation"] == runtime.ABI.NAME
    if runtime.ABI is _abi.mpiabi:
        assert "MPI4PY_BUILD_MPIABI=1 MPICC=mpicc_abi" in problem["fix"]
    else:
        assert "--no-cache-dir --no-binary mpi4py" in problem["fix"]
    with pytest.raises(_abi.ABIError, match="mpi4py was built for"):
        _abi.select(_BuiltFor(other), runtime.LIBMPI)
