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
    # mpi4numba numbers the levels 0-3 (mpi.THREAD_SINGLE ...) whatever the ABI's values are
    by_value = {getattr(MPI, f"THREAD_{name.upper()}"): name for name in mpi.THREAD_LEVELS}
    assert mpi.THREAD_LEVELS[mpi.query_thread()] == by_value[MPI.Query_thread()]
    level = by_value[MPI.Query_thread()]
    assert mpi.query_thread() == mpi.query_thread.py_func() == getattr(mpi, f"THREAD_{level.upper()}")


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

    current = mpi.THREAD_LEVELS[mpi.query_thread()]
    mpi.set_thread_level(current)  # same level: accepted
    other = "single" if current != "single" else "multiple"
    with pytest.raises(RuntimeError, match="already initialised"):
        mpi.set_thread_level(other)
    with pytest.raises(ValueError, match="unknown MPI thread level"):
        mpi.set_thread_level("fast")
