"""Bad input ends in a clear error or correct behaviour: never a crash, a hang or wrong data.

Every case runs from Python and from an njit function (where Numba can take the
arguments), on every rank with the same arguments: each error here is one every rank
detects before MPI is called (a problem only the root can see, such as a short full
buffer on the root, ends the job through the abort on an uncaught exception instead;
see tests/test_failures.py). The troubleshooting guide lists these cases.

The corpus checks the channel as well as the message: a raised exception must be exactly
the case's class, the classes raised are exactly those docs/guide/errors.md names, and
every class the package raises is one of those (see "The error model" below).
"""

from __future__ import annotations

import ast
import atexit
import builtins
import importlib
import inspect
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pytest
from helpers import ROOT
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.extending import intrinsic

import mpi4numba as mpi
from mpi4numba._abi import ABIError
from mpi4numba._core import errorcodes
from mpi4numba._core.handles import REQUEST_ARRAY

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
TAG_UB = MPI.COMM_WORLD.Get_attr(MPI.TAG_UB)


def read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def freed_dup():
    status, dup = mpi.comm_dup()
    assert status == 0 and mpi.comm_free(dup) == 0
    return dup


def freed_mpi4py():
    comm = MPI.COMM_WORLD.Dup()
    comm.Free()
    return comm


def freed_window():
    # memory MPI allocates: Open MPI 4 at thread level multiple makes no window over user memory
    status, win, _ = mpi.win_allocate(4, np.float64, comm=MPI.COMM_SELF)
    assert status == 0 and mpi.win_free(win) == 0
    return win


def other_thread_level() -> str:
    """A thread level MPI does not run at here (set_thread_level refuses it once MPI runs)."""
    return "single" if mpi.thread_level() != "single" else "multiple"


def too_large_to_copy() -> np.ndarray:
    """A writable view of 2**57 doubles over one element (stride 0): a reduction copies it to
    C order first, and no allocator gives 2**60 bytes (more than a 64-bit address space maps)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1), (2**57,), (0,))


_FOLDERS: list[str] = []  # of the files the cases make, removed when the tests end
atexit.register(lambda: [shutil.rmtree(folder, ignore_errors=True) for folder in _FOLDERS])


def new_folder() -> str:
    _FOLDERS.append(tempfile.mkdtemp(prefix="mpi4numba-bad-"))
    return _FOLDERS[-1]


def own_file(values=(0.0, 1.0), mode: str = "RDWR") -> tuple[str, np.ndarray]:
    """``(path, fh)``: a file of this process holding ``values`` (float64), opened with
    ``mode`` on COMM_SELF."""
    path = os.path.join(new_folder(), "own.bin")
    np.array(values, np.float64).tofile(path)
    status, fh = mpi.file_open(path, getattr(mpi, f"MODE_{mode}"), mpi.COMM_SELF)
    assert status == 0, mpi.error_string(status)
    return path, fh


def closed_file() -> np.ndarray:
    path, fh = own_file()
    assert mpi.file_close(fh) == 0
    return fh


def file_unchanged(args, result):  # the refused write left the file as it was
    fh = args[0]
    assert mpi.file_close(fh) == 0


def code_of(result: Any) -> int:
    return int(result[0] if isinstance(result, tuple) else result)


class DeviceArray:
    """What numba.cuda's and CuPy's arrays show of themselves: CUDA's array interface."""

    def __init__(self) -> None:
        self.shape, self.dtype = (4,), np.dtype(np.float64)
        self.__cuda_array_interface__ = {"shape": (4,), "typestr": "<f8", "data": (0, False), "version": 3}


@dataclass
class Case:
    """``call(*args)`` (a lambda over mpi4numba, compiled as is for the njit form) should raise
    ``raises`` with a message matching ``match``, or return a status whose error class is
    ``error`` (0: success), then pass ``check(args, result)``."""

    name: str
    call: Callable
    args: Callable[[], tuple]
    raises: type[BaseException] | None = None
    match: str = ""
    error: str | None = None
    check: Callable | None = None
    njit: bool = True
    python: bool = True


@numba.njit
def wait_twice(data):
    _, request = mpi.isend(data, mpi.PROC_NULL)
    return mpi.wait(request) | mpi.wait(request)  # the second wait finds REQUEST_NULL


def guard_untouched(args, result):  # the element after a truncated receive is not written
    assert args[2].base[-1] == -1.0


def got_three(args, result):
    assert args[2] == 3.0


def empty_refusal(code: int) -> bool:
    """A code of class ERR_REQUEST whose text names the empty array, where the library lets
    mpi4numba's codes carry a text (MPICH 4.1 does not: the bare class there)."""
    if mpi.error_class(code) != mpi.ERR_REQUEST:
        return False
    return "empty request array" in mpi.error_string(code) or not errorcodes.codes_carry_messages()


def says_empty(args, result):  # the code's message, and what a refused completion returns besides
    assert empty_refusal(code_of(result)), mpi.error_string(code_of(result))
    if isinstance(result, tuple):
        assert tuple(result[1:]) in ((mpi.UNDEFINED,), (False,), (False, mpi.UNDEFINED)), result


CASES = [
    # unsupported dtypes, non-arrays, read-only receive buffers
    Case(
        "send float16",
        lambda a, d: mpi.send(a, d),
        lambda: (np.zeros(2, np.float16), mpi.PROC_NULL),
        TypingError,
        "mpi4numba.send: unsupported dtype float16",
    ),
    Case(
        "send datetime64",
        lambda a, d: mpi.send(a, d),
        lambda: (np.zeros(2, "datetime64[s]"), mpi.PROC_NULL),
        TypingError,
        "mpi4numba.send: unsupported dtype",
    ),
    Case(
        "bcast unicode",
        lambda a, r: mpi.bcast(a, r),
        lambda: (np.array(["ab", "cd"]), 0),
        TypingError,
        "mpi4numba.bcast: unsupported dtype",
    ),
    Case(
        "allreduce float16",
        lambda a, b: mpi.allreduce(a, b),
        lambda: (np.ones(2, np.float16), np.zeros(2, np.float16)),
        TypingError,
        "mpi4numba.allreduce: unsupported dtype float16",
    ),
    Case(
        "send object",
        lambda a, d: mpi.send(a, d),
        lambda: (np.array([1, "a"], dtype=object), mpi.PROC_NULL),
        TypingError,
        "mpi4numba.send: unsupported dtype object",
        njit=False,
    ),
    Case(
        "allreduce of a GPU array",
        lambda a, b: mpi.allreduce(a, b),
        lambda: (DeviceArray(), np.zeros(4)),
        TypingError,
        "mpi4numba.allreduce: DeviceArray is a device \\(GPU\\) array; mpi4numba takes NumPy arrays in host memory",
        njit=False,
    ),
    Case(
        "send a list",
        lambda a, d: mpi.send(a, d),
        lambda: ([1.0, 2.0], mpi.PROC_NULL),
        TypingError,
        "mpi4numba.send: data must be a NumPy array",
    ),
    Case(
        "recv into a string",
        lambda a, s: mpi.recv(a, s),
        lambda: ("abc", mpi.PROC_NULL),
        TypingError,
        "mpi4numba.recv: data must be a NumPy array",
    ),
    Case(
        "recv into a scalar",
        lambda a, s: mpi.recv(a, s),
        lambda: (1.0, mpi.PROC_NULL),
        TypingError,
        "mpi4numba.recv: data must be a NumPy array",
    ),
    Case("bcast None", lambda a, r: mpi.bcast(a, r), lambda: (None, 0), TypingError, "mpi4numba.bcast: data"),
    Case(
        "recv read-only",
        lambda a, s: mpi.recv(a, s),
        lambda: (read_only(np.zeros(2)), mpi.PROC_NULL),
        TypingError,
        "mpi4numba.recv: data is read-only",
    ),
    Case(
        "allreduce into read-only",
        lambda a, b: mpi.allreduce(a, b),
        lambda: (np.ones(2), read_only(np.zeros(2))),
        TypingError,
        "mpi4numba.allreduce: recvobj is read-only",
    ),
    Case(
        "irecv read-only",
        lambda a, s: mpi.irecv(a, s),
        lambda: (read_only(np.zeros(2)), mpi.PROC_NULL),
        TypingError,
        "mpi4numba.irecv: data is read-only",
    ),
    # receive buffers shorter than the message: MPI's ERR_TRUNCATE, nothing written past them
    Case(
        "sendrecv into a short buffer",
        lambda a, r, b, s: mpi.sendrecv(a, r, b, s),
        lambda: (np.arange(4.0), (RANK + 1) % SIZE, np.full(3, -1.0)[:2], (RANK - 1) % SIZE),
        error="ERR_TRUNCATE",
        check=guard_untouched,
    ),
    # buffers too short for a collective: ValueError naming the routine and the buffer
    Case(
        "scatter into a short block",
        lambda a, b: mpi.scatter(a, b, 2, 0),
        lambda: (np.zeros(2 * SIZE), np.zeros(1)),
        ValueError,
        "mpi4numba.scatter: recv_data has fewer than count elements",
    ),
    Case(
        "gather from a short block",
        lambda a, b: mpi.gather(a, b, 2, 0),
        lambda: (np.zeros(1), np.zeros(2 * SIZE)),
        ValueError,
        "mpi4numba.gather: send_data has fewer than count elements",
    ),
    Case(
        "allgather into a short buffer",
        lambda a, b: mpi.allgather(a, b, 2),
        lambda: (np.zeros(2), np.zeros(1)),
        ValueError,
        "mpi4numba.allgather: recv_data has fewer than count . size elements",
    ),
    Case(
        "alltoall from a short buffer",
        lambda a, b: mpi.alltoall(a, b, 2),
        lambda: (np.zeros(1), np.zeros(2 * SIZE)),
        ValueError,
        "mpi4numba.alltoall: send_data has fewer than count . size elements",
    ),
    Case(
        "allreduce into a short buffer",
        lambda a, b: mpi.allreduce(a, b),
        lambda: (np.ones(3), np.zeros(2)),
        ValueError,
        "mpi4numba.allreduce: recvobj has fewer elements than sendobj",
    ),
    Case(
        "reduce_scatter_block from a short buffer",
        lambda a, b: mpi.reduce_scatter_block(a, b),
        lambda: (np.ones(SIZE), np.zeros(2)),
        ValueError,
        "mpi4numba.reduce_scatter_block: sendobj has fewer than size . recvobj.size elements",
    ),
    Case(
        "iallgather into a short buffer",
        lambda a, b: mpi.iallgather(a, b, 2),
        lambda: (np.zeros(2), np.zeros(1)),
        ValueError,
        "mpi4numba.iallgather: recv_data",
    ),
    Case(
        "neighbor_allgather without a topology",
        lambda a, b, c: mpi.neighbor_allgather(a, b, 1, c),
        lambda: (np.zeros(1), np.zeros(2), MPI.COMM_WORLD),
        error="ERR_TOPOLOGY",
    ),
    # counts and displacements of v-collectives
    Case(
        "gatherv with too few counts",
        lambda a, b, c: mpi.gatherv(a, b, c, None, 0),
        lambda: (np.zeros(1), np.zeros(SIZE), np.ones(SIZE - 1, np.int32)),
        ValueError,
        "mpi4numba.gatherv: counts and displacements need one entry per process",
    ),
    Case(
        "allgatherv with too few displacements",
        lambda a, b, c, d: mpi.allgatherv(a, b, c, d),
        lambda: (np.zeros(1), np.zeros(SIZE), np.ones(SIZE, np.int32), np.zeros(SIZE - 1, np.int32)),
        ValueError,
        "mpi4numba.allgatherv: counts and displacements need one entry per process",
    ),
    Case(
        "alltoallv with a negative count",
        lambda a, c, b: mpi.alltoallv(a, c, None, b, c, None),
        lambda: (np.zeros(SIZE), np.full(SIZE, -1, np.int32), np.zeros(SIZE)),
        ValueError,
        "mpi4numba.alltoallv: a block lies outside",
    ),
    Case(
        "allgatherv with a count above a C int",
        lambda a, b, c: mpi.allgatherv(a, b, c),
        lambda: (np.zeros(1), np.zeros(SIZE), np.full(SIZE, 2**40)),
        ValueError,
        "mpi4numba.allgatherv: a count or displacement does not fit a C int",
    ),
    Case(
        "scatterv with float counts",
        lambda a, c, b: mpi.scatterv(a, c, None, b, 0),
        lambda: (np.zeros(SIZE), np.ones(SIZE), np.zeros(1)),
        TypingError,
        "mpi4numba.scatterv: counts must be a 1-D integer array",
    ),
    Case(
        "igatherv with too few counts",
        lambda a, b, c: mpi.igatherv(a, b, c, None, 0),
        lambda: (np.zeros(1), np.zeros(SIZE), np.ones(SIZE - 1, np.int32)),
        ValueError,
        "mpi4numba.igatherv: counts and displacements need one entry per process",
    ),
    # ranks, roots and tags out of range: MPI's error codes (checked by every rank)
    Case("send to rank size", lambda a, d: mpi.send(a, d), lambda: (np.ones(1), SIZE), error="ERR_RANK"),
    Case("recv from rank -5", lambda a, s: mpi.recv(a, s), lambda: (np.ones(1), -5), error="ERR_RANK"),
    Case("send to a rank above a C int", lambda a, d: mpi.send(a, d), lambda: (np.ones(1), 2**40), error="ERR_ARG"),
    Case("bcast from root size", lambda a, r: mpi.bcast(a, r), lambda: (np.ones(1), SIZE), error="ERR_ROOT"),
    Case(
        "reduce to root -1",
        lambda a, b, r: mpi.reduce(a, b, mpi.Operator.SUM, r),
        lambda: (np.ones(1), np.ones(1), -1),
        error="ERR_ROOT",
    ),
    Case(
        "gather to root size",
        lambda a, b, r: mpi.gather(a, b, 1, r),
        lambda: (np.ones(1), np.ones(SIZE), SIZE),
        error="ERR_ROOT",
    ),
    Case(
        "negative tag",
        lambda a, me, b: mpi.sendrecv(a, me, b, me, -1, -1),
        lambda: (np.ones(1), RANK, np.ones(1)),
        error="ERR_TAG",
    ),
    Case(
        "tag above MPI_TAG_UB",
        lambda a, me, b, t: mpi.sendrecv(a, me, b, me, t, t),
        lambda: (np.ones(1), RANK, np.ones(1), TAG_UB + 1),
        error="ERR_TAG",
    ),  # ERR_ARG: above a C int too
    Case("isend with a negative tag", lambda a, me: mpi.isend(a, me, -7), lambda: (np.ones(1), RANK), error="ERR_TAG"),
    # communicators: null, freed by mpi4numba, freed through mpi4py
    Case("barrier on COMM_NULL", lambda c: mpi.barrier(c), lambda: (MPI.COMM_NULL,), error="ERR_COMM"),
    Case("comm_rank of COMM_NULL", lambda c: mpi.comm_rank(c), lambda: (MPI.COMM_NULL,), error="ERR_COMM"),
    Case(
        "allreduce on a freed communicator",
        lambda a, b, c: mpi.allreduce(a, b, mpi.Operator.SUM, c),
        lambda: (np.ones(1), np.ones(1), freed_dup()),
        error="ERR_COMM",
    ),
    Case(
        "bcast on a communicator freed by mpi4py",
        lambda a, c: mpi.bcast(a, 0, c),
        lambda: (np.ones(1), freed_mpi4py()),
        error="ERR_COMM",
    ),
    Case(
        "isend on COMM_NULL", lambda a, c: mpi.isend(a, 0, 0, c), lambda: (np.ones(1), MPI.COMM_NULL), error="ERR_COMM"
    ),
    # requests: zero, null, completed, freed, waited twice
    Case("wait on a zero request", lambda r: mpi.wait(r), lambda: (np.zeros(1, mpi.RequestType),), error="SUCCESS"),
    Case("wait on REQUEST_NULL", lambda r: mpi.wait(r), lambda: (mpi.request_array(1),), error="SUCCESS"),
    Case("waitall on zeros", lambda r: mpi.waitall(r), lambda: (np.zeros(3, mpi.RequestType),), error="SUCCESS"),
    Case("waiting twice", lambda a: wait_twice(a), lambda: (np.ones(1),), error="SUCCESS"),
    Case(
        "test on a null request",
        lambda r: mpi.test(r),
        lambda: (mpi.request_array(1),),
        error="SUCCESS",
        check=lambda args, result: result[1],
    ),
    Case(
        "wait after request_free",
        lambda r: mpi.request_free(r) | mpi.wait(r),
        lambda: (mpi.send_init(np.ones(1), mpi.PROC_NULL)[1],),
        error="SUCCESS",
    ),
    Case(
        "waitany on no requests",
        lambda r: mpi.waitany(r),
        lambda: (mpi.request_array(0),),
        error="SUCCESS",
        check=lambda args, result: result[1] == mpi.UNDEFINED,
    ),
    # an empty request array among several (what a non-blocking call refused by the thread
    # check returns): ERR_REQUEST with a message, nothing read from it, nothing done
    *(
        Case(
            f"{routine} on a {kind} holding an empty request array",
            call,
            lambda: (mpi.request_array(1), mpi.request_array(0)),
            error="ERR_REQUEST",
            check=says_empty,
        )
        for routine, kind, call in (
            ("waitall", "tuple", lambda a, b: mpi.waitall((a, b))),
            ("waitany", "tuple", lambda a, b: mpi.waitany((b, a))),
            ("testall", "tuple", lambda a, b: mpi.testall((a, b))),
            ("testany", "tuple", lambda a, b: mpi.testany((b, a))),
            ("startall", "tuple", lambda a, b: mpi.startall((a, b))),
            ("waitall", "list", lambda a, b: mpi.waitall([a, b])),
            ("testany", "list", lambda a, b: mpi.testany([b, a])),
        )
    ),
    Case(
        "wait on a float array",
        lambda r: mpi.wait(r),
        lambda: (np.zeros(1),),
        TypingError,
        "mpi4numba.wait: request must be a 1-D array of RequestType",
    ),
    # strided arrays where MPI must see C order
    Case(
        "igather into a strided buffer",
        lambda a, b: mpi.igather(a, b, 1, 0),
        lambda: (np.zeros(1), np.zeros(4 * SIZE)[::2]),
        ValueError,
        "mpi4numba.igather: .*C-contiguous",
    ),
    Case(
        "iallreduce of a strided array",
        lambda a, b: mpi.iallreduce(a, b),
        lambda: (np.ones(4)[::2], np.zeros(2)),
        ValueError,
        "mpi4numba.iallreduce: sendobj and recvobj must be C-contiguous",
    ),
    Case(
        "ialltoall into a strided buffer",
        lambda a, b: mpi.ialltoall(a, b, 1),
        lambda: (np.zeros(SIZE), np.zeros(4 * SIZE)[::2]),
        ValueError,
        "mpi4numba.ialltoall: .*C-contiguous",
    ),
    # empty and 0-d arrays: correct behaviour
    Case(
        "sendrecv of 0-d arrays",
        lambda a, me, b: mpi.sendrecv(a, me, b, me),
        lambda: (np.array(3.0), RANK, np.array(0.0)),
        error="SUCCESS",
        check=got_three,
    ),
    Case(
        "allreduce of 0-d arrays",
        lambda a, b: mpi.allreduce(a, b),
        lambda: (np.array(1.0), np.array(0.0)),
        error="SUCCESS",
        check=lambda args, result: args[1] == SIZE,
    ),
    Case("bcast of an empty array", lambda a: mpi.bcast(a, 0), lambda: (np.zeros(0),), error="SUCCESS"),
    Case(
        "allgather of nothing", lambda a, b: mpi.allgather(a, b, 0), lambda: (np.zeros(0), np.zeros(0)), error="SUCCESS"
    ),
    Case(
        "isend of an empty array",
        lambda a: mpi.wait(mpi.isend(a, mpi.PROC_NULL)[1]),
        lambda: (np.zeros(0),),
        error="SUCCESS",
    ),
    Case(
        "scatter into a 0-d array",
        lambda a, b: mpi.scatter(a, b, 1, 0),
        lambda: (np.arange(1.0 * SIZE), np.array(-1.0)),
        error="SUCCESS",
        check=lambda args, result: args[1] == RANK,
    ),
    # windows after win_free
    Case("put after win_free", lambda a, w: mpi.put(a, 0, 0, w), lambda: (np.ones(1), freed_window()), error="ERR_WIN"),
    Case("get after win_free", lambda a, w: mpi.get(a, 0, 0, w), lambda: (np.ones(1), freed_window()), error="ERR_WIN"),
    Case("win_fence after win_free", lambda w: mpi.win_fence(w), lambda: (freed_window(),), error="ERR_WIN"),
    # topologies
    Case(
        "cart_create with more processes than the communicator",
        lambda d: mpi.cart_create(d, (False, False)),
        lambda: ((SIZE + 1, 2),),
        error="ERR_ARG",
    ),
    Case(
        "cart_create with negative dims",
        lambda d: mpi.cart_create(d, (False, False)),
        lambda: ((-1, -1),),
        error="ERR_DIMS",
    ),
    Case(
        "dims_create that cannot factor", lambda d: mpi.dims_create(7, d), lambda: (np.array([2, 0]),), error="ERR_DIMS"
    ),
    # operators that do not apply
    Case(
        "BAND of doubles, written in the code",
        lambda a, b: mpi.allreduce(a, b, mpi.Operator.BAND),
        lambda: (np.ones(2), np.zeros(2)),
        TypingError,
        "mpi4numba.allreduce: Operator.BAND does not apply to float64",
        python=False,
    ),
    Case(
        "BAND of doubles, passed from Python",
        lambda a, b: mpi.allreduce(a, b, mpi.Operator.BAND),
        lambda: (np.ones(2), np.zeros(2)),
        ValueError,
        "mpi4numba.allreduce: Operator.BAND does not apply to float64",
        njit=False,
    ),
    Case(
        "MAX of complex numbers (known at run time)",
        lambda a, b, op: mpi.allreduce(a, b, op),
        lambda: (np.ones(1, np.complex128), np.zeros(1, np.complex128), mpi.Operator.MAX),
        ValueError,
        "mpi4numba.allreduce: Operator.MAX does not apply to complex128",
    ),
    # one case at least for each rule of docs/guide/errors.md's table not shown above
    Case(
        "request_array of a negative count",
        lambda n: mpi.request_array(n),
        lambda: (-1,),
        ValueError,
        "mpi4numba.request_array: count must not be negative",
    ),
    Case(
        "set_strided to an unknown mode",
        lambda m: mpi.set_strided(m),
        lambda: ("fast",),
        ValueError,
        "mpi4numba: the strided mode must be one of auto, pack, datatype, not 'fast'",
        njit=False,
    ),
    Case(
        "pair_dtype of complex numbers",
        lambda v: mpi.pair_dtype(v),
        lambda: (np.complex128,),
        ValueError,
        "mpi4numba: MPI has no \\(value, index\\) pair type for complex128",
        njit=False,
    ),
    Case(
        "a reduction of a view too large to copy into C order",
        lambda b: mpi.allreduce(mpi.IN_PLACE, b),
        lambda: (too_large_to_copy(),),
        MemoryError,
        "mpi4numba.allreduce: no memory for a C-ordered copy of a strided buffer",
    ),
    Case(
        "set_thread_level once MPI runs at another level",
        lambda level: mpi.set_thread_level(level),
        lambda: (other_thread_level(),),
        RuntimeError,
        "MPI is already initialised at thread level",
        njit=False,
    ),
    Case(
        "win_to_mpi4py of an array that is no window",
        lambda w: mpi.win_to_mpi4py(w),
        lambda: (np.zeros(1, np.int64),),
        TypeError,
        "mpi4numba.win_to_mpi4py: win must be a window",
        njit=False,
    ),
    # persistent collectives, partitioned messages, isendrecv and comm_idup (MPI-4)
    Case(
        "allreduce_init of a number",
        lambda a, b: mpi.allreduce_init(a, b),
        lambda: (1.0, np.zeros(1)),
        TypingError,
        "mpi4numba.allreduce_init: sendobj must be an array or IN_PLACE, not a number",
    ),
    Case(
        "allgather_init into a short buffer",
        lambda a, b: mpi.allgather_init(a, b, 2),
        lambda: (np.ones(2), np.zeros(2 * SIZE - 1)),
        ValueError,
        "mpi4numba.allgather_init: recv_data has fewer than count \\* size elements",
    ),
    Case(
        "neighbor_alltoall_init without a topology",
        lambda a, b: mpi.neighbor_alltoall_init(a, b, 1, mpi.COMM_WORLD),
        lambda: (np.ones(2), np.zeros(2)),
        error="ERR_TOPOLOGY",
        check=lambda args, result: mpi.wait(result[1]) == 0,  # a null request
    ),
    Case(
        "psend_init of a size that is no multiple of partitions",
        lambda a: mpi.psend_init(a, 3, 0),
        lambda: (np.ones(4),),
        ValueError,
        "mpi4numba.psend_init: the size of data must be a multiple of partitions",
    ),
    Case(
        "precv_init from PROC_NULL",
        lambda a: mpi.precv_init(a, 2, mpi.PROC_NULL),
        lambda: (np.zeros(4),),
        error="ERR_RANK",
        check=lambda args, result: mpi.wait(result[1]) == 0,
    ),
    Case(
        "pready on a null request",
        lambda r: mpi.pready(0, r),
        lambda: (mpi.request_array(1),),
        error="ERR_REQUEST",
    ),
    Case(
        "parrived on an empty request array",
        lambda r: mpi.parrived(r, 0),
        lambda: (mpi.request_array(0),),
        error="ERR_REQUEST",
        check=says_empty,
    ),
    Case(
        "comm_idup of a freed communicator",
        lambda c: mpi.comm_idup(c),
        lambda: (freed_dup(),),
        error="ERR_COMM",
        check=lambda args, result: mpi.wait(result[2]) == 0,
    ),
    # MPI-IO
    Case(
        "file_write to a closed file",
        lambda fh, a: mpi.file_write(fh, a),
        lambda: (closed_file(), np.ones(2)),
        error="ERR_FILE",
        check=lambda args, result: (
            "the file is closed" in mpi.error_string(result) or not errorcodes.codes_carry_messages()
        ),
    ),
    Case(
        "file_read_at past the end of the file",
        lambda fh, a: mpi.file_read_at(fh, 0, a),
        lambda: (own_file()[1], np.full(3, -1.0)),
        error="ERR_IO",
        check=lambda args, result: args[1].tolist() == [0.0, 1.0, -1.0] and mpi.file_close(args[0]) == 0,
    ),
    Case(
        "file_write_at to a file opened read-only",
        lambda fh, a: mpi.file_write_at(fh, 0, a),
        lambda: (own_file(mode="RDONLY")[1], np.full(2, 9.0)),
        error="ERR_READ_ONLY",
        check=file_unchanged,
    ),
    Case(
        "file_set_block_view of a block that does not fit",
        lambda fh, b: mpi.file_set_block_view(fh, b, (4, 4), (3, 0)),
        lambda: (own_file()[1], np.zeros((2, 2))),
        ValueError,
        "mpi4numba.file_set_block_view: the block does not fit inside global_shape at starts",
    ),
    Case(
        "file_open of a missing file",
        lambda name: mpi.file_open(name, mpi.MODE_RDONLY, mpi.COMM_SELF),
        lambda: (os.path.join(new_folder(), "missing.bin"),),
        error="ERR_NO_SUCH_FILE",
    ),
    Case(
        "file_open of a name holding a NUL",
        lambda name: mpi.file_open(name, mpi.MODE_RDONLY, mpi.COMM_SELF),
        lambda: ("bad\0name.bin",),
        ValueError,
        "mpi4numba.file_open: filename holds a NUL character",
    ),
    Case(
        "file_read into a read-only array",
        lambda fh, a: mpi.file_read(fh, a),
        lambda: (np.zeros(1, mpi.FileType), read_only(np.zeros(2))),
        TypingError,
        "mpi4numba.file_read: data is read-only and cannot receive data",
    ),
    Case(
        "send without dest, from Python",
        lambda a: mpi.send(a),
        lambda: (np.ones(1),),
        TypeError,
        "send\\(\\) missing 1 required positional argument: 'dest'",
        njit=False,
    ),
    Case(
        "send without dest, in njit code",
        lambda a: mpi.send(a),
        lambda: (np.ones(1),),
        TypingError,
        "mpi4numba.send: missing a required argument: 'dest'",
        python=False,
    ),
]


def error_classes(name: str) -> set[int]:
    """The error classes a case may see: MPICH and Intel MPI say ERR_ARG where Open MPI says ERR_DIMS."""
    if name == "SUCCESS":
        return {0}
    if name in ("ERR_DIMS", "ERR_ARG"):
        return {mpi.ERR_DIMS, mpi.ERR_ARG}
    if name == "ERR_READ_ONLY":  # a write to a file opened read-only: each library has its class
        return {mpi.ERR_READ_ONLY, mpi.ERR_ACCESS, mpi.ERR_AMODE}
    if name == "ERR_TAG":  # Open MPI's TAG_UB is the largest C int: one more is no C int at all
        return {mpi.ERR_TAG, mpi.ERR_ARG}
    if name == "ERR_TRUNCATE" and SIZE == 1 and "Open MPI" in MPI.Get_library_version():
        return {mpi.ERR_TRUNCATE, 0}  # Open MPI 5 does not report it for a message to oneself
    return {getattr(mpi, name)}


def run_case(case: Case, call: Callable) -> None:
    args = case.args()
    if case.raises is not None:
        with pytest.raises(case.raises, match=case.match) as raised:
            call(*args)
        assert type(raised.value) is case.raises, (case.name, type(raised.value))  # the class, not a subclass
        return
    result = call(*args)
    assert mpi.error_class(code_of(result)) in error_classes(case.error), (case.name, result)
    if case.check is not None:
        assert case.check(args, result) is not False, (case.name, args, result)


@pytest.mark.parametrize("case", [c for c in CASES if c.python], ids=[c.name for c in CASES if c.python])
def test_from_python(case):
    run_case(case, case.call)


def compiled_only(case: Case):
    """A typing error only compiled code raises (an argument written in the code, a missing
    one) is Python's ValueError or TypeError when the code runs as Python (NUMBA_DISABLE_JIT=1)."""
    return pytest.param(case, marks=pytest.mark.jit_only) if case.raises is TypingError and not case.python else case


@pytest.mark.parametrize("case", [compiled_only(c) for c in CASES if c.njit], ids=[c.name for c in CASES if c.njit])
def test_from_njit(case):
    run_case(case, numba.njit(case.call))


def test_the_corpus_is_large():
    assert sum(c.python for c in CASES) >= 50 and sum(c.njit for c in CASES) >= 50


# The error model: docs/guide/errors.md's table "Which error, when" names the classes a
# failure may raise. The corpus must raise exactly those (one case at least per class),
# and the package may raise no other, so that a class used without being documented, or
# documented and no longer used, fails here.
PACKAGE = ROOT / "src" / "mpi4numba"
NOT_SCANNED = ("bench", "_tools")  # command-line programs, not the library's API


def documented_classes() -> dict[str, type[BaseException]]:
    """The exception classes named in the second column of errors.md's table, by name."""
    text = (ROOT / "docs" / "guide" / "errors.md").read_text()
    section = text.split("## Which error, when", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert len(rows) >= 6, "errors.md's table of rules is missing"
    known = {"TypingError": TypingError, "ABIError": ABIError}
    named: dict[str, type[BaseException]] = {}
    for row in rows:
        channel = row.split(" | ")[1]
        for word in re.findall(r"`([\w.]+)`", channel):
            name = word.rpartition(".")[2]
            if name.endswith("Error"):
                named[name] = known.get(name) or getattr(builtins, name)
    return named


def _module_name(path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stub(node: ast.AST, parents: dict) -> bool:
    """Whether the raise ``node`` is the whole body of its function (a placeholder that an
    ``@overload`` replaces; it never runs)."""
    function = parents.get(node)
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return body == [node]


def _is_check(node: ast.AST) -> bool:
    """Whether ``node`` is a lowered body's run-time check, ``e.check(ok, X, message)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "check"
        and len(node.args) == 3
    )


def raised_in_package() -> Iterator[tuple[str, str, type[BaseException]]]:
    """``(where, name, class)`` of every exception the package raises: ``raise X(...)`` and
    the run-time checks of lowered bodies, ``e.check(ok, X, message)``."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] in NOT_SCANNED:
            continue
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        sites = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None and not _stub(node, parents):
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                sites.append((node.lineno, exc))
            elif _is_check(node):
                sites.append((node.lineno, node.args[1]))
        module = importlib.import_module(_module_name(path)) if sites else None
        for line, exc in sites:
            where = f"{path.relative_to(PACKAGE)}:{line}"
            assert isinstance(exc, ast.Name), f"{where}: raise a class by its name, so that this test can see it"
            cls = getattr(module, exc.id, None) or getattr(builtins, exc.id, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):  # else a re-raise of a caught one
                yield where, cls.__name__, cls  # its own name: an import may rename it


# Raised where no user sees them: a bug in mpi4numba itself, or caught inside it
INTERNAL = {
    ("_core/emit.py", "AttributeError"): "a lowered body asked for a field a type does not have",
    ("__init__.py", "AttributeError"): "the module's __getattr__: Python's protocol for a missing name",
    ("_core/nodelock.py", "PermissionError"): "caught (an OSError) by acquire, which then compiles alone",
    ("_core/cachetag.py", "CacheABIMismatch"): "caught by the cache loader, which recompiles with a warning",
    ("_core/ccall.py", "CacheABIMismatch"): "the same, for code compiled with or without a routine the library lacks",
}


def test_the_table_names_the_classes_of_the_model():
    named = documented_classes()
    assert {"TypingError", "ValueError", "MemoryError", "RuntimeError", "TypeError"} <= set(named), named


def test_the_package_raises_only_documented_classes():
    named = documented_classes()
    undocumented = [
        f"{where}: {name}"
        for where, name, cls in raised_in_package()
        if named.get(name) is not cls and (where.split(":")[0], name) not in INTERNAL
    ]
    assert not undocumented, "document these in docs/guide/errors.md, or raise a documented class:\n" + "\n".join(
        undocumented
    )


def test_every_documented_class_is_raised_by_the_package():
    raised = {cls for _, _, cls in raised_in_package()}
    assert set(documented_classes().values()) <= raised


def test_the_internal_exceptions_are_still_raised_where_listed():
    found = {(where.split(":")[0], name) for where, name, _ in raised_in_package()}
    assert set(INTERNAL) <= found, set(INTERNAL) - found


def test_the_corpus_raises_exactly_the_documented_classes():
    """Every case reports through one channel; the classes raised are the table's, each one
    at least once (a class documented as a subclass of another, ABIError, needs no case:
    it is raised only when the MPI library is not one mpi4numba knows)."""
    named = set(documented_classes().values())
    headline = {cls for cls in named if not any(cls is not other and issubclass(cls, other) for other in named)}
    for case in CASES:
        assert (case.raises is None) != (case.error is None), case.name
        assert case.error is None or case.error == "SUCCESS" or case.error.startswith("ERR_"), case.name
    assert {case.raises for case in CASES if case.raises is not None} == headline


def test_the_corpus_has_status_codes_of_mpi_and_of_mpi4numba():
    """Row 4 of the table: MPI's own codes, and a refusal of mpi4numba's that depends on state."""
    errors = {case.error for case in CASES if case.error is not None}
    assert {"SUCCESS", "ERR_RANK", "ERR_TRUNCATE"} <= errors
    assert any(case.check is says_empty for case in CASES)  # EMPTY_REQUEST: mpi4numba's own code


@pytest.mark.parametrize(
    "variable, value, read",
    [
        ("MPI4NUMBA_THREAD_LEVEL", "fast", "mpi4numba._core.threadlevel:chosen_thread_level"),
        ("MPI4NUMBA_COMPILE_WAIT", "soon", "mpi4numba._core.nodelock:wait_limit"),
        ("MPI4NUMBA_STRIDED", "fast", "mpi4numba._support.strided:_from_environment"),
    ],
)
def test_a_wrong_setting_in_the_environment_is_a_value_error_naming_it(variable, value, read, monkeypatch):
    """Row 2 of the table: read again as at start-up; the failing read changes no setting."""
    module, _, function = read.partition(":")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=re.escape(variable)) as raised:
        getattr(importlib.import_module(module), function)()
    assert type(raised.value) is ValueError and repr(value) in str(raised.value)


# A communicator of a wrong type, for every routine that takes ``comm``: the error names the
# routine, from Python and from njit code. The routines are found by their signatures; the
# other arguments are valid ones (checked by typing each call with a real communicator),
# so that the communicator is all that is wrong.
def _vector():
    return np.zeros(4 * SIZE)


def _counts():
    return np.ones(SIZE, np.int32)


def _displacements():
    return np.arange(SIZE, dtype=np.int32)


ARGUMENTS: dict[str, Callable[[], Any]] = {
    **dict.fromkeys(("send_data", "recv_data", "sendobj", "recvobj", "data", "senddata", "recvdata", "base"), _vector),
    **dict.fromkeys(("counts", "send_counts", "recv_counts", "recvcounts"), _counts),
    **dict.fromkeys(("displacements", "send_displacements", "recv_displacements"), _displacements),
    **dict.fromkeys(("count", "root", "dest", "source", "rank", "color", "direction", "disp", "group"), lambda: 0),
    "partitions": lambda: 1,
    "filename": lambda: "name.bin",
    "operator": lambda: mpi.Operator.SUM,
    "dims": lambda: (1,),
    "periods": lambda: (False,),
    "coords": lambda: (0,),
    "remain_dims": lambda: (True,),
    "index": lambda: np.array([0], np.int32),
    "edges": lambda: np.array([0], np.int32),
    "sources": lambda: np.array([0], np.int32),
    "destinations": lambda: np.array([0], np.int32),
    "dtype": lambda: np.dtype(np.float64),
}


def _routines_with_comm() -> list[str]:
    return sorted(
        name
        for name in mpi.__all__
        if hasattr(getattr(mpi, name), "_numba_type_") and "comm" in inspect.signature(getattr(mpi, name)).parameters
    )


ROUTINES_WITH_COMM = _routines_with_comm()


def _required_arguments(name: str) -> tuple:
    """Valid values of the routine's parameters before ``comm`` that have no default."""
    parameters = inspect.signature(getattr(mpi, name)).parameters.values()
    return tuple(ARGUMENTS[p.name]() for p in parameters if p.name != "comm" and p.default is inspect.Parameter.empty)


def _njit_call(name: str, count: int):
    """``call(a0, ..., comm)``: the routine called with ``comm`` by keyword, compiled lazily."""
    params = "".join(f"a{i}, " for i in range(count))
    namespace = {"routine": getattr(mpi, name)}
    exec(f"def call({params}comm):\n    return routine({params}comm=comm)\n", namespace)
    return numba.njit(namespace["call"])


def test_every_routine_with_a_comm_is_listed():
    assert len(ROUTINES_WITH_COMM) >= 70 and {"allreduce", "send", "cart_get", "win_create"} <= set(ROUTINES_WITH_COMM)


@pytest.mark.jit_only
@pytest.mark.parametrize("name", ROUTINES_WITH_COMM)
def test_the_other_arguments_of_the_wrong_comm_cases_are_valid(name):
    """The call types with a communicator: only the communicator is wrong in the cases below."""
    from numba.core.registry import cpu_target

    context = cpu_target.typing_context
    context.refresh()
    args = tuple(numba.typeof(value) for value in _required_arguments(name))
    routine_type = context.resolve_value_type(getattr(mpi, name))
    assert context.resolve_function_type(routine_type, args, {"comm": mpi.comm_type}) is not None


@pytest.mark.parametrize("name", ROUTINES_WITH_COMM)
def test_a_wrong_comm_is_named_by_the_routine_from_python(name):
    with pytest.raises(TypingError, match=rf"mpi4numba\.{name}: comm must be a communicator .*got float64"):
        getattr(mpi, name)(*_required_arguments(name), comm=1.5)


@pytest.mark.jit_only
@pytest.mark.parametrize("name", ROUTINES_WITH_COMM)
def test_a_wrong_comm_is_named_by_the_routine_from_njit(name):
    args = _required_arguments(name)
    with pytest.raises(TypingError, match=rf"mpi4numba\.{name}: comm must be a communicator .*got float64"):
        _njit_call(name, len(args))(*args, 1.5)


# What a non-blocking call that the thread check refused returns as its request (see
# mpi4numba._core.threads): an array of size 0 whose data pointer is null. Among other
# requests in a tuple or list it must never be read.
@intrinsic
def refused_request(typingctx):
    def codegen(context, builder, sig, args):
        return context.get_constant_null(REQUEST_ARRAY)

    return REQUEST_ARRAY(), codegen


@numba.njit
def complete_with_refused(routine, first):
    """The five completion routines on ``(request, refused)`` / ``(refused, request)`` / lists."""
    refused = refused_request()
    if routine == 0:
        return mpi.waitall((first, refused)), mpi.waitall([refused, first])
    if routine == 1:
        return mpi.waitany((refused, first))[0], mpi.waitany([first, refused])[0]
    if routine == 2:
        return mpi.testall((first, refused))[0], mpi.testall([refused, first])[0]
    if routine == 3:
        return mpi.testany((refused, first))[0], mpi.testany([first, refused])[0]
    return mpi.startall((first, refused)), mpi.startall([refused, first])


@pytest.mark.jit_only
@pytest.mark.parametrize("routine", ["waitall", "waitany", "testall", "testany", "startall"])
def test_a_refused_request_among_others_is_never_read(routine):
    """Before the fix, the tuple's first request was loaded from the null data pointer (a
    segmentation fault); a list's likewise."""
    index = ["waitall", "waitany", "testall", "testany", "startall"].index(routine)
    for code in complete_with_refused(index, mpi.request_array(1)):
        assert empty_refusal(code), mpi.error_string(code)


@numba.njit
def pending_with_empty(data, into):
    """A send to oneself, waited for with an empty request array beside it: refused, and the
    send is still pending (not completed, not nulled) until it is waited for alone."""
    _, send = mpi.isend(data, mpi.rank(), 11)
    refused = mpi.waitall((send, mpi.request_array(0)))
    still_pending = send[0] != mpi.request_array(1)[0]
    received = mpi.recv(into, mpi.rank(), 11)
    return refused, still_pending, received, mpi.wait(send)


def test_a_refused_completion_leaves_the_requests_alone():
    data, into = np.arange(3.0), np.zeros(3)
    refused, still_pending, received, waited = pending_with_empty(data, into)
    assert mpi.error_class(refused) == mpi.ERR_REQUEST
    assert still_pending and received == 0 and waited == 0
    np.testing.assert_array_equal(into, data)
