"""The routine mechanism: typing, keyword folding, lowered bodies and their references."""

import inspect

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
HALVES = MPI.COMM_WORLD.Split(RANK % 2, RANK)


def live_references():
    stats = rtsys.get_allocation_stats()
    return stats.alloc - stats.free


@numba.njit(cache=True)
def drop_new_requests(outgoing, incoming, steps):
    """isend/irecv requests made and dropped: each keeps its buffer alive until waited on."""
    status = 0
    for step in range(steps):
        _, send = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), step)
        _, recv = mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), step)
        status |= mpi.waitall((send, recv))
    return status


@numba.njit(cache=True)
def return_given_request(outgoing, requests):
    status, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), 7, request=requests[1:2])
    return status, request


@pytest.mark.jit_only
def test_lowered_bodies_release_what_they_make_and_keep_what_they_return():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    outgoing, incoming = np.full(3, RANK, np.int32), np.zeros(3, np.int32)
    assert drop_new_requests(outgoing, incoming, 1) == 0  # compile
    before = live_references()
    assert drop_new_requests(outgoing, incoming, 50) == 0
    assert live_references() == before  # 100 requests made, every one released
    np.testing.assert_array_equal(incoming, np.full(3, LEFT))

    requests = mpi.request_array(3)
    status, request = return_given_request(outgoing, requests)  # a view of the caller's array
    assert status == 0 and request.shape == (1,)
    assert mpi.recv(incoming, LEFT, 7) == 0 and mpi.wait(request) == 0
    assert int(requests[1]) == int(request[0])  # the same memory, still alive
    del request
    requests[:] = 0
    np.testing.assert_array_equal(incoming, np.full(3, LEFT))


def test_a_new_request_keeps_a_temporary_buffer_alive():
    big = 1 << 17  # above MPICH's eager limit: the data is read after isend returns
    _, request = mpi.isend(np.full(big, RANK + 0.5), RIGHT, 11)  # nothing else refers to the array
    incoming = np.zeros(big)
    assert mpi.recv(incoming, LEFT, 11) == 0
    assert mpi.wait(request) == 0
    np.testing.assert_array_equal(incoming, np.full(big, LEFT + 0.5))


@numba.njit(cache=True)
def keyword_forms(data, out):
    a = mpi.sendrecv(data, mpi.rank(), out, recvtag=3, sendtag=3)
    b = mpi.recv(out, tag=mpi.ANY_TAG, source=mpi.PROC_NULL)
    c = mpi.allreduce(data, out, comm=None)
    return a, b, c


def test_keywords_in_any_order_and_gaps_filled_with_defaults():
    out = np.zeros(2)
    assert keyword_forms(np.array([1.0, 2.0]), out) == (0, 0, 0)
    np.testing.assert_array_equal(out, np.array([1.0, 2.0]) * SIZE)
    assert mpi.sendrecv(np.ones(1), RANK, out[:1], recvtag=4, sendtag=4) == 0  # the same from Python


def test_routines_are_python_callables_with_their_signature_and_py_func():
    import inspect

    assert str(inspect.signature(mpi.send)) == "(data, dest, tag=0, comm=None)"
    assert mpi.send.py_func(np.zeros(1), mpi.PROC_NULL) == 0
    assert "MPI_Send" in mpi.send.__doc__


@numba.njit(cache=True)
def five_arguments(data):
    return mpi.send(data, 0, 0, None, 1)


@pytest.mark.jit_only
def test_bad_calls_are_typing_errors_naming_the_routine():
    with pytest.raises(TypingError, match="mpi4numba.send: too many positional arguments"):
        five_arguments(np.zeros(1))
    with pytest.raises(TypeError):  # from Python, as for any Python function
        mpi.send(np.zeros(1), 0, 0, None, "unexpected")
    with pytest.raises(TypingError, match="mpi4numba.recv: data is read-only"):
        ro = np.zeros(2)
        ro.flags.writeable = False
        mpi.recv(ro, mpi.PROC_NULL)


@numba.njit(cache=True)
def too_short(out):
    return mpi.allreduce(np.ones(4), out)


def test_run_time_checks_raise_from_compiled_code():
    with pytest.raises(ValueError, match="fewer elements than sendobj"):
        too_short(np.zeros(2))
    assert too_short(np.zeros(4)) == 0


# --- calls from Python: after a first call through Numba's dispatcher, later calls with
# arguments of the same types reach the compiled wrapper directly (a key fixes the types)


def readonly(array):
    array.flags.writeable = False
    return array


def unaligned(count):
    return np.frombuffer(bytearray(8 * count + 1), np.float64, count, offset=1)


def zoo():
    """Arguments of many Numba types, in pairs that share a dtype object, layout and flags."""
    base = np.arange(24.0).reshape(4, 6)
    return [
        np.zeros(3), np.ones(5), base[0], base[:, 0], base[::2, ::3], base, base.T, np.asfortranarray(base),
        base[:, :2], np.zeros((3, 1)), np.zeros((1, 3)), np.array(1.0), np.array(2.0), readonly(np.zeros(3)),
        readonly(base.T.copy()), unaligned(2), unaligned(3), np.zeros(3, np.int32), np.zeros(4, np.int32),
        np.zeros(3, "S1"), np.zeros(3, "S2"), np.zeros(2, mpi.pair_dtype(np.float64)), mpi.request_array(1),
        mpi.request_array(2), 1, -(2**40), 2**63 - 1, True, False, 1.5, 2.5, 1j, np.int32(1), np.int32(2),
        np.int64(3), np.float32(1), np.bool_(True), np.complex64(1), None, MPI.COMM_WORLD, MPI.COMM_SELF,
        HALVES, MPI.COMM_NULL, mpi.Operator.SUM, mpi.Operator.MAX, MPI.IN_PLACE, MPI.Status(), (1, 2), (3, 4),
        (1, 2.0), (np.zeros(1), np.zeros(2)), (np.zeros(1), np.zeros(1, np.int32)), (), [np.zeros(1)],
        [np.ones(2), np.ones(3)], [1, 2],
    ]  # fmt: skip


def test_a_key_fixes_the_numba_type_of_every_value_it_is_given_for():
    from numba.core.typing.typeof import Purpose, typeof

    from mpi4numba._support.api import _key_of

    values = zoo()
    keys = [_key_of(value) for value in values]
    by_key: dict = {}
    for value, key in zip(values, keys):
        if key is not None:
            by_key.setdefault(key, set()).add(typeof(value, Purpose.argument))
    assert all(len(kinds) == 1 for kinds in by_key.values()), by_key
    assert None not in keys  # every one of these has a key; beyond int64's range none
    assert _key_of(2**63) is None and _key_of([]) is None and _key_of(object()) is None
    # dtypes that compare equal but are not typed alike: the key names the dtype object
    assert np.dtype("c") == np.dtype("S1") and _key_of(np.zeros(2, "c")) != _key_of(np.zeros(2, "S1"))
    swapped = np.zeros(2, ">f8" if np.little_endian else "<f8")
    assert _key_of(swapped) != _key_of(np.zeros(2))


def learnt_types(routine, *args):
    """The argument types of the wrapper a call with ``args`` (the rest omitted) reaches."""
    from mpi4numba._support.api import _key_of

    key = (*map(_key_of, args), *[0] * (len(inspect.signature(routine).parameters) - len(args)))
    return routine._learnt_.signatures.get(key)


def expected_types(routine, *args):
    from numba.core.typing.typeof import Purpose, typeof

    defaults = [p.default for p in inspect.signature(routine).parameters.values()][len(args) :]
    return tuple(typeof(value, Purpose.argument) for value in args) + tuple(map(numba.types.Omitted, defaults))


LAYOUTS = {  # name: (send data times k, receive buffer)
    "C": (lambda k: np.arange(6.0) * k, lambda: np.zeros(6)),
    "strided": (lambda k: (np.arange(12.0) * k)[::2], lambda: np.zeros(12)[1::2]),
    "F": (lambda k: np.asfortranarray(np.arange(6.0).reshape(2, 3) * k), lambda: np.zeros((3, 2)).T),
    "C 2-d": (lambda k: np.arange(6.0).reshape(2, 3) * k, lambda: np.zeros((2, 3))),
    "A 2-d": (lambda k: (np.arange(12.0).reshape(2, 6) * k)[:, ::2], lambda: np.zeros((2, 6))[:, 1::2]),
    "0-d": (lambda k: np.array(5.0 * k), lambda: np.array(0.0)),
    "read-only": (lambda k: readonly(np.arange(6.0) * k), lambda: np.zeros(6)[::-1]),
}


def test_each_layout_and_flag_reaches_the_overload_of_its_type():
    """Alternating layouts, each call twice (the dispatcher's, then the direct one): the
    sums of data from every rank are right and each key's wrapper has exactly its types."""
    for _ in range(2):
        for name, (make, buffer) in LAYOUTS.items():
            send, recv = make(RANK + 1), buffer()
            for _ in range(2):
                recv[...] = -1.0
                assert mpi.allreduce(send, recv) == 0, name
                np.testing.assert_array_equal(recv, make(SIZE * (SIZE + 1) / 2), err_msg=name)
                assert learnt_types(mpi.allreduce, send, recv) == expected_types(mpi.allreduce, send, recv), name
            if recv.base is not None:  # a view: what lies between its elements is untouched
                probe = buffer()
                probe[...] = 1
                assert (recv.base[probe.base == 0] == 0).all(), name


def test_strided_views_from_python_leave_the_gaps_alone():
    for _ in range(3):
        outgoing = np.arange(9.0) + 100 * RANK
        incoming = np.full((3, 10), -1.0)
        assert mpi.sendrecv(outgoing[::3], RIGHT, incoming[1, 1::3], LEFT) == 0
        np.testing.assert_array_equal(incoming[1, 1::3], np.arange(9.0)[::3] + 100 * LEFT)
        assert (np.delete(incoming.ravel(), 11 + 3 * np.arange(3)) == -1).all()


def test_keywords_defaults_and_communicators_from_python():
    """Keywords in any order, defaults omitted or given, mpi4py communicators (predefined
    and split ones) and operators: each form twice, data from the neighbours."""
    half_rank, half_size = HALVES.Get_rank(), HALVES.Get_size()
    for _ in range(2):
        out = np.zeros(2)
        assert mpi.sendrecv(np.full(2, RANK + 0.5), RIGHT, out, LEFT, 5, 5) == 0
        np.testing.assert_array_equal(out, LEFT + 0.5)
        out[:] = 0
        assert mpi.sendrecv(recvtag=6, recvdata=out, senddata=np.full(2, RANK + 1.5), dest=RIGHT, sendtag=6) == 0
        np.testing.assert_array_equal(out, LEFT + 1.5)
        out[:] = 0
        assert mpi.sendrecv(np.full(2, RANK + 2.5), RIGHT, out, comm=MPI.COMM_WORLD, source=LEFT) == 0
        np.testing.assert_array_equal(out, LEFT + 2.5)
        total = np.zeros(1)
        assert mpi.allreduce(np.ones(1), total, comm=HALVES) == 0 and total[0] == half_size
        assert mpi.allreduce(np.full(1, RANK, np.float64), total, mpi.Operator.MAX, MPI.COMM_WORLD) == 0
        assert total[0] == SIZE - 1
        assert mpi.allreduce(operator=mpi.Operator.MIN, recvobj=total, sendobj=np.full(1, RANK, np.float64)) == 0
        assert total[0] == 0
        assert mpi.allreduce(np.full(1, RANK, np.float64), total, mpi.Operator.SUM, None) == 0
        assert total[0] == SIZE * (SIZE - 1) / 2
        assert mpi.rank() == RANK and mpi.rank(HALVES) == half_rank and mpi.rank(comm=MPI.COMM_SELF) == 0
        assert mpi.size(MPI.COMM_WORLD) == SIZE and mpi.barrier(comm=HALVES) == 0
    assert learnt_types(mpi.rank, HALVES) == expected_types(mpi.rank, HALVES)


def test_scalar_arguments_of_other_integer_types():
    """numpy integers as tag and rank: each reaches an overload of exactly its types, or
    stays with the dispatcher (which may run a compatible one); the data arrives."""
    for tag in (7, np.int32(7), np.int64(7), np.uint8(7), np.int16(7), 7):
        for _ in range(2):
            out = np.zeros(3, np.int64)
            assert mpi.sendrecv(np.full(3, RANK, np.int64), type(tag)(RIGHT), out, LEFT, tag, tag) == 0
            np.testing.assert_array_equal(out, LEFT)
    learnt = mpi.sendrecv._learnt_
    for key, types_ in learnt.signatures.items():
        assert len(types_) == len(key) and key not in learnt.refused


def test_errors_from_python_are_those_of_the_dispatcher():
    ro = readonly(np.zeros(2))
    for _ in range(2):  # a typing error is never learnt
        with pytest.raises(TypingError, match="mpi4numba.recv: data is read-only"):
            mpi.recv(ro, mpi.PROC_NULL)
    assert mpi.allreduce(np.ones(4), np.zeros(4)) == 0  # learnt: same types as the bad call
    for _ in range(2):  # raised in compiled code, through the direct call as well
        with pytest.raises(ValueError, match="fewer elements than sendobj"):
            mpi.allreduce(np.ones(4), np.zeros(2))
    with pytest.raises(TypeError):
        mpi.send(np.zeros(1), 0, 0, None, "unexpected")
    with pytest.raises(TypeError):
        mpi.send(np.zeros(1), 0, tags=1)
    for _ in range(2):  # beyond 64 bits: no key, the dispatcher's own error (which depends on
        # whether the entry has compiled forms yet: a typing error, or the conversion's)
        with pytest.raises((TypingError, OverflowError), match="Int value is too large|int too big to convert"):
            mpi.send(np.zeros(1), mpi.PROC_NULL, 2**64)
    assert mpi.error_class(mpi.send(np.zeros(1), SIZE + 1)) == mpi.ERR_RANK
    assert mpi.error_class(mpi.send(np.zeros(1), SIZE + 1)) == mpi.ERR_RANK


def test_char_arrays_and_empty_lists_from_python():
    for _ in range(3):
        incoming = np.zeros(3, "c")
        outgoing = np.array([b"a", b"b", bytes([97 + RANK % 26])], "c")
        assert mpi.sendrecv(outgoing, RIGHT, incoming, LEFT) == 0
        assert incoming.tobytes() == b"ab" + bytes([97 + LEFT % 26])
        assert mpi.waitall([]) == 0 and mpi.waitall(()) == 0


def test_calls_from_several_python_threads():
    """Threads calling at once, on first calls (learning) and later ones: at MULTIPLE each
    gets its own data back; below SERIALIZED a call from another thread is refused."""
    import threading

    level = mpi.query_thread()
    results: dict = {}

    def work(lane: int) -> None:
        codes, seen = [], []
        for round_ in range(20):
            data = np.full(3, lane * 100 + round_, np.int16)  # a dtype no other test sends
            out = np.zeros(3, np.int16)
            codes.append(mpi.allreduce(data, out, comm=MPI.COMM_SELF))
            seen.append(out.copy())
        results[lane] = codes, seen

    if level == mpi.THREAD_SERIALIZED:
        pytest.skip("at serialized, threads must not call MPI at once")
    threads = [threading.Thread(target=work, args=(lane,)) for lane in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 2, 3]
    for lane, (codes, seen) in results.items():
        if level == mpi.THREAD_MULTIPLE:
            assert codes == [0] * 20
            for round_, out in enumerate(seen):
                np.testing.assert_array_equal(out, lane * 100 + round_)
        else:
            assert all(mpi.error_class(code) == mpi.ERR_OTHER for code in codes)
    out = np.zeros(3, np.int16)
    assert mpi.allreduce(np.ones(3, np.int16), out) == 0 and (out == SIZE).all()  # the main thread's


def test_arrays_of_new_dtype_objects_each_call_leave_room_for_others():
    """``S<n>`` arrays made for each call have a new dtype object each (the key names it):
    a routine learns at most so many of those, and still learns NumPy's numeric types."""
    from mpi4numba._support.api import _MAX_KEYS

    for step in range(_MAX_KEYS + 6):
        data = np.array([b"abc", b"de"], "S3") if RANK == 0 else np.zeros(2, "S3")
        assert mpi.bcast(data, 0, MPI.COMM_WORLD) == 0 and data.tolist() == [b"abc", b"de"], step
    assert mpi.bcast._learnt_.others <= _MAX_KEYS
    numbers = np.arange(3.0) if RANK == 0 else np.zeros(3)
    for _ in range(2):
        assert mpi.bcast(numbers, 0, MPI.COMM_WORLD) == 0
        np.testing.assert_array_equal(numbers, np.arange(3.0))
    assert learnt_types(mpi.bcast, numbers, 0, MPI.COMM_WORLD) == expected_types(mpi.bcast, numbers, 0, MPI.COMM_WORLD)
