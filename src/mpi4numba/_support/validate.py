"""Typing-time argument checks shared by the routines: one place, one wording.

A check raises ``TypingError("mpi4numba: <what is wrong>")``; :func:`~mpi4numba._support.api.api`
puts the name of the routine being typed in its place (``mpi4numba.send: ...``), so no
check is told which routine it serves. ``what`` names the argument as the user wrote it.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError

from .._core.commtype import CommType
from .._core.handles import REQUEST_ARRAY
from .._core.inplace import is_in_place
from .dtypes import mpi_datatype, pair_problem, pair_type
from .operators import Operator, known_operator, refusal, refused_operators

NOT_GIVEN = (types.NoneType, types.Omitted)  # an optional argument left out (or None)


def integer(value: types.Type, what: str) -> None:
    if isinstance(value, types.Omitted):
        value = types.typeof(value.value)
    if not isinstance(value, (types.Integer, types.IntEnumMember)):
        raise TypingError(f"mpi4numba: {what} must be an integer, got {value}")


def array(value: types.Type, what: str, writable: bool = False) -> types.Array:
    """An array of a dtype MPI can carry (and, if ``writable``, one data can be received into)."""
    if not isinstance(value, types.Array):
        raise TypingError(f"mpi4numba: {what} must be a NumPy array, got {value}")
    mpi_datatype(value.dtype)
    if writable and not value.mutable:
        raise TypingError(f"mpi4numba: {what} is read-only and cannot receive data")
    return value


def integer_vector(value: types.Type, what: str) -> None:
    if not isinstance(value, types.Array) or not isinstance(value.dtype, types.Integer) or value.ndim != 1:
        raise TypingError(f"mpi4numba: {what} must be a 1-D integer array, got {value}")


def same_dtype(a: types.Array, b: types.Array) -> None:
    if a.dtype != b.dtype:
        raise TypingError(f"mpi4numba: send and receive dtypes differ ({a.dtype} vs {b.dtype})")


def is_scalar(value: types.Type) -> bool:
    return isinstance(value, (types.Number, types.Boolean))


def send_data(value: types.Type, what: str, request: types.Type | None = None) -> types.Type:
    """What is only sent: an array, or (as numba-mpi accepts) a scalar, sent as one element.
    A scalar sent by a non-blocking routine lives in the request that routine makes."""
    if not is_scalar(value):
        return array(value, what)
    mpi_datatype(value)
    if request is not None and not isinstance(request, NOT_GIVEN):
        raise TypingError(
            f"mpi4numba: {what} is a scalar ({value}): it needs the request the routine makes "
            "(which keeps the value); send an array to use your own request"
        )
    return value


def send_and_receive(
    send_data: types.Type, recv_data: types.Type, send_in_place_ok: bool, recv_in_place_ok: bool
) -> str:
    """The buffers of a collective, either of them ``IN_PLACE`` where the routine allows it;
    returns which one is (``"send"``, ``"recv"`` or ``""``)."""
    if is_in_place(send_data) and send_in_place_ok:
        array(recv_data, "recv_data", writable=True)
        return "send"
    if is_in_place(recv_data) and recv_in_place_ok:
        array(send_data, "send_data", writable=True)
        return "recv"
    array(send_data, "send_data")
    array(recv_data, "recv_data", writable=True)
    same_dtype(send_data, recv_data)
    return ""


def counts_and_displacements(counts: types.Type, displacements: types.Type) -> None:
    """The per-process counts of a v-collective, and its displacements (None: packed)."""
    integer_vector(counts, "counts")
    if not isinstance(displacements, NOT_GIVEN):
        integer_vector(displacements, "displacements")


def c_ordered(value: types.Type, what: str) -> None:
    """A buffer MPI works on after the call returns: a Fortran-ordered array (2-D or more)
    is never C-contiguous (other layouts are checked at run time)."""
    if isinstance(value, types.Array) and value.ndim > 1 and value.layout == "F":
        raise TypingError(f"mpi4numba: {what} must be C-contiguous")


def int_sequence(value: types.Type, what: str) -> None:
    """A 1-D integer/bool array, or a tuple or list of integers."""
    integers = (types.Integer, types.Boolean)
    if isinstance(value, types.Array):
        fits = value.ndim == 1 and isinstance(value.dtype, integers)
    elif isinstance(value, (types.UniTuple, types.List)):
        fits = isinstance(value.dtype, integers)
    else:
        fits = isinstance(value, types.Tuple) and not value.types  # ()
    if fits:
        return
    raise TypingError(
        f"mpi4numba: {what} must be a 1-D integer array, or a tuple or list of integers of one type, got {value}"
    )


def communicator(comm: types.Type, what: str = "comm") -> None:
    if not isinstance(comm, (CommType, types.Integer, *NOT_GIVEN)):
        raise TypingError(f"mpi4numba: {what} must be a communicator (mpi4py MPI.Comm or mpi4numba), got {comm}")


def topology_communicator(comm: types.Type, handle_ok: bool = True) -> None:
    """A communicator given explicitly (COMM_WORLD, the default, has no topology); an
    integer handle too where ``handle_ok``."""
    if not isinstance(comm, (CommType, types.Integer) if handle_ok else CommType):
        raise TypingError(f"mpi4numba: comm must be a communicator with a topology, got {comm}")


def group_handle(value: types.Type, what: str = "group") -> None:
    if not isinstance(value, types.Integer):
        raise TypingError(f"mpi4numba: {what} must be a group handle (an integer), got {value}")


def request_handles(value: types.Type, what: str = "requests") -> None:
    """A 1-D, C-contiguous array of ``RequestType``."""
    if not isinstance(value, types.Array) or value.dtype != REQUEST_ARRAY.dtype or value.ndim != 1:
        raise TypingError(f"mpi4numba: {what} must be a 1-D array of RequestType ({REQUEST_ARRAY.dtype}), got {value}")
    if value.layout != "C":
        raise TypingError(f"mpi4numba: {what} must be C-contiguous, got {value}")


def request_collection(requests: types.Type) -> str:
    """The ``requests`` of a completion routine: ``"array"``, ``"tuple"`` (of arrays) or ``"list"``."""
    if isinstance(requests, types.Array):
        request_handles(requests)
        return "array"
    if isinstance(requests, types.BaseTuple):  # () too: no requests, as MPI allows
        for item in requests:
            request_handles(item, "each request in the tuple")
        return "tuple"
    if isinstance(requests, types.List):
        request_handles(requests.dtype, "each request in the list")
        return "list"
    raise TypingError(f"mpi4numba: requests must be a RequestType array, a tuple of them or a list, got {requests}")


def request_type(request: types.Type) -> types.Array:
    """The type of the request array a routine returns: a new one if ``request`` is None,
    else ``request`` itself (a C-contiguous RequestType array, checked here)."""
    if isinstance(request, NOT_GIVEN):
        return REQUEST_ARRAY
    if not (isinstance(request, types.Array) and request.dtype == REQUEST_ARRAY.dtype and request.layout == "C"):
        raise TypingError(f"mpi4numba: request must be a C-contiguous RequestType array, got {request}")
    return request


def operand_form(sendobj: types.Type) -> str:
    """What a reduction's ``sendobj`` is, by its type: ``"in_place"``, ``"scalar"`` or ``"array"``."""
    if is_in_place(sendobj):
        return "in_place"
    return "scalar" if isinstance(sendobj, (types.Number, types.Boolean)) else "array"


def reduction_operands(sendobj: types.Type, recvobj: types.Type, operator: types.Type) -> str:
    """The operands of a reduction: ``"scalar"``, ``"array"`` or ``"in_place"``
    (``sendobj``), ``recvobj`` an array MPI can reduce with ``operator``."""
    array(recvobj, "recvobj", writable=True)
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise TypingError(f"mpi4numba: operator must be an mpi4numba.Operator, got {operator}")
    _check_pairs(recvobj.dtype, known_operator(operator))
    if mpi_datatype(recvobj.dtype)[0] == "BYTE":
        raise TypingError("mpi4numba: bytes cannot be reduced")
    refused_operators(operator, recvobj.dtype)  # a typing error for a written one
    if is_in_place(sendobj):
        return "in_place"
    if isinstance(sendobj, (types.Number, types.Boolean)):
        if isinstance(recvobj.dtype, types.Record):
            raise TypingError(f"mpi4numba: sendobj must be an array of {recvobj.dtype}, got {sendobj}")
        return "scalar"
    array(sendobj, "sendobj")
    same_dtype(sendobj, recvobj)
    return "array"


def _check_pairs(dtype: types.Type, operator: Operator | None) -> None:
    """Structured dtypes reduce only as (value, index) pairs, and pairs only with MINLOC/MAXLOC."""
    loc = operator in (Operator.MINLOC, Operator.MAXLOC)
    if isinstance(dtype, types.Record):
        if pair_type(dtype) is None:
            raise TypingError(
                f"mpi4numba: structured dtypes cannot be reduced, except (value, index) pairs "
                f"with MINLOC/MAXLOC: {pair_problem(dtype)}"
            )
        if operator is not None and not loc:
            raise TypingError(refusal(operator, dtype))
    elif loc:
        raise TypingError(f"mpi4numba: {pair_problem(dtype)}")
