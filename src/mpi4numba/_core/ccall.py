"""MPI C functions and predefined handles, callable from ``@njit`` code by symbol name.

A routine is declared once by its C prototype, written with a few parameter kinds::

    MPI_Send = c_function("int MPI_Send(ptr buf, count count, Datatype type, int dest, int tag, Comm comm)")

and ``MPI_Send(...)`` is then an intrinsic usable in nopython code. The generated call
references ``MPI_Send`` by name (resolved by the JIT linker in each process, also when the
code comes from Numba's cache) and converts arguments to the running ABI:

``int``/``count``
    any Numba integer; a value that does not fit a C ``int`` is not truncated: the call is
    skipped and ``MPI_ERR_ARG`` / ``MPI_ERR_COUNT`` is returned.
``bigcount``
    a count that may exceed a C ``int``: where the library has the MPI-4 large-count
    variant of the routine (``MPI_Send_c`` for ``MPI_Send``), that variant is called with
    a 64-bit ``MPI_Count``; elsewhere it is a ``count`` (see :mod:`mpi4numba.datatypes`
    for how large messages are described there).
``aint``
    ``MPI_Aint`` (64-bit).
``ptr``
    ``void *``: a pointer, an integer address or an array (its data pointer).
``Comm``, ``Datatype``, ``Op``, ``Request``, ``Group``, ``Errhandler``, ``Message``
    a handle, carried in Numba as ``intp`` and narrowed to the ABI's width at the call.
``out int`` / ``out aint`` / ``out ptr`` / ``out <Handle>``
    filled through a stack slot and returned after the error code (``int32``, ``int64``,
    the address as ``intp``, a handle).
``inout <Handle>``
    an argument passed by address (a stack slot), its new value returned like ``out``.
``Status name``
    a :class:`mpi4numba.status.StatusType` value, passed by the address of a stack copy
    (``const MPI_Status *``).
``out Status name``
    an ``MPI_Status`` stack slot (``STATUS_BYTES``, 8-byte aligned) that MPI fills,
    returned by value as a ``StatusType`` (no heap allocation). If the call is skipped
    (an argument did not fit), the status is all zeros.
``Status* name=IGNORE``
    not an argument: ``MPI_STATUS(ES)_IGNORE`` of the running ABI.

The result is the C ``int`` error code (``int32``), or a tuple ``(code, *outs)``.

A routine of a newer MPI than every supported library has is declared with its version,
``c_function("int MPI_Pready(int partition, ptr request)", since="4.0")``. Where the
running library lacks it, the call returns an ``MPI_ERR_UNSUPPORTED_OPERATION`` code whose
``error_string`` names the routine and the library (outputs are zeros), instead of code
that the JIT linker could not resolve; cached code records which way it was compiled and
is recompiled under a library that differs (:class:`Presence`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .cacheguard import CacheABIMismatch
from .cachetag import guard_cache
from .errorcodes import declare_missing, declare_refused, load_code
from .handles import HANDLE, NATIVE_HANDLE, handle_from_native, handle_to_native, predefined_native
from .launchers import library_flavour
from .refusals import refusal
from .runtime import ABI, LARGE_COUNT, MPI
from .statustype import status_type

HANDLE_KINDS = ("Comm", "Datatype", "Op", "Request", "Group", "Errhandler", "Message", "Win", "Info")

FLAVOUR = library_flavour(MPI.Get_library_version())

_i32 = ir.IntType(32)
_i64 = ir.IntType(64)
_voidptr = ir.IntType(8).as_pointer()
_int_error = {
    "int": ABI.ERROR_CLASSES["ERR_ARG"],
    "count": ABI.ERROR_CLASSES["ERR_COUNT"],
    "bigcount": ABI.ERROR_CLASSES["ERR_COUNT"],
}


def _address_constant(value: int) -> ir.Value:
    return ir.Constant(_i64, value).inttoptr(_voidptr)


def status_slot(context, builder, value: ir.Value | None = None) -> ir.Value:
    """An ``MPI_Status`` stack slot (8-byte aligned, as Open MPI's ``size_t`` field needs),
    holding ``value`` (a StatusType value) or zeros; returns its typed pointer."""
    llty = context.get_value_type(status_type)
    slot = cgutils.alloca_once(builder, llty)
    slot.align = 8
    builder.store(value if value is not None else ir.Constant(llty, None), slot)
    return slot


@dataclass(frozen=True)
class _Param:
    kind: str  # int, count, aint, ptr, a handle kind, Status (by value) or Status* (IGNORE)
    name: str
    direction: str = "in"  # in, out, inout
    implicit: bool = False

    @property
    def out(self) -> bool:
        return self.direction != "in"


def usable(symbol: str) -> bool:
    """Whether compiled code may call ``symbol``: the library has it and mpi4numba does not
    refuse it there (:mod:`.refusals`)."""
    return bool(llvm.address_of_symbol(symbol)) and refusal(symbol, FLAVOUR) is None


@dataclass(frozen=True)
class Presence:
    """Run before cached code that calls ``symbol`` loads: refuse it (it is recompiled) if
    the routine is usable here and the code was compiled without it, or the other way."""

    symbol: str
    present: bool

    def __call__(self) -> None:
        if usable(self.symbol) != self.present:
            raise CacheABIMismatch(
                f"cached code was compiled {'with' if self.present else 'without'} {self.symbol}, "
                f"which this MPI library {'lacks or gets wrong' if self.present else 'has'}"
            )


_PROTOTYPE = re.compile(r"^\s*(int|double)\s+(MPI_\w+)\s*\((.*)\)\s*$")


def _parse(prototype: str) -> tuple[str, str, list[_Param]]:
    match = _PROTOTYPE.match(prototype)
    if not match:
        raise ValueError(f"cannot parse C prototype {prototype!r}")
    restype, cname, body = match.groups()
    params = []
    for raw in filter(None, (p.strip() for p in body.split(","))):
        words = raw.replace("=", " = ").split()
        direction = words[0] if words[0] in ("out", "inout") else "in"
        if direction != "in":
            words = words[1:]
        if words[0] == "Status*":
            if words[-1] != "IGNORE" or direction != "in":
                raise ValueError(f"{cname}: only Status* ...=IGNORE is supported, got {raw!r}")
            params.append(_Param("Status*", words[1], implicit=True))
            continue
        if words[0] == "Status":
            if direction == "inout":
                raise ValueError(f"{cname}: a Status is 'Status name' or 'out Status name', got {raw!r}")
            params.append(_Param("Status", words[1], direction=direction))
            continue
        kind, name = words[0], words[1]
        if kind not in ("int", "count", "bigcount", "aint", "ptr", *HANDLE_KINDS):
            raise ValueError(f"{cname}: unknown parameter kind {kind!r}")
        if direction != "in" and kind not in ("int", "aint", "ptr", *HANDLE_KINDS):
            raise ValueError(f"{cname}: out/inout parameters are int, aint, ptr or handles, got {raw!r}")
        params.append(_Param(kind, name, direction=direction))
    return restype, cname, params


class CFunction:
    """A C function of the MPI library, declared by prototype; see the module docstring."""

    def __init__(self, prototype: str, since: str | None = None):
        self.restype, self.name, self.params = _parse(prototype)
        # a routine newer than some supported libraries: the code returned where it is missing,
        # or refused (declared on import, in the same order in every process)
        self.missing = declare_missing(self.name, since) if since else None
        why = refusal(self.name, FLAVOUR) if since else None
        self.refused = declare_refused(self.name, why) if why else None
        # the C symbol: the MPI-4 large-count variant where the library has one
        self.large = LARGE_COUNT and any(p.kind == "bigcount" for p in self.params)
        self.symbol = self.name + "_c" if self.large else self.name
        self.inputs = [p for p in self.params if p.direction != "out" and not p.implicit]
        self.outputs = [p for p in self.params if p.out]
        self.intrinsic = self._build_intrinsic()

    def __repr__(self) -> str:
        return f"<mpi4numba C function {self.name}>"

    def _llvm_type(self, param: _Param) -> ir.Type:
        if param.kind == "bigcount" and self.large:
            return _i64
        if param.kind in ("int", "count", "bigcount"):
            return _i32.as_pointer() if param.out else _i32
        if param.kind == "aint":
            return _i64.as_pointer() if param.out else _i64
        if param.kind == "ptr" and param.out:
            return _voidptr.as_pointer()
        if param.kind in ("ptr", "Status", "Status*"):
            return _voidptr
        return NATIVE_HANDLE.as_pointer() if param.out else NATIVE_HANDLE

    def _check_arg(self, param: _Param, ty: types.Type) -> None:
        ok = {
            "int": isinstance(ty, (types.Integer, types.Boolean)),
            "count": isinstance(ty, types.Integer),
            "bigcount": isinstance(ty, types.Integer),
            "aint": isinstance(ty, types.Integer),
            "ptr": isinstance(ty, (types.RawPointer, types.CPointer, types.Integer, types.Array)),
            "Status": ty == status_type,
        }.get(param.kind, isinstance(ty, types.Integer))
        if not ok:
            raise TypingError(f"{self.name}: argument {param.name!r} ({param.kind}) cannot be {ty}")

    def _signature(self, argtys):
        for param, ty in zip(self.inputs, argtys):
            self._check_arg(param, ty)
        code = types.float64 if self.restype == "double" else types.int32
        outs = [
            {"int": types.int32, "aint": types.int64, "Status": status_type}.get(p.kind, HANDLE) for p in self.outputs
        ]
        restype = types.Tuple((code, *outs)) if outs else code
        return restype(*argtys)

    def _lower_input(self, context, builder, param: _Param, ty, value):
        if param.kind == "bigcount" and self.large:
            return context.cast(builder, value, ty, types.int64), None
        if param.kind in ("int", "count", "bigcount"):
            if isinstance(ty, types.Boolean):
                return builder.zext(value, _i32), None
            wide = context.cast(builder, value, ty, types.int64)
            narrow = builder.trunc(wide, _i32)
            fits = builder.icmp_signed("==", builder.sext(narrow, _i64), wide)
            return narrow, fits
        if param.kind == "aint":
            return context.cast(builder, value, ty, types.int64), None
        if param.kind == "Status":
            return builder.bitcast(status_slot(context, builder, value), _voidptr), None
        if param.kind == "ptr":
            if isinstance(ty, types.Array):
                data = context.make_array(ty)(context, builder, value).data
                return builder.bitcast(data, _voidptr), None
            if isinstance(ty, types.Integer):
                return builder.inttoptr(value, _voidptr), None
            return builder.bitcast(value, _voidptr), None
        return handle_to_native(builder, context.cast(builder, value, ty, types.intp)), None

    def _missing(self, context, builder, sig) -> ir.Value:
        """The call of a routine this library lacks (or mpi4numba refuses on it): its error
        code, zeros for the outputs."""
        present = bool(llvm.address_of_symbol(self.symbol))
        code = load_code(context, builder, self.refused if present and self.refused else self.missing)
        if not self.outputs:
            return code
        zeros = [context.get_constant_null(ty) for ty in sig.return_type.types[1:]]
        return context.make_tuple(builder, sig.return_type, [code, *zeros])

    def _codegen(self, context, builder, sig, args):
        if self.missing is None:
            guard_cache(context, builder)
        else:
            present = usable(self.symbol)
            guard_cache(context, builder, Presence(self.symbol, present))
            if not present:
                return self._missing(context, builder, sig)
        fnty = ir.FunctionType(
            _i32 if self.restype == "int" else ir.DoubleType(), [self._llvm_type(p) for p in self.params]
        )
        fn = cgutils.get_or_insert_function(builder.module, fnty, self.symbol)
        inputs = iter(zip(self.inputs, sig.args, args))
        cargs, slots, checks = [], [], []
        for param in self.params:
            if param.implicit:
                cargs.append(_address_constant(ABI.STATUS_IGNORE))
            elif param.kind == "Status" and param.out:
                slot = status_slot(context, builder)
                slots.append((param, slot))
                cargs.append(builder.bitcast(slot, _voidptr))
            elif param.out:
                slot = cgutils.alloca_once(builder, self._llvm_type(param).pointee)
                if param.direction == "inout":
                    _, ty, value = next(inputs)
                    initial, fits = self._lower_input(context, builder, param, ty, value)
                    builder.store(initial, slot)
                slots.append((param, slot))
                cargs.append(slot)
            else:
                _, ty, value = next(inputs)
                carg, fits = self._lower_input(context, builder, param, ty, value)
                cargs.append(carg)
                if fits is not None:
                    checks.append((param, fits))
        if self.restype == "double" or not checks:
            code = builder.call(fn, cargs)
        else:
            code = ir.Constant(_i32, 0)
            for param, fits in reversed(checks):  # the first argument that does not fit decides
                code = builder.select(fits, code, ir.Constant(_i32, _int_error[param.kind]))
            code_slot = cgutils.alloca_once(builder, _i32)
            builder.store(code, code_slot)
            all_fit = checks[0][1]
            for _, fits in checks[1:]:
                all_fit = builder.and_(all_fit, fits)
            with builder.if_then(all_fit, likely=True):
                builder.store(builder.call(fn, cargs), code_slot)
            code = builder.load(code_slot)
        if not self.outputs:
            return code
        outs = []
        for param, slot in slots:
            value = builder.load(slot)
            if param.kind == "ptr":
                value = builder.ptrtoint(value, _i64)
            elif param.kind not in ("int", "aint", "Status"):
                value = handle_from_native(builder, value)
            outs.append(value)
        return context.make_tuple(builder, sig.return_type, [code, *outs])

    def _build_intrinsic(self):
        names = [p.name for p in self.inputs]
        arglist = ", ".join(names)
        source = (
            f"def {self.name}(typingctx{', ' if names else ''}{arglist}):\n"
            f"    return cfunc._signature(({arglist}{',' if len(names) == 1 else ''})), cfunc._codegen\n"
        )
        namespace: dict = {"cfunc": self}
        exec(source, namespace)
        return intrinsic(prefer_literal=False)(namespace[self.name])


def c_function(prototype: str, since: str | None = None):
    """Declare an MPI C function by its prototype (``since``: the MPI version that brought
    it, for routines some supported libraries lack) and return the njit-callable intrinsic."""
    return CFunction(prototype, since).intrinsic


@intrinsic(prefer_literal=True)
def predefined(typingctx, name):
    """``predefined("COMM_WORLD")``: a predefined handle of the running MPI, as ``intp``."""
    if not isinstance(name, types.StringLiteral) or name.literal_value not in ABI.HANDLES:
        raise TypingError(f"predefined() needs the literal name of a predefined MPI handle, got {name}")
    handle_name = name.literal_value

    def codegen(context, builder, sig, args):
        guard_cache(context, builder)
        return handle_from_native(builder, predefined_native(builder, handle_name))

    return HANDLE(name), codegen


@intrinsic(prefer_literal=True)
def stack_handles(typingctx, count):
    """Stack scratch for ``count`` (a literal) native handles; returns its address as intp.

    The slots live in the frame of the function that calls this, for the whole call.
    """
    if not isinstance(count, types.IntegerLiteral):
        raise TypingError("stack_handles() needs a literal count")
    n = count.literal_value

    def codegen(context, builder, sig, args):
        slots = cgutils.alloca_once(builder, ir.ArrayType(NATIVE_HANDLE, max(n, 1)))
        return builder.ptrtoint(slots, _i64)

    return types.intp(count), codegen


def handle_slot(builder, base, index):
    """Address of native handle number ``index`` in the array at integer address ``base``."""
    array = builder.inttoptr(base, NATIVE_HANDLE.as_pointer())
    return builder.gep(array, [index])


@intrinsic
def stack_value(typingctx, value, like):
    """Address (intp) of a stack copy of scalar ``value`` cast to the dtype of array ``like``.

    The slot lives in the frame of the function that calls this.
    """
    if not isinstance(like, types.Array) or not isinstance(value, (types.Number, types.Boolean)):
        raise TypingError(f"stack_value() takes a scalar and an array, got {value}, {like}")

    def codegen(context, builder, sig, args):
        dtype = sig.args[1].dtype
        converted = context.cast(builder, args[0], sig.args[0], dtype)
        slot = cgutils.alloca_once(builder, context.get_data_type(dtype))
        builder.store(context.get_value_as_data(builder, dtype, converted), slot)
        return builder.ptrtoint(slot, _i64)

    return types.intp(value, like), codegen
