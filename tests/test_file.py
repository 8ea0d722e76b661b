"""MPI-IO: every process writes its block of a global array into one file, NumPy reads the
file back, and every process reads its block back; individual, explicit-offset and
non-blocking reads and writes; bad input ends in a clear error and leaves the file as it was."""

import os
import tempfile

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi
from mpi4numba import (
    MODE_CREATE,
    MODE_RDONLY,
    MODE_RDWR,
    MODE_WRONLY,
    file_close,
    file_get_size,
    file_iread_at,
    file_iread_at_all,
    file_iwrite_all,
    file_iwrite_at,
    file_open,
    file_read,
    file_read_all,
    file_read_at,
    file_read_at_all,
    file_set_block_view,
    file_set_size,
    file_set_view,
    file_write,
    file_write_all,
    file_write_at,
    file_write_at_all,
)
from mpi4numba._core import errorcodes

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


@pytest.fixture
def shared_path():
    """One new file name for every process (rank 0's temporary folder), removed afterwards."""
    folder = MPI.COMM_WORLD.bcast(tempfile.mkdtemp(prefix="mpi4numba-io-") if RANK == 0 else None)
    path = os.path.join(folder, "data.bin")
    yield path
    MPI.COMM_WORLD.Barrier()
    if RANK == 0:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


def opened(path, mode, comm=None):
    status, fh = file_open(path, mode, comm)
    assert status == 0, mpi.error_string(status)
    assert fh.shape == (1,) and fh.dtype == mpi.FileType and fh[0] != 0
    return fh


def visible(fh):
    """MPI's sync-barrier-sync: every process's writes become visible to the others' reads
    and size queries (MPI-IO's consistency rule without atomic mode)."""
    assert mpi.file_sync(fh) == 0 and mpi.barrier() == 0 and mpi.file_sync(fh) == 0


def says(code, error, text):
    assert mpi.error_class(code) == error, mpi.error_string(code)
    assert text in mpi.error_string(code) or not errorcodes.codes_carry_messages(), mpi.error_string(code)


@pytest.mark.parametrize("fortran", [False, True], ids=["C-order", "Fortran-order"])
def test_blocks_of_a_global_array_in_one_collective_write(shared_path, fortran):
    rows, cols = 3, 4  # each process: rows 3 * rank ... of a (3 * SIZE, 4) array, columns 0-3
    field = np.arange(3 * SIZE * cols, dtype=np.float64).reshape(3 * SIZE, cols) * 1.5
    block = field[RANK * rows : (RANK + 1) * rows].copy()
    fh = opened(shared_path, MODE_CREATE | MODE_RDWR)
    assert file_set_block_view(fh, block, field.shape, (RANK * rows, 0), 0, fortran) == 0
    assert file_write_all(fh, block.T if fortran else block) == 0
    assert file_close(fh) == 0
    MPI.COMM_WORLD.Barrier()
    on_disk = np.fromfile(shared_path).reshape(field.shape, order="F" if fortran else "C")
    np.testing.assert_array_equal(on_disk, field)
    fh = opened(shared_path, MODE_RDONLY)
    back = np.zeros_like(block)
    assert file_set_block_view(fh, back, field.shape, (RANK * rows, 0), 0, fortran) == 0
    assert file_read_all(fh, back.T if fortran else back) == 0
    np.testing.assert_array_equal(back, block)
    assert file_close(fh) == 0


def test_columns_of_the_block_and_a_strided_memory_view(shared_path):
    """Blocks split along the second axis, written from a strided view of a larger array."""
    global_shape = (4, 2 * SIZE)
    padded = np.full((6, 5), -1, np.int32)
    block = padded[1:5, 1:3]  # a strided view: a derived datatype describes it
    block[:] = (np.arange(4)[:, None] * 100 + 2 * RANK + np.arange(2)).astype(np.int32)
    fh = opened(shared_path, MODE_CREATE | MODE_WRONLY)
    assert file_set_block_view(fh, block, global_shape, (0, 2 * RANK)) == 0
    assert file_write_all(fh, block) == 0
    assert file_close(fh) == 0
    MPI.COMM_WORLD.Barrier()
    expected = np.arange(4)[:, None] * 100 + np.arange(2 * SIZE)
    np.testing.assert_array_equal(np.fromfile(shared_path, np.int32).reshape(global_shape), expected)


def test_explicit_offsets_file_pointers_and_sizes(shared_path):
    fh = opened(shared_path, MODE_CREATE | MODE_RDWR)
    assert file_set_view(fh, 0, np.zeros(0, np.int64)) == 0
    mine = np.arange(3, dtype=np.int64) + 10 * RANK
    assert file_write_at_all(fh, 3 * RANK, mine) == 0
    visible(fh)
    assert file_get_size(fh) == (0, 3 * SIZE * 8)
    got = np.zeros(3 * SIZE, np.int64)
    assert file_read_at_all(fh, 0, got) == 0
    np.testing.assert_array_equal(got, np.concatenate([np.arange(3) + 10 * r for r in range(SIZE)]))
    assert file_close(fh) == 0
    # individual file pointers, on a file of one's own
    own = f"{shared_path}.{RANK}"
    fh = opened(own, MODE_CREATE | MODE_RDWR, mpi.COMM_SELF)
    assert file_write(fh, np.arange(4.0)) == 0 and file_write(fh, np.array([9.0])) == 0
    assert file_set_size(fh, 8 * 5) == 0
    assert file_write_at(fh, 8, np.array([7.0])) == 0  # bytes: no view set
    first, rest = np.zeros(2), np.zeros(3)
    assert file_read_at(fh, 0, first) == 0 and file_read_at(fh, 16, rest) == 0
    assert first.tolist() == [0.0, 7.0] and rest.tolist() == [2.0, 3.0, 9.0]
    assert file_close(fh) == 0
    os.remove(own)


@numba.njit
def checkpoints(path, field, steps, every, rank, rows):
    """A compiled time loop that writes its block every ``every`` steps into one file, one
    global array after another (the file's view shifts by the array's size)."""
    code, fh = file_open(path, MODE_CREATE | MODE_WRONLY)
    global_rows = rows * mpi.size()
    written = 0
    for step in range(steps):
        field += 1.0
        if step % every == 0:
            disp = written * global_rows * field.shape[1] * 8
            code |= file_set_block_view(fh, field, (global_rows, field.shape[1]), (rank * rows, 0), disp)
            code |= file_write_all(fh, field)
            written += 1
    return code | file_close(fh), written


def test_checkpoints_from_a_compiled_loop(shared_path):
    rows, cols = 2, 3
    field = np.full((rows, cols), 100.0 * RANK)
    code, written = checkpoints(shared_path, field, 7, 3, RANK, rows)
    assert code == 0 and written == 3
    MPI.COMM_WORLD.Barrier()
    snapshots = np.fromfile(shared_path).reshape(3, rows * SIZE, cols)
    for index, step in enumerate((0, 3, 6)):
        expected = np.repeat(100.0 * np.arange(SIZE), rows)[:, None] + step + 1
        np.testing.assert_array_equal(snapshots[index], np.broadcast_to(expected, (rows * SIZE, cols)))


def test_non_blocking_reads_and_writes_keep_their_arrays(shared_path):
    fh = opened(shared_path, MODE_CREATE | MODE_RDWR)
    assert file_set_view(fh, 0, np.zeros(0)) == 0
    status, request = file_iwrite_at(fh, 2 * RANK, np.array([1.0, 2.0]) + RANK)  # a temporary
    assert status == 0 and mpi.wait(request) == 0
    visible(fh)
    got = np.zeros(2 * SIZE)
    status, request = file_iread_at_all(fh, 0, got)
    assert status == 0 and mpi.wait(request) == 0
    np.testing.assert_array_equal(got, np.concatenate([[1.0 + r, 2.0 + r] for r in range(SIZE)]))
    one = np.zeros(1)
    status, request = file_iread_at(fh, 2 * SIZE - 1, one)
    assert status == 0 and mpi.wait(request) == 0 and one[0] == 2.0 + SIZE - 1
    assert file_close(fh) == 0
    own = f"{shared_path}.{RANK}"
    fh = opened(own, MODE_CREATE | MODE_RDWR, mpi.COMM_SELF)
    status, request = file_iwrite_all(fh, np.arange(3.0))
    assert status == 0 and mpi.wait(request) == 0 and file_close(fh) == 0
    assert np.fromfile(own).tolist() == [0.0, 1.0, 2.0]
    os.remove(own)


def test_a_read_past_the_end_is_an_error_and_leaves_the_rest(shared_path):
    own = f"{shared_path}.{RANK}"
    fh = opened(own, MODE_CREATE | MODE_RDWR, mpi.COMM_SELF)
    assert file_write(fh, np.arange(2.0)) == 0
    got = np.full(4, -1.0)
    says(file_read_at(fh, 0, got), mpi.ERR_IO, "the file ended before the read filled the array")
    assert got.tolist() == [0.0, 1.0, -1.0, -1.0]
    says(file_read(fh, np.zeros(1)), mpi.ERR_IO, "the file ended")  # the pointer is at the end
    assert file_close(fh) == 0
    os.remove(own)


def test_closed_files_read_only_files_and_missing_files(shared_path):
    own = f"{shared_path}.{RANK}"
    fh = opened(own, MODE_CREATE | MODE_WRONLY, mpi.COMM_SELF)
    assert file_write(fh, np.arange(3.0)) == 0 and file_close(fh) == 0
    for code in (file_write(fh, np.zeros(1)), file_read_at(fh, 0, np.zeros(1)), file_close(fh), file_get_size(fh)[0]):
        says(code, mpi.ERR_FILE, "the file is closed")
    fh = opened(own, MODE_RDONLY, mpi.COMM_SELF)
    code = file_write_at(fh, 0, np.full(3, 5.0))
    assert mpi.error_class(code) in (mpi.ERR_READ_ONLY, mpi.ERR_ACCESS, mpi.ERR_AMODE), mpi.error_string(code)
    assert file_close(fh) == 0
    assert np.fromfile(own).tolist() == [0.0, 1.0, 2.0]  # untouched
    os.remove(own)
    status, fh = file_open(own, MODE_RDONLY, mpi.COMM_SELF)
    assert mpi.error_class(status) == mpi.ERR_NO_SUCH_FILE, mpi.error_string(status)
    says(file_read(fh, np.zeros(1)), mpi.ERR_FILE, "the file is closed")
    assert mpi.error_class(mpi.file_delete(own)) == mpi.ERR_NO_SUCH_FILE


def test_a_block_that_does_not_fit_raises_before_mpi(shared_path):
    fh = opened(shared_path, MODE_CREATE | MODE_RDWR)
    for global_shape, starts in (((4, 4), (3, 0)), ((4, 4), (0, -1)), ((2, 4), (0, 0))):
        with pytest.raises(ValueError, match="the block does not fit inside global_shape at starts"):
            file_set_block_view(fh, np.zeros((3, 2)), global_shape, starts)
    assert file_close(fh) == 0


@pytest.mark.jit_only
def test_bad_types_are_typing_errors():
    @numba.njit
    def wrong_rank(fh):
        return file_set_block_view(fh, np.zeros((2, 2)), (4,), (0,))

    with pytest.raises(TypingError, match="global_shape must be a tuple of 2 integers"):
        wrong_rank(np.zeros(1, mpi.FileType))

    @numba.njit
    def not_a_file(fh):
        return file_write(fh, np.zeros(1))

    with pytest.raises(TypingError, match="fh must be a file"):
        not_a_file(np.zeros(1))

    @numba.njit
    def into_read_only(fh, data):
        return file_read(fh, data)

    data = np.zeros(2)
    data.flags.writeable = False
    with pytest.raises(TypingError, match="data is read-only"):
        into_read_only(np.zeros(1, mpi.FileType), data)

    with pytest.raises(TypingError, match="filename must be a str"):
        file_open(b"name.bin")


def test_file_to_mpi4py_shares_the_handle(shared_path):
    fh = opened(shared_path, MODE_CREATE | MODE_RDWR)
    assert file_write_at_all(fh, 8 * RANK, np.array([float(RANK)])) == 0
    visible(fh)
    assert mpi.file_to_mpi4py(fh).Get_size() == 8 * SIZE
    assert file_close(fh) == 0
    with pytest.raises(ValueError, match="the file is closed"):
        mpi.file_to_mpi4py(fh)
