"""Reduction operators: ``Operator`` members, their integer values, and numba-mpi's values.

``Operator`` members are small integers that mean the same in every process, so code that
uses them caches safely. For drop-in compatibility an operator may also be given as the
integer numba-mpi uses (``MPI._addressof(MPI.SUM)``, the address of mpi4py's handle,
different in every process): such values are looked up at run time in a table this
process exports by symbol name. An unknown value gives ``MPI_OP_NULL``, which MPI rejects
with ``MPI_ERR_OP``.
"""

from __future__ import annotations

import ctypes
from enum import IntEnum

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from ._ccall import HANDLE, _guard, handle_from_native, predefined_native
from ._runtime import MPI


class Operator(IntEnum):
    """Predefined MPI reduction operators (values are stable across processes)."""

    MAX = 1
    MIN = 2
    SUM = 3
    PROD = 4
    LAND = 5
    BAND = 6
    LOR = 7
    BOR = 8
    LXOR = 9
    BXOR = 10
    MINLOC = 11
    MAXLOC = 12
    REPLACE = 13
    NO_OP = 14


_NUMBA_MPI_VALUES = (ctypes.c_int64 * len(Operator))(
    *(MPI._addressof(getattr(MPI, op.name)) for op in Operator)
)
_TABLE_SYMBOL = "mpi4numba_numba_mpi_operator_values"
llvm.add_symbol(_TABLE_SYMBOL, ctypes.addressof(_NUMBA_MPI_VALUES))


def known_operator(operator: types.Type) -> Operator | None:
    """The operator a typing-time argument type fixes (a default or a literal), else None."""
    if isinstance(operator, types.Omitted):
        value = operator.value
    elif isinstance(operator, types.IntegerLiteral):
        value = operator.literal_value
    else:
        return None
    try:
        return Operator(value)
    except ValueError:  # a numba-mpi handle address: only known at run time
        return None


@intrinsic
def op_handle(typingctx, operator):
    """The MPI_Op handle for an ``Operator`` member, its value, or a numba-mpi operator value."""
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise TypingError(f"operator must be an mpi4numba.Operator (or its integer value), got {operator}")

    def codegen(context, builder, sig, args):
        _guard(context)
        i64 = ir.IntType(64)
        value = context.cast(builder, args[0], sig.args[0], types.int64)
        module = builder.module
        table = module.globals.get(_TABLE_SYMBOL)
        if table is None:
            table = ir.GlobalVariable(module, ir.ArrayType(i64, len(Operator)), _TABLE_SYMBOL)
        null = handle_from_native(builder, predefined_native(builder, "OP_NULL"))
        handles = [handle_from_native(builder, predefined_native(builder, op.name)) for op in Operator]
        slot = cgutils.alloca_once(builder, i64)
        is_member = builder.and_(
            builder.icmp_signed(">=", value, ir.Constant(i64, 1)),
            builder.icmp_signed("<=", value, ir.Constant(i64, len(Operator))),
        )
        with builder.if_else(is_member, likely=True) as (member, legacy):
            with member:
                result = null
                for op, handle in zip(Operator, handles):
                    result = builder.select(builder.icmp_signed("==", value, ir.Constant(i64, op.value)), handle, result)
                builder.store(result, slot)
            with legacy:  # numba-mpi passes the address of mpi4py's handle
                result = null
                for index, handle in enumerate(handles):
                    address = builder.gep(table, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), index)])
                    result = builder.select(builder.icmp_signed("==", value, builder.load(address)), handle, result)
                builder.store(result, slot)
        return builder.load(slot)

    return HANDLE(operator), codegen
