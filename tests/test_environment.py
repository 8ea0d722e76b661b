"""Environment: initialisation, thread level, clock, error codes and strings."""

import time

import numba
from mpi4py import MPI

import mpi4numba as mpi


@numba.njit(cache=True)
def clock_and_errors(code):
    return mpi.wtime(), mpi.error_string(code), mpi.error_class(code), mpi.initialized()


def test_initialized_and_thread_level():
    assert mpi.initialized() is True and mpi.initialized.py_func() is True
    # MPI's values of the ABI (as mpi4py's), and their names
    assert mpi.query_thread() == mpi.query_thread.py_func() == MPI.Query_thread()
    by_value = {getattr(MPI, f"THREAD_{name.upper()}"): name for name in mpi.THREAD_LEVELS}
    assert mpi.thread_level() == by_value[MPI.Query_thread()]
    for name in mpi.THREAD_LEVELS:
        assert getattr(mpi, f"THREAD_{name.upper()}") == getattr(MPI, f"THREAD_{name.upper()}")


def test_wtime_advances():
    first = mpi.wtime.py_func()
    time.sleep(0.01)
    assert 0.005 < mpi.wtime() - first < 5


def test_error_string_and_class_from_njit_match_mpi4py():
    for code in (mpi.ERR_RANK, mpi.ERR_TRUNCATE, mpi.ERR_COMM):
        _, text, error_class, initialized = clock_and_errors(code)
        assert text == MPI.Get_error_string(code) and error_class == code and initialized


def test_set_thread_level_after_init_must_match():
    import pytest

    current = mpi.thread_level()
    mpi.set_thread_level(current)  # same level: accepted
    other = "single" if current != "single" else "multiple"
    with pytest.raises(RuntimeError, match="already initialised"):
        mpi.set_thread_level(other)
    with pytest.raises(ValueError, match="unknown MPI thread level"):
        mpi.set_thread_level("fast")
