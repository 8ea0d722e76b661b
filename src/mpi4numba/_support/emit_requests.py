"""Status codes and requests, in lowered bodies.

A routine that starts an operation returns ``(code, request)``: the request is the
caller's 1-element ``RequestType`` array, or a new one that holds the arrays MPI still
uses (see :mod:`mpi4numba._core.keepalive`), and ``REQUEST_NULL`` if the start failed.
:meth:`Requests.starting` and :meth:`Requests.request_on` prepare that; the body writes
the MPI call inside their ``with`` block::

    with e.request_on(data, request, sends=True) as start:
        start.code = e(capi.MPI_Isend, start.buf.address, start.buf.count, start.buf.datatype,
                       dest, tag, e.comm(comm), start.address)
    return start.result

The block may be emitted inside a condition (a scalar's send runs only if a record is
free to hold it): code after the ``with`` sees the outcome through ``start.result``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from numba.core import types

from .._core import capi
from .._core.emit import Value
from .._core.errorcodes import error_code
from .._core.handles import REQUEST_ARRAY
from .._core.keepalive import new_request, stash
from .deferred import MAX_NDIM, claim_record, deferred_view, hold, settle
from .emit_buffers import Buffer, Buffers

STARTED = types.Tuple((types.int32, REQUEST_ARRAY))  # (code, request) of a non-blocking routine


class Call:
    """An MPI call emitted in a ``with`` block: the body sets ``code`` to the call's status
    inside the block and reads ``result`` after it."""

    def __init__(self) -> None:
        self.code: Value | None = None
        self._result: Value | None = None

    def called(self) -> Value:
        if self.code is None:
            raise TypeError("a body must set .code to its MPI call's status inside the with block")
        return self.code

    @property
    def result(self) -> Value:
        if self._result is None:
            raise TypeError(".result is known after the with block")
        return self._result


class Start(Call):
    """A request being started: ``request`` (its array), ``address`` (of its handle, for
    the C call), ``buf`` (the buffer of :meth:`Requests.request_on`); ``result`` is
    ``(code, request)``. A ``persistent`` one is made by the MPI-4 ``_init`` form of the
    routine (see :meth:`call`) and started later by ``start``."""

    def __init__(
        self, request: Value, address: Value, buf: Buffer | None = None, emitter=None, persistent: bool = False
    ) -> None:
        super().__init__()
        self.request, self.address, self.buf = request, address, buf
        self._emitter, self.persistent = emitter, persistent

    def call(self, nonblocking, *args: Value) -> Value:
        """Emit the C call that makes the request: ``nonblocking`` (``MPI_Ibcast`` ...) with
        ``args`` and the request's address, or, for a persistent request, its ``_init``
        form (``MPI_Bcast_init``) with ``args``, ``MPI_INFO_NULL`` and the address."""
        e = self._emitter
        if not self.persistent:
            return e(nonblocking, *args, self.address)
        return e(capi.persistent_form(nonblocking), *args, e.handle("INFO_NULL"), self.address)


class Requests(Buffers):
    """Status codes of several calls, and requests of calls that start an operation."""

    def if_success(self, code: Value, call: Callable[[], Value]) -> Value:
        """The status of ``call()`` (which emits an MPI call) if ``code`` is success, else
        ``code``: the call is made only after the calls before it succeeded."""
        status = self.variable(self.cast(code, types.int32))
        with self.when(code.eq(0)):
            status.set(call())
        return status.get()

    @contextmanager
    def if_succeeded(self, code: Value) -> Iterator[Call]:
        """The call emitted in the block is made only if ``code`` (of the calls before it) is
        success; after the block, ``result`` is its status, or ``code``."""
        status = self.variable(self.cast(code, types.int32))
        call = Call()
        with self.when(code.eq(0)):
            yield call
            status.set(call.called())
        call._result = status.get()

    def null_on_failure(self, code: Value, request: Value) -> None:
        """Set the first element of a request array to ``REQUEST_NULL`` if ``code`` is an error."""
        with self.when(code.ne(0), likely=False):
            request.setitem(0, self.cast(self.handle("REQUEST_NULL"), request.type.dtype))

    def _finish(self, start: Start, code: Value) -> None:
        self.null_on_failure(code, start.request)
        start._result = self.tuple(code, start.request)

    @contextmanager
    def starting(self, *held: Value, persistent: bool = False) -> Iterator[Start]:
        """A new request for the call emitted in the block (with :meth:`Start.call`), which
        keeps the arrays ``held`` alive for as long as the request array lives (MPI may use
        them until it completes, or for a ``persistent`` request until it is freed)."""
        request = self(new_request, self.tuple(*held))
        start = Start(request, self.data(request), emitter=self, persistent=persistent)
        yield start
        self._finish(start, start.called())

    @contextmanager
    def request_on(self, data: Value, request: Value, sends: bool = False, receives: bool = False) -> Iterator[Start]:
        """The buffer of ``data`` and a request for the call emitted in the block, which
        starts a transfer on it. Without a ``request`` (None), a new request array is made
        that keeps ``data`` alive for as long as it lives. A strided ``data`` that the call
        ``sends`` or ``receives`` once may go through scratch that lives until the request
        completes (see :mod:`mpi4numba._support.deferred`). A scalar lives in the new
        request array, which a pending-transfer record holds until a send completes (every
        record taken: the code is ``TOO_MANY_PENDING``, and MPI is not called)."""
        if isinstance(data.type, (types.Number, types.Boolean)):  # the value lives in the request
            request = self(new_request, self.tuple())
            start = Start(request, self.data(request), self.buffer(data, address=self(stash, request, data, data)))
            if not sends:  # a persistent send: its request array keeps the value
                yield start
                self._finish(start, start.called())
                return
            slot = self.jitted(claim_record)
            code = self.variable(self.const(0, types.int32))
            with self.when(slot.lt(0), likely=False):
                code.set(self(error_code, self.literal("TOO_MANY_PENDING")))
            with self.when(slot.ge(0), likely=True):
                yield start
                code.set(start.called())
                self.jitted(hold, slot, request, code.get(), self.cast(request.getitem(0), types.int64))
            self._finish(start, code.get())
        elif (sends or receives) and self.may_pack(data) and data.type.ndim <= MAX_NDIM:
            if request.type == types.none:
                request = self(new_request, self.tuple(data))
            *fields, slot = self.unpack(self.jitted(deferred_view, data, receives))
            start = Start(request, self.data(request), Buffer(*fields))
            yield start
            code = start.called()
            self.jitted(settle, slot, code, self.cast(request.getitem(0), types.int64))
            self.release(start.buf)  # type: ignore[arg-type]
            self._finish(start, code)
        else:
            buf = self.buffer(data)
            if request.type == types.none:
                request = self(new_request, self.tuple(data))
            start = Start(request, self.data(request), buf)
            yield start
            self.release(buf)
            self._finish(start, start.called())
