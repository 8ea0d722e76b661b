"""The first words of the MPI vocabulary of lowered bodies: handles.

A body names MPI's predefined handles (``e.handle("COMM_WORLD")``), turns a communicator
or an operator argument into its handle (``e.comm(comm)``, ``e.op(operator)``) and asks
for its rank and size. Every other vocabulary (:mod:`.emit_buffers`, :mod:`.emit_views`,
:mod:`.emit_counts`, :mod:`.emit_requests`) builds on this one; :mod:`.lowering` puts them
together as :class:`~mpi4numba._support.lowering.MPIEmitter`.
"""

from __future__ import annotations

from numba.core import types

from .._core import capi
from .._core.cachetag import guard_cache
from .._core.commtype import comm_handle, comm_type, new_comm
from .._core.emit import Emitter, Value
from .._core.handles import handle_from_native, predefined_native
from .dtypes import mpi_datatype
from .operators import op_handle, refusal, refused_operators

NEW_COMMUNICATOR = types.Tuple((types.int32, comm_type))  # (status, newcomm) of a routine that makes one


class Handles(Emitter):
    """Predefined handles, communicators and operators."""

    def handle(self, name: str) -> Value:
        """A predefined handle (``"COMM_WORLD"``, ``"DOUBLE"`` ...) of the running MPI, as intp."""
        guard_cache(self.context, self.builder)
        return Value(self, types.intp, handle_from_native(self.builder, predefined_native(self.builder, name)))

    def comm(self, comm: Value) -> Value:
        """The handle of a communicator argument (``None``/omitted: ``COMM_WORLD``)."""
        if comm.type == types.none:
            return self.handle("COMM_WORLD")
        return self(comm_handle, comm)

    def new_communicator(self, code: Value, handle: Value) -> Value:
        """``(status, newcomm)`` (:data:`NEW_COMMUNICATOR`) from the status and handle of the
        MPI call that made it: ``COMM_NULL`` if it failed (MPI may leave the handle unset)."""
        return self.tuple(code, self(new_comm, self.select(code.eq(0), handle, self.handle("COMM_NULL"))))

    def rank(self, comm: Value) -> Value:
        """This process's rank in ``comm`` (a communicator argument)."""
        return self(capi.MPI_Comm_rank, self.comm(comm)).getitem(1)

    def comm_size(self, comm: Value) -> Value:
        """The number of processes of ``comm`` (a communicator argument)."""
        return self(capi.MPI_Comm_size, self.comm(comm)).getitem(1)

    def rank_size(self, comm: Value) -> tuple[Value, Value]:
        """This process's rank in ``comm`` and its size."""
        return self.rank(comm), self.comm_size(comm)

    def op(self, operator: Value, refused: tuple = (), dtype: types.Type | None = None) -> Value:
        """The ``MPI_Op`` of an ``Operator`` (or numba-mpi's integer value for one); one of the
        ``refused`` operators (see :func:`mpi4numba.operators.refused_operators`) raises
        ``ValueError`` naming the routine, the operator and ``dtype``, before MPI sees it."""
        handle = self(op_handle, operator)
        for member in refused:
            self.check(handle.ne(self.handle(member.name)), ValueError, refusal(member, dtype))
        return handle

    def reduction(self, operator: Value, recvobj: Value) -> tuple[Value, Value]:
        """``(op, datatype)`` of a reduction into ``recvobj``: an operator known only at run
        time that does not apply to its elements raises ``ValueError`` before MPI sees it."""
        dtype = recvobj.type.dtype
        return self.op(operator, refused_operators(operator.type, dtype), dtype), self.handle(mpi_datatype(dtype)[0])
