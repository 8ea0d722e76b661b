"""Lowering a routine straight to LLVM IR, written like the jitted Python it replaces.

A routine's body runs once per call site while Numba lowers the caller, with an
:class:`Emitter` ``e`` and its arguments as :class:`Value` objects (a Numba type and an
LLVM value)::

    def body(e, data, dest, tag, comm):
        address, count, datatype, derived = e.buffer(data)
        return e(MPI_Send, address, count, datatype, dest, tag, e.comm(comm))

``e(f, *args)`` lowers a call of any function Numba can call (an intrinsic, a builtin
operator, an ``@overload``) right here, and Python operators on values (``+``, ``<=``,
``==`` ...) are Numba's. Nothing is compiled as a function of its own unless the callee
is one (an ``@overload`` or ``@njit`` function): the emitted code is the caller's, so a
call site costs what its own instructions cost to compile. Branches are
:meth:`Emitter.when` blocks and :meth:`Emitter.select`; errors are :meth:`Emitter.check`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from llvmlite import ir
from numba.core import cgutils, types

UNKNOWN = object()  # the compile-time value of a Value known only at run time


class Value:
    """A typed value of the function being lowered (``constant``: its Python value, if fixed)."""

    __slots__ = ("constant", "e", "llvm", "parts", "type")
    __hash__ = None  # type: ignore[assignment]  (== builds IR)

    def __init__(
        self, e: Emitter, ty: types.Type, llvm: ir.Value, constant: Any = UNKNOWN, parts: tuple[Value, ...] = ()
    ):
        self.e, self.type, self.llvm, self.constant, self.parts = e, ty, llvm, constant, parts

    def __repr__(self) -> str:
        return f"<Value {self.type}{'' if self.constant is UNKNOWN else f' = {self.constant!r}'}>"

    def __bool__(self) -> bool:
        raise TypeError("a Value is only known at run time: use e.when()/e.select(), not if/and/or")

    def _apply(self, op: Callable, *others: Any) -> Value:
        return self.e(op, self, *others)

    def _reflected(self, op: Callable, other: Any) -> Value:
        return self.e(op, other, self)

    __add__ = lambda self, other: self._apply(operator.add, other)  # noqa: E731
    __radd__ = lambda self, other: self._reflected(operator.add, other)  # noqa: E731
    __sub__ = lambda self, other: self._apply(operator.sub, other)  # noqa: E731
    __rsub__ = lambda self, other: self._reflected(operator.sub, other)  # noqa: E731
    __mul__ = lambda self, other: self._apply(operator.mul, other)  # noqa: E731
    __rmul__ = lambda self, other: self._reflected(operator.mul, other)  # noqa: E731
    __floordiv__ = lambda self, other: self._apply(operator.floordiv, other)  # noqa: E731
    __mod__ = lambda self, other: self._apply(operator.mod, other)  # noqa: E731
    __and__ = lambda self, other: self._apply(operator.and_, other)  # noqa: E731
    __or__ = lambda self, other: self._apply(operator.or_, other)  # noqa: E731
    __lt__ = lambda self, other: self._apply(operator.lt, other)  # noqa: E731
    __le__ = lambda self, other: self._apply(operator.le, other)  # noqa: E731
    __gt__ = lambda self, other: self._apply(operator.gt, other)  # noqa: E731
    __ge__ = lambda self, other: self._apply(operator.ge, other)  # noqa: E731
    __eq__ = lambda self, other: self._apply(operator.eq, other)  # type: ignore[assignment]  # noqa: E731
    __ne__ = lambda self, other: self._apply(operator.ne, other)  # type: ignore[assignment]  # noqa: E731
    __neg__ = lambda self: self._apply(operator.neg)  # noqa: E731

    def __getitem__(self, index: Any) -> Value:
        if isinstance(self.type, types.BaseTuple) and isinstance(index, int):
            return self.e.unpack(self)[index]
        return self._apply(operator.getitem, index)


class Emitter:
    """Emits code into the function Numba is lowering; see the module docstring."""

    def __init__(self, context, builder: ir.IRBuilder, routine: str = ""):
        self.context, self.builder = context, builder
        self.typing = context.typing_context
        self.routine = routine  # "mpi4numba.send": messages of shared helpers name it
        self._owned: list[Value] = []  # new references made by calls, released by finish()

    # --- values ---

    def const(self, value: Any, ty: types.Type | None = None) -> Value:
        """A compile-time constant (strings become literals, as intrinsics want them)."""
        if isinstance(value, Value):
            return value
        if ty is None:
            if isinstance(value, str):
                ty = types.literal(value)
            elif isinstance(value, bool):
                ty = types.boolean
            elif isinstance(value, int) and not hasattr(value, "__members__") and type(value) is int:
                ty = types.intp
            else:
                ty = self.typing.resolve_value_type(value)
        return Value(self, ty, self.context.get_constant_generic(self.builder, ty, value), value)

    def literal(self, value: Any) -> Value:
        """A constant typed as a Numba literal (for intrinsics that need one)."""
        ty = types.literal(value)
        return Value(self, ty, self.context.get_constant_generic(self.builder, ty.literal_type, value), value)

    def argument(self, ty: types.Type, llvm: ir.Value) -> Value:
        """A routine's argument; an omitted one is its default, a constant."""
        if isinstance(ty, types.Omitted):
            return self.const(ty.value)
        return Value(self, ty, llvm)

    def cast(self, value: Any, ty: types.Type) -> Value:
        value = self.const(value)
        if value.type == ty:
            return value
        return Value(self, ty, self.context.cast(self.builder, value.llvm, value.type, ty), value.constant)

    def tuple(self, *items: Any) -> Value:
        values = tuple(self.const(item) for item in items)
        ty = types.Tuple([v.type for v in values])
        return Value(self, ty, self.context.make_tuple(self.builder, ty, [v.llvm for v in values]), parts=values)

    def unpack(self, value: Value) -> tuple[Value, ...]:
        return tuple(Value(self, ty, self.builder.extract_value(value.llvm, i)) for i, ty in enumerate(value.type))

    def undefined(self, ty: types.Type) -> Value:
        """A value of ``ty`` that the code does not read (zeros)."""
        return Value(self, ty, ir.Constant(self.context.get_value_type(ty), None))

    # --- calls and attributes ---

    def __call__(self, function: Any, *args: Any) -> Value:
        """Lower ``function(*args)`` as Numba would in the caller, inline where it can."""
        values = [self.const(arg) for arg in args]
        fnty = self.typing.resolve_value_type(function)
        sig = self.typing.resolve_function_type(fnty, tuple(v.type for v in values), {})
        if sig is None:
            raise TypeError(f"cannot call {function} with {[str(v.type) for v in values]}")
        implementation = self.context.get_function(fnty, sig)
        llvm_args = [self.context.cast(self.builder, v.llvm, v.type, ty) for v, ty in zip(values, sig.args)]
        result = implementation(self.builder, llvm_args)
        self.context.add_linking_libs(getattr(implementation, "libs", ()))
        value = Value(self, sig.return_type, result)
        if self._has_references(value.type):
            self._owned.append(value)
        return value

    def _has_references(self, ty: types.Type) -> bool:
        return bool(self.context.enable_nrt and self.context.data_model_manager[ty].contains_nrt_meminfo())

    def finish(self, result: Any, restype: types.Type) -> ir.Value:
        """The LLVM value a body's ``result`` returns as ``restype``, as a new reference:
        arguments it returns are incref'd, references the body made and dropped released."""
        result = self.const(result)
        parts = result.parts or (result,)
        if result.type != restype:
            if result.parts:
                parts = tuple(self.cast(part, ty) for part, ty in zip(result.parts, restype))
                result = Value(self, restype, self.context.make_tuple(self.builder, restype, [p.llvm for p in parts]))
            else:
                result = self.cast(result, restype)
                parts = (result,)
        kept = {id(part) for part in parts}
        for part in parts:
            if self._has_references(part.type) and not any(part is owned for owned in self._owned):
                self.context.nrt.incref(self.builder, part.type, part.llvm)
        for owned in self._owned:
            if id(owned) not in kept:
                self.context.nrt.decref(self.builder, owned.type, owned.llvm)
        return result.llvm

    def attr(self, value: Value, name: str) -> Value:
        """``value.name`` (an array's ``size``, ``ctypes``, ``flags`` ...)."""
        ty = self.typing.resolve_getattr(value.type, name)
        if ty is None:
            raise AttributeError(f"{value.type} has no attribute {name!r} in compiled code")
        getter = self.context.get_getattr(value.type, name)
        return Value(self, ty, getter(self.context, self.builder, value.type, value.llvm, name))

    # --- control flow ---

    def select(self, condition: Value, if_true: Any, if_false: Any) -> Value:
        """``if_true if condition else if_false``, both evaluated (they must have one type)."""
        a, b = self.const(if_true), self.const(if_false)
        if a.type != b.type:
            ty = self.typing.unify_types(a.type, b.type)
            a, b = self.cast(a, ty), self.cast(b, ty)
        flag = self.truth(condition)
        return Value(self, a.type, self.builder.select(flag, a.llvm, b.llvm))

    def truth(self, condition: Any) -> ir.Value:
        condition = self.const(condition)
        return self.context.cast(self.builder, condition.llvm, condition.type, types.boolean)

    def not_(self, condition: Any) -> Value:
        return Value(self, types.boolean, self.builder.not_(self.truth(condition)))

    @contextmanager
    def when(self, condition: Any, likely: bool | None = None) -> Iterator[None]:
        """Code emitted in the block runs only if ``condition`` (values made inside stay inside)."""
        outer = len(self._owned)
        with self.builder.if_then(self.truth(condition), likely=likely):
            yield
            self._release_since(outer)

    @contextmanager
    def loop(self, count: Any) -> Iterator[Value]:
        """``for i in range(count)``: the block is emitted once, with ``i`` an ``intp`` value."""
        outer = len(self._owned)
        with cgutils.for_range(self.builder, self.cast(count, types.intp).llvm) as loop:
            yield Value(self, types.intp, loop.index)
            self._release_since(outer)

    def _release_since(self, outer: int) -> None:
        for owned in self._owned[outer:]:  # references made in a block cannot outlive it
            self.context.nrt.decref(self.builder, owned.type, owned.llvm)
        del self._owned[outer:]

    def check(self, ok: Any, exception: type[BaseException], message: str) -> None:
        """Raise ``exception(message)`` from the compiled function unless ``ok``; a message of
        a shared helper, ``"mpi4numba: ..."``, is given the routine's name."""
        if self.routine and message.startswith("mpi4numba: "):
            message = f"{self.routine}: {message[len('mpi4numba: ') :]}"
        ok = self.const(ok)
        if ok.constant is True:
            return
        with self.builder.if_then(self.builder.not_(self.truth(ok)), likely=False):
            for owned in self._owned:  # the references made so far are not returned
                self.context.nrt.decref(self.builder, owned.type, owned.llvm)
            self.context.call_conv.return_user_exc(self.builder, exception, (message,))

    def variable(self, initial: Any) -> Variable:
        """A mutable local (a stack slot), for values chosen inside :meth:`when` blocks."""
        return Variable(self, self.const(initial))


class Variable:
    """A stack slot of one type, set and read across blocks."""

    def __init__(self, e: Emitter, initial: Value):
        self.e, self.type = e, initial.type
        self.slot = cgutils.alloca_once_value(e.builder, initial.llvm)

    def get(self) -> Value:
        return Value(self.e, self.type, self.e.builder.load(self.slot))

    def set(self, value: Any) -> None:
        self.e.builder.store(self.e.cast(value, self.type).llvm, self.slot)
