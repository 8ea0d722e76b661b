"""Lowering a routine straight to LLVM IR, written like the jitted Python it replaces.

A routine's body runs once per call site while Numba lowers the caller, with an
:class:`Emitter` ``e`` and its arguments as :class:`Value` objects (a Numba type and an
LLVM value)::

    def body(e, data, dest, tag, comm):
        address, count, datatype, derived = e.buffer(data)
        return e(MPI_Send, address, count, datatype, dest, tag, e.comm(comm))

``e(f, *args)`` lowers a call of an intrinsic or a builtin operation right here, and
``e.jitted(f, *args)`` a call of a jitted helper (``register_jitable``, ``@overload``),
a function compiled of its own; a value's arithmetic and comparisons are its
methods named after the :mod:`operator` module (``count.mul(2)``, ``code.eq(0)``), never
Python's operators, so that a Python ``==`` or ``in`` cannot emit code by accident.
Nothing is compiled as a function of its own unless the callee is one (an ``@overload``
or ``@njit`` function, or a jitted helper): the emitted code is the caller's, so a call
site costs what its own instructions cost to compile. Branches are
:meth:`Emitter.when` blocks and :meth:`Emitter.select`; errors are :meth:`Emitter.check`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.typing import templates as numba_templates

UNKNOWN = object()  # the compile-time value of a Value known only at run time


def _emitting(op: Callable) -> Callable:
    """A method of :class:`Value` that emits ``op(self, *others)`` as Numba would."""

    def method(self: Value, *others: Any) -> Value:
        return self.e(op, self, *others)

    name = op.__name__
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``operator.{name}(self, ...)``, emitted as Numba compiles it."
    return method


def _no_operator(self: Value, *others: Any) -> Any:
    raise TypeError(
        "a Value has no Python operators (== or in would emit code, or fail, where a Python test was meant): "
        "use its methods named after the operator module: .eq(), .lt(), .add(), .and_(), .getitem() ..."
    )


class Value:
    """A typed value of the function being lowered (``constant``: its Python value, if fixed).

    Arithmetic, comparisons and subscripts are methods named after Python's :mod:`operator`
    functions (``a.add(b)``, ``code.ne(0)``, ``ok.and_(inside)``, ``array.getitem(i)``),
    each lowered as Numba lowers the operator; Python's operators themselves raise
    ``TypeError``, and so does ``bool(value)``: a value is known only at run time."""

    __slots__ = ("constant", "e", "llvm", "parts", "type")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, e: Emitter, ty: types.Type, llvm: ir.Value, constant: Any = UNKNOWN, parts: tuple[Value, ...] = ()
    ):
        self.e, self.type, self.llvm, self.constant, self.parts = e, ty, llvm, constant, parts

    def __repr__(self) -> str:
        return f"<Value {self.type}{'' if self.constant is UNKNOWN else f' = {self.constant!r}'}>"

    def __bool__(self) -> bool:
        raise TypeError("a Value is only known at run time: use e.when()/e.select(), not if/and/or")

    add, sub, mul, floordiv, mod, neg = map(
        _emitting, (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod, operator.neg)
    )
    eq, ne, lt, le, gt, ge = map(
        _emitting, (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge)
    )
    and_, or_ = _emitting(operator.and_), _emitting(operator.or_)

    def getitem(self, index: Any) -> Value:
        """``self[index]``: an element of a tuple (by a Python int) or of an array."""
        if isinstance(self.type, types.BaseTuple) and isinstance(index, int):
            return self.e.unpack(self)[index]
        return self.e(operator.getitem, self, index)

    def setitem(self, index: Any, value: Any) -> None:
        """``self[index] = value`` (an array)."""
        self.e(operator.setitem, self, index, value)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __floordiv__ = __mod__ = _no_operator
    __and__ = __rand__ = __or__ = __ror__ = __invert__ = __neg__ = __getitem__ = _no_operator
    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = __contains__ = _no_operator  # type: ignore[assignment]


# Numba's class of the templates of overloads, a name of its own (private): without it the
# check of e() against e.jitted() is skipped (it tells a reader, it decides nothing)
_OVERLOADS = getattr(numba_templates, "_OverloadFunctionTemplate", None)


@functools.cache
def _compiled_apart(fnty: types.Type) -> bool:
    """Whether calls of a function of this Numba type call a function compiled of its own
    (a dispatcher, or overloads: ``register_jitable``, ``@overload``), not inline code."""
    if isinstance(fnty, types.Dispatcher):
        return True
    templates = getattr(fnty, "templates", ())
    return bool(templates) and all(issubclass(template, _OVERLOADS) for template in templates)


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
        """Lower ``function(*args)`` as Numba would in the caller: an intrinsic (a C call, a
        handle) or a builtin operation is emitted right here. A jitted helper of
        mpi4numba is refused: call it with :meth:`jitted`, so that a reader sees it."""
        return self._call(function, args, jitted=False)

    def jitted(self, function: Any, *args: Any) -> Value:
        """Call ``function(*args)``, a jitted helper (``register_jitable``, ``@overload``):
        a function of its own, compiled once per argument types and called from here."""
        return self._call(function, args, jitted=True)

    def _call(self, function: Any, args: tuple, jitted: bool) -> Value:
        values = [self.const(arg) for arg in args]
        fnty = self.typing.resolve_value_type(function)
        # Numba's own operations may be overloads: e() takes them; a helper of ours must say which
        ours = str(getattr(function, "__module__", "")).startswith("mpi4numba")
        if (jitted or ours) and _OVERLOADS is not None and _compiled_apart(fnty) != jitted:
            how = (
                "with e.jitted(): it is compiled as a function of its own"
                if not jitted
                else "with e(): it is emitted inline"
            )
            raise TypeError(f"call {getattr(function, '__name__', function)} {how}")
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
