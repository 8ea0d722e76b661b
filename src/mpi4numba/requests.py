"""Requests of non-blocking operations, their completion (wait/test families), persistent
requests (start, startall), cancel and request_free.

A request is a NumPy array of dtype ``RequestType`` (the ABI's handle type), as in
numba-mpi: ``isend``/``irecv`` return one of shape ``(1,)``. The ``requests`` argument of
``waitall``/``waitany``/``testall``/``testany`` may be such an array (any length), a tuple
of them, or (from Python) a list. Completed requests become ``REQUEST_NULL``; waiting on
null requests, or on zeros (as in ``np.zeros(n, RequestType)``), is safe: zeros are taken
as ``REQUEST_NULL``. Status scratch is never allocated (``MPI_STATUS(ES)_IGNORE``), and
the handles of a tuple of requests are gathered on the stack. An empty array in a tuple
or list (what a non-blocking call refused by the thread check returns) holds no request
to read: the routine then does nothing and returns a code of class ``ERR_REQUEST`` whose
``error_string`` says so.

Persistent requests (``send_init``/``recv_init`` of :mod:`mpi4numba.p2p`) are started
with :func:`start`/:func:`startall` and completed by the same wait/test routines, which
leave them inactive but not null (MPI semantics), ready for the next start; release them
with :func:`request_free`.
"""

from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from ._core import capi
from ._core.ccall import handle_slot, stack_handles
from ._core.errorcodes import error_code
from ._core.handles import HANDLE_DTYPE, REQUEST_ARRAY, handle_from_native, handle_to_native, predefined_native
from ._core.runtime import ABI
from ._support.api import api, lowers
from ._support.deferred import (
    completed_among,
    completed_one,
    held_value,
    pending_transfer,
    release_value,
    snapshot,
    watching,
)
from ._support.strided import NO_MEMORY
from ._support.validate import request_collection, request_handles

RequestType = HANDLE_DTYPE


__all__ = [
    "RequestType",
    "request_array",
    "wait",
    "waitall",
    "waitany",
    "test",
    "testall",
    "testany",
    "start",
    "startall",
    "cancel",
    "request_free",
]


@intrinsic
def _gather(typingctx, requests, scratch):
    """Copy each tuple element's first request into native handle slots at ``scratch``
    (zeros become ``REQUEST_NULL``)."""

    def codegen(context, builder, sig, args):
        tuple_type = sig.args[0]
        null = handle_from_native(builder, predefined_native(builder, "REQUEST_NULL"))
        for index, (item_type, item) in enumerate(zip(tuple_type, cgutils.unpack_tuple(builder, args[0]))):
            data = context.make_array(item_type)(context, builder, item).data
            value = context.cast(builder, builder.load(data), item_type.dtype, types.intp)
            is_zero = builder.icmp_signed("==", value, ir.Constant(value.type, 0))
            handle = builder.select(is_zero, null, value)
            builder.store(
                handle_to_native(builder, handle), handle_slot(builder, args[1], ir.Constant(ir.IntType(64), index))
            )
        return context.get_dummy_value()

    return types.none(requests, scratch), codegen


@intrinsic
def _scatter(typingctx, requests, scratch):
    """Copy native handle slots at ``scratch`` back into each tuple element's first request."""

    def codegen(context, builder, sig, args):
        tuple_type = sig.args[0]
        for index, (item_type, item) in enumerate(zip(tuple_type, cgutils.unpack_tuple(builder, args[0]))):
            data = context.make_array(item_type)(context, builder, item).data
            native = builder.load(handle_slot(builder, args[1], ir.Constant(ir.IntType(64), index)))
            value = context.cast(builder, handle_from_native(builder, native), types.intp, item_type.dtype)
            builder.store(value, data)
        return context.get_dummy_value()

    return types.none(requests, scratch), codegen


def _zero_to_null(e, requests, index) -> None:
    """Zeros (``np.zeros(n, RequestType)``) are taken as ``REQUEST_NULL``."""
    with e.when(requests.getitem(index).eq(0)):
        requests.setitem(index, e.cast(e.handle("REQUEST_NULL"), requests.type.dtype))


_CODE_INDEX = types.UniTuple(types.int32, 2)  # waitany
_CODE_FLAG = types.Tuple((types.int32, types.boolean))  # test, testall
_CODE_FLAG_INDEX = types.Tuple((types.int32, types.boolean, types.int32))  # testany


def _flag_first(e, code, *outs):
    """``(code, flag != 0, index)`` from MPI's ``(code, [index,] flag)``."""
    return e.tuple(code, outs[-1].ne(0), *outs[:-1])


def _refused(e, restype):
    """The result of a completion routine that did nothing because a request array of a
    tuple or list was empty: the code of that refusal, no flag, no index."""
    code = e(error_code, e.literal("EMPTY_REQUEST"))
    if isinstance(restype, types.Integer):
        return code
    rest = {types.int32: e.const(ABI.UNDEFINED, types.int32), types.boolean: e.const(False)}  # index, flag
    return e.tuple(code, *(rest[ty] for ty in restype.types[1:]))


def _null(e, request_type):
    return e.cast(e.handle("REQUEST_NULL"), request_type.dtype)


def _on_array(e, requests, call, completes: bool):
    """``call(count, address)`` on the handles of a request array, in place."""
    with e.loop(e.size(requests)) as i:
        _zero_to_null(e, requests, i)
    if not completes:
        return call(e.size(requests), e.data(requests))
    before = e.jitted(watching)
    block, address = e.unpack(e.jitted(snapshot, requests, before))
    e.check(block.ne(NO_MEMORY), MemoryError, "mpi4numba: no memory to watch the requests of pending strided receives")
    result = call(e.size(requests), e.data(requests))
    e.jitted(completed_among, requests, before, block, address, _null(e, requests.type))
    return result


def _on_tuple(e, requests, call, completes: bool):
    """``call(count, address)`` on the first handles of a tuple of request arrays, gathered
    in stack scratch and copied back."""
    items = e.unpack(requests)
    before = e.jitted(watching) if completes else None
    saved = [item.getitem(0) for item in items] if completes else []
    scratch = e(stack_handles, e.literal(len(items)))
    e(_gather, requests, scratch)
    result = call(len(items), scratch)
    e(_scatter, requests, scratch)
    for item, was in zip(items, saved):
        e.jitted(completed_one, was, item.getitem(0), _null(e, item.type), before)
    return result


def _on_list(e, requests, call, completes: bool):
    """``call(count, address)`` on the first handles of a list of request arrays, copied
    into a new array and back."""
    count = e(len, requests)
    flat = e.zeros(count, str(REQUEST_ARRAY.dtype))
    with e.loop(count) as i:
        flat.setitem(i, requests.getitem(i).getitem(0))
    result = _on_array(e, flat, call, completes)
    with e.loop(count) as i:
        requests.getitem(i).setitem(0, flat.getitem(i))
    return result


def _on_requests(e, requests, restype, call, completes: bool = True):
    """The result of ``call(count, address)``, an MPI call over the handles of ``requests``:
    an array of requests (its handles in place), a tuple of them (handles gathered in
    stack scratch) or a list (handles copied into a new array and back). An empty array
    of a tuple or list holds no request: the arrays are read only once each is known to
    hold one (else the refusal of :func:`_refused`). A routine that ``completes`` requests
    copies the elements of the strided receives among them into their arrays (see
    :mod:`mpi4numba._support.deferred`)."""
    if isinstance(requests.type, types.Array):
        return _on_array(e, requests, call, completes)
    if isinstance(requests.type, types.BaseTuple):
        present = e.const(True)
        for item in e.unpack(requests):
            present = present.and_(e.size(item).ne(0))
        on_all = _on_tuple
    else:
        absent = e.variable(False)
        with e.loop(e(len, requests)) as i, e.when(e.size(requests.getitem(i)).eq(0), likely=False):
            absent.set(True)
        present = e.not_(absent.get())
        on_all = _on_list
    result = e.variable(_refused(e, restype))
    with e.when(present, likely=True):
        result.set(on_all(e, requests, call, completes))
    return result.get()


@api
def request_array(count=1):
    """A new array of ``count`` requests, all ``REQUEST_NULL``.

    >>> import mpi4numba
    >>> mpi4numba.waitall(mpi4numba.request_array(3))
    0
    """

    if not isinstance(count, types.Integer):
        raise TypingError(f"mpi4numba: count must be an integer, got {count}")
    return REQUEST_ARRAY


@lowers(request_array)
def _request_array(e, count):
    e.check(count.ge(0), ValueError, "mpi4numba: count must not be negative")
    requests = e.zeros(count, str(REQUEST_ARRAY.dtype))
    null = e.cast(e.handle("REQUEST_NULL"), REQUEST_ARRAY.dtype)
    with e.loop(count) as i:
        requests.setitem(i, null)
    return requests


def _one_request(request, restype: types.Type) -> types.Type:
    """The argument of the routines on one request, a RequestType array (they act on its
    first element), and their result type."""
    request_handles(request, "request")
    return restype


def _requests(requests, restype: types.Type) -> types.Type:
    """The argument of the routines on several requests, and their result type."""
    request_collection(requests)
    return restype


@api
def wait(request):
    """Wait for ``request`` (a RequestType array; its first element) to complete; returns the status.

    >>> import numpy as np, mpi4numba
    >>> outgoing = np.zeros(1)  # alive until the send completes
    >>> status, request = mpi4numba.isend(outgoing, mpi4numba.rank(), tag=5)
    >>> mpi4numba.recv(np.empty(1), mpi4numba.rank(), 5), mpi4numba.wait(request)
    (0, 0)
    """
    return _one_request(request, types.int32)


@lowers(wait)
def _wait(e, request):
    code = e.variable(e.const(0, types.int32))
    with _first_request(e, request), _completing(e, request):
        code.set(e(capi.MPI_Wait, e.data(request)))
    return code.get()


@contextmanager
def _first_request(e, request, skip_null: bool = False):
    """Code emitted in the block runs on the first request of an array, if it has one (a
    zero taken as ``REQUEST_NULL``); ``skip_null``: not on a null request, left alone."""
    with e.when(e.size(request).ne(0)):
        _zero_to_null(e, request, 0)
        if not skip_null:
            yield
            return
        with e.when(e.cast(request.getitem(0), types.intp).ne(e.handle("REQUEST_NULL"))):
            yield


@contextmanager
def _completing(e, request):
    """Code emitted in the block may complete the first request of ``request``: if it does,
    the elements of a strided receive go into its array after it."""
    before = e.jitted(watching)
    was = request.getitem(0)
    yield
    e.jitted(completed_one, was, request.getitem(0), _null(e, request.type), before)


@api
def waitall(requests):
    """Wait for all ``requests`` to complete; returns the status.

    >>> import numpy as np, mpi4numba
    >>> me = mpi4numba.rank()
    >>> outgoing = np.arange(3.0)
    >>> _, send = mpi4numba.isend(outgoing, me)
    >>> buffer = np.empty(3)
    >>> _, recv = mpi4numba.irecv(buffer, me)
    >>> mpi4numba.waitall((send, recv)), buffer
    (0, array([0., 1., 2.]))
    """
    return _requests(requests, types.int32)


@lowers(waitall)
def _waitall(e, requests):
    return _on_requests(e, requests, types.int32, lambda n, handles: e(capi.MPI_Waitall, n, handles))


@api
def waitany(requests):
    """``(status, index)``: wait until one of ``requests`` completes; ``index`` is
    ``UNDEFINED`` when all are null.

    >>> import mpi4numba
    >>> mpi4numba.waitany(mpi4numba.request_array(2)) == (0, mpi4numba.UNDEFINED)
    True
    """
    return _requests(requests, _CODE_INDEX)


@lowers(waitany)
def _waitany(e, requests):
    return _on_requests(e, requests, _CODE_INDEX, lambda n, handles: e(capi.MPI_Waitany, n, handles))


@api
def test(request):
    """``(status, flag)``: whether ``request`` (its first element) has completed.

    >>> import mpi4numba
    >>> mpi4numba.test(mpi4numba.request_array(1))
    (0, True)
    """
    return _one_request(request, _CODE_FLAG)


@lowers(test)
def _test(e, request):
    code, flag = e.variable(e.const(0, types.int32)), e.variable(True)
    with _first_request(e, request), _completing(e, request):
        status, done = e.unpack(e(capi.MPI_Test, e.data(request)))
        code.set(status)
        flag.set(done.ne(0))
    return e.tuple(code.get(), flag.get())


@api
def testall(requests):
    """``(status, flag)``: whether all ``requests`` have completed.

    >>> import mpi4numba
    >>> mpi4numba.testall(mpi4numba.request_array(2))
    (0, True)
    """
    return _requests(requests, _CODE_FLAG)


@lowers(testall)
def _testall(e, requests):
    def call(n, handles):
        return _flag_first(e, *e.unpack(e(capi.MPI_Testall, n, handles)))

    return _on_requests(e, requests, _CODE_FLAG, call)


@api
def testany(requests):
    """``(status, flag, index)``: whether one of ``requests`` has completed, and which.

    >>> import mpi4numba
    >>> mpi4numba.testany(mpi4numba.request_array(2)) == (0, True, mpi4numba.UNDEFINED)
    True
    """
    return _requests(requests, _CODE_FLAG_INDEX)


@lowers(testany)
def _testany(e, requests):
    def call(n, handles):
        return _flag_first(e, *e.unpack(e(capi.MPI_Testany, n, handles)))

    return _on_requests(e, requests, _CODE_FLAG_INDEX, call)


@api
def start(request):
    """Start the persistent ``request`` (its first element; ``MPI_Start``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_init, send_init
    >>> from mpi4numba.requests import request_free, start
    >>> me, data, outgoing = mpi4numba.rank(), np.empty(1), np.array([7.0])
    >>> _, recv = recv_init(data, me)
    >>> _, send = send_init(outgoing, me)
    >>> start(recv), start(send), mpi4numba.waitall((send, recv)), data
    (0, 0, 0, array([7.]))
    >>> request_free(send), request_free(recv)
    (0, 0)
    """
    return _one_request(request, types.int32)


@lowers(start)
def _start(e, request):
    code = e.variable(e.const(0, types.int32))
    with _first_request(e, request):  # none: nothing to start, status 0
        code.set(e(capi.MPI_Start, e.data(request)))
    return code.get()


@api
def startall(requests):
    """Start all the persistent ``requests`` (an array, a tuple of them or a list;
    ``MPI_Startall``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_init, send_init
    >>> from mpi4numba.requests import request_free, startall
    >>> me, data, outgoing = mpi4numba.rank(), np.empty(2), np.arange(2.0)
    >>> requests = mpi4numba.request_array(2)
    >>> _ = recv_init(data, me, request=requests[1:])
    >>> _ = send_init(outgoing, me, request=requests[:1])
    >>> startall(requests), mpi4numba.waitall(requests), data
    (0, 0, array([0., 1.]))
    >>> request_free(requests[:1]), request_free(requests[1:])
    (0, 0)
    """
    return _requests(requests, types.int32)


@lowers(startall)
def _startall(e, requests):
    return _on_requests(e, requests, types.int32, lambda n, handles: e(capi.MPI_Startall, n, handles), False)


@api
def cancel(request):
    """Ask MPI to cancel the pending ``request`` (its first element; ``MPI_Cancel``); returns
    the status. Complete it afterwards with ``wait``/``test``; a null request is left alone.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.requests import cancel
    >>> _, request = mpi4numba.irecv(np.empty(1), mpi4numba.rank(), tag=99)
    >>> cancel(request), mpi4numba.wait(request)
    (0, 0)
    """
    return _one_request(request, types.int32)


@lowers(cancel)
def _cancel(e, request):
    code = e.variable(e.const(0, types.int32))
    with _first_request(e, request, skip_null=True):  # a null request is left alone
        code.set(e(capi.MPI_Cancel, e.data(request)))
    return code.get()


@api
def request_free(request):
    """Release ``request`` (its first element; ``MPI_Request_free``) and set it to
    ``REQUEST_NULL``; returns the status. An active request still completes; a null one
    is left alone. Persistent requests are released this way.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import send_init
    >>> from mpi4numba.requests import request_free
    >>> _, request = send_init(np.zeros(1), mpi4numba.PROC_NULL)
    >>> request_free(request), mpi4numba.test(request)
    (0, (0, True))
    """
    return _one_request(request, types.int32)


@lowers(request_free)
def _request_free(e, request):
    # refused for a pending transfer through scratch (see mpi4numba._support.deferred)
    code = e.variable(e.const(0, types.int32))
    with _first_request(e, request, skip_null=True):
        handle = e.cast(request.getitem(0), types.int64)
        refused = e.jitted(pending_transfer, handle)
        with e.when(refused, likely=False):
            code.set(e(error_code, e.literal("FREE_PENDING_TRANSFER")))
        with e.when(e.not_(refused), likely=True):
            # a number sent by isend is held by a record until the send completes; once the
            # request is freed only MPI knows when that is, and a record whose send has not
            # completed yet goes when MPI reuses the handle (see mpi4numba._support.deferred)
            with e.when(e.jitted(held_value, handle), likely=False):
                done = e(capi.MPI_Request_get_status, request.getitem(0)).getitem(1)
                with e.when(done.ne(0)):
                    e.jitted(release_value, handle)
            code.set(e(capi.MPI_Request_free, e.data(request)))
    return code.get()
