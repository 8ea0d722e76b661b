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
from numba.core.errors import TypingError as _TypingError
from numba.core.imputils import lower_cast
from numba.core.typeconv import Conversion
from numba.core.typing.templates import AttributeTemplate, infer_getattr
from numba.extending import intrinsic, models, register_model

from .._core.cachetag import guard_cache
from .._core.handles import HANDLE, handle_from_native, predefined_native
from .._core.runtime import MPI
from .dtypes import leaf_types, mpi_datatype, pair_type


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

    # ``member.value``, read by Numba's unboxing of every enum member passed from Python:
    # int's own C getter (the member is its value) instead of Enum's Python-level property
    # (a descriptor, so not a member)
    value = int.real

    def _numba_constant_type(self) -> types.Type:
        """The Numba type of this member written as a constant in compiled code."""
        return OperatorMember(self)


class OperatorMember(types.IntEnumMember):
    """Numba type of an ``Operator`` member written in compiled code (``Operator.BAND``, a
    default): an IntEnum member that also knows which one, so that an operator that does
    not apply to a dtype is a typing error. Operators passed in from Python are plain
    IntEnum members, known at run time only (one compilation for every operator)."""

    def __init__(self, member: Operator):
        self.member = member
        super().__init__(Operator, types.int64)
        self.name = f"mpi4numba.Operator.{member.name}"

    @property
    def key(self):
        return self.instance_class, self.dtype, self.member

    def unify(self, typingctx, other):
        if isinstance(other, types.IntEnumMember) and other.instance_class is Operator:
            return types.IntEnumMember(Operator, self.dtype)
        return None

    def can_convert_to(self, typingctx, other):
        if isinstance(other, types.IntEnumMember) and other.instance_class is Operator:
            return Conversion.promote
        return super().can_convert_to(typingctx, other)


register_model(OperatorMember)(models.EnumModel)


@lower_cast(OperatorMember, types.IntEnumMember)
def _forget_member(context, builder, fromty, toty, value):
    return value


@infer_getattr
class _OperatorAttributes(AttributeTemplate):
    """``Operator.BAND`` in compiled code has the type of that member (lowered as Numba
    lowers any enum member: its value)."""

    key = types.IntEnumClass(Operator, types.int64)

    def generic_resolve(self, ty, attr):
        if attr in Operator.__members__:
            return OperatorMember(Operator[attr])
        return None


_NUMBA_MPI_VALUES = (ctypes.c_int64 * len(Operator))(*(MPI._addressof(getattr(MPI, op.name)) for op in Operator))
_TABLE_SYMBOL = "mpi4numba_numba_mpi_operator_values"
llvm.add_symbol(_TABLE_SYMBOL, ctypes.addressof(_NUMBA_MPI_VALUES))


def known_operator(operator: types.Type) -> Operator | None:
    """The operator a typing-time argument type fixes (a member written in compiled code, a
    default, a literal), else None."""
    if isinstance(operator, OperatorMember):
        return operator.member
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
        guard_cache(context, builder)
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
                    result = builder.select(
                        builder.icmp_signed("==", value, ir.Constant(i64, op.value)), handle, result
                    )
                builder.store(result, slot)
            with legacy:  # numba-mpi passes the address of mpi4py's handle
                result = null
                for index, handle in enumerate(handles):
                    address = builder.gep(table, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), index)])
                    result = builder.select(builder.icmp_signed("==", value, builder.load(address)), handle, result)
                builder.store(result, slot)
        return builder.load(slot)

    return HANDLE(operator), codegen


# The classes of predefined datatypes in MPI's table of predefined operators (MPI-4.1, 6.9.2)
_CLASS_OF = {
    **dict.fromkeys(
        ("INT8_T", "INT16_T", "INT32_T", "INT64_T", "UINT8_T", "UINT16_T", "UINT32_T", "UINT64_T"), "integer"
    ),
    "FLOAT": "floating point",
    "DOUBLE": "floating point",
    "C_FLOAT_COMPLEX": "complex",
    "C_DOUBLE_COMPLEX": "complex",
    "C_BOOL": "logical",
    "BYTE": "byte",
}
_APPLIES_TO = {
    **dict.fromkeys((Operator.MAX, Operator.MIN), frozenset({"integer", "floating point"})),
    **dict.fromkeys((Operator.SUM, Operator.PROD), frozenset({"integer", "floating point", "complex"})),
    **dict.fromkeys((Operator.LAND, Operator.LOR, Operator.LXOR), frozenset({"integer", "logical"})),
    **dict.fromkeys((Operator.BAND, Operator.BOR, Operator.BXOR), frozenset({"integer", "byte"})),
    **dict.fromkeys((Operator.MINLOC, Operator.MAXLOC), frozenset({"pair"})),
    **dict.fromkeys((Operator.REPLACE, Operator.NO_OP), frozenset({*_CLASS_OF.values(), "pair"})),
}
_ONE_SIDED_ONLY = (Operator.REPLACE, Operator.NO_OP)


def datatype_class(name: str) -> str | None:
    """The class of the predefined MPI datatype ``name`` in MPI's operator table."""
    return _CLASS_OF.get(name)


def operand_class(dtype: types.Type) -> str:
    """The class of ``dtype`` in MPI's operator table: "integer", "floating point", "complex",
    "logical", "byte" or "pair"; a structured dtype counts as the one type all its fields
    are made of (else a TypingError: MPI applies operators to one predefined type)."""
    if pair_type(dtype) is not None:
        return "pair"
    if isinstance(dtype, types.Record):
        names = leaf_types(dtype)
        if len(names) != 1:
            raise _TypingError(
                f"mpi4numba: the fields of {dtype} are not all of one type, and MPI applies "
                "operators only to elements made of one predefined type"
            )
        return _CLASS_OF[names.pop()]
    return _CLASS_OF[mpi_datatype(dtype)[0]]


def refused_operators(operator: types.Type, dtype: types.Type, one_sided: bool = False) -> tuple[Operator, ...]:
    """Check an ``operator`` argument against the elements it combines (MPI's table; REPLACE
    and NO_OP only for one-sided accumulates). An operator written in the code is checked
    now: a TypingError if it does not apply. Otherwise returns the operators that do not
    apply, for :meth:`~mpi4numba._support.lowering.MPIEmitter.op` to refuse at run time."""
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise _TypingError(f"mpi4numba: operator must be an mpi4numba.Operator, got {operator}")
    kind = operand_class(dtype)
    refused = tuple(op for op in Operator if kind not in _APPLIES_TO[op] or (op in _ONE_SIDED_ONLY and not one_sided))
    known = known_operator(operator)
    if known is None:
        return refused
    if known in refused:
        raise _TypingError(refusal(known, dtype))
    return ()


def refusal(operator: Operator, dtype: types.Type) -> str:
    """Why ``operator`` is refused on elements of ``dtype``."""
    if operator in _ONE_SIDED_ONLY:
        return f"mpi4numba: Operator.{operator.name} applies to one-sided accumulates only"
    if pair_type(dtype) is not None:
        return (
            f"mpi4numba: Operator.{operator.name} does not apply to (value, index) pairs ({dtype}); "
            "use Operator.MINLOC or Operator.MAXLOC"
        )
    return f"mpi4numba: Operator.{operator.name} does not apply to {dtype}"
