"""``@api``: one typing function per public routine becomes the public routine.

The decorated function is written like a Numba ``@overload``: it receives the Numba types
of the arguments (``types.Omitted`` for defaults), validates them (raising
``TypingError`` with a message that names the problem; a parameter named ``comm`` is
checked by ``@api`` itself, first, for every routine) and returns how to compile the
call, either

* a :func:`lowering` body, run while Numba lowers the caller: the routine's code is
  emitted straight into the caller (see :mod:`mpi4numba._core.emit`), so a call site costs no
  compilation of functions of its own; or
* an implementation, a Python function compiled by Numba like an ``@overload``'s (for
  the paths where plain jitted code is the simpler way to say it).

The public routine is a Python function with the same signature, defaults and docstring.
In nopython code Numba types a call of it with the typing function (it carries its Numba
type in ``_numba_type_``); from Python it enters compiled code through a small njit
trampoline per argument count, whose compiled forms Numba keeps per argument types.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numba
import numpy as np
from numba.core import config, types
from numba.core.errors import NumbaPendingDeprecationWarning, TypingError
from numba.core.imputils import lower_builtin
from numba.core.typing.templates import AbstractTemplate, signature
from numba.extending import overload

from .._core import threads
from .lowering import Lowering, MPIEmitter
from .validate import communicator


class _Legacy(NamedTuple):
    function_type: types.Type
    signature: Any


# A routine called from Python runs this, generated per routine (Numba's messages about
# the call point at the second line):
#     def <routine>_entry(<the routine's parameters, with their defaults>):
#         return <routine>(<the arguments>)   # a TypingError here: the call's arguments
_ENTRY_LINE = inspect.currentframe().f_lineno - 2  # type: ignore[union-attr]


def _python_entry(name: str, target: Callable, parameters: list[inspect.Parameter]) -> Callable:
    """An njit function with the routine's parameters and defaults that calls ``target``:
    Python calls go through it, so defaults reach the typing function as omitted.

    It is cached on disk like any ``cache=True`` function, so a new process loads the
    entries it has used before instead of compiling them. Numba locates a cached function
    by its source file, so the generated code names this module's file; its name carries
    the ABI and the digest of mpi4numba's sources, so another MPI or version of mpi4numba
    uses cache files of its own.
    """
    from .._core.cachetag import CACHE_TAG

    params, cells = [], {"_target": target}
    for param in parameters:
        if param.default is inspect.Parameter.empty:
            params.append(param.name)
        else:
            cells[f"_default_{param.name}"] = param.default
            params.append(f"{param.name}=_default_{param.name}")
    names = ", ".join(p.name for p in parameters)
    tag = hashlib.blake2b(CACHE_TAG.encode(), digest_size=6).hexdigest()
    source = (
        f"def _make({', '.join(cells)}):\n"
        f"    def {name}_entry_{tag}({', '.join(params)}):\n"
        f"        return _target({names})\n"
        f"    return {name}_entry_{tag}\n"
    )
    tree = ast.parse(source)
    ast.increment_lineno(tree, _ENTRY_LINE - 2)  # errors show the entry's template (below)
    namespace: dict = {"__name__": __name__}  # cached code finds its environment by module
    exec(compile(tree, __file__, "exec"), namespace)
    entry = namespace["_make"](**cells)
    try:
        return numba.njit(cache=True)(entry)
    except RuntimeError:  # nowhere to cache (no writable directory): compile per process
        return numba.njit(entry)


def _refuse_python_objects(name: str, args: tuple, kwargs: dict) -> None:
    """Numba cannot type arrays of Python objects at all: say so in the routine's words."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise TypingError(
                f"mpi4numba.{name}: unsupported dtype {value.dtype} (arrays of Python objects "
                "cannot be sent: MPI moves bytes, not objects; mpi4py's lowercase methods pickle)"
            )


def _call_entry(name: str, entry: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        return entry(*args, **kwargs)
    except TypingError:
        _refuse_python_objects(name, args, kwargs)
        if not any(_is_char_array(value) for value in (*args, *kwargs.values())):
            raise
        convert = _char_arrays_as_bytes
    except ValueError as exc:
        if "empty list" not in str(exc):
            raise
        convert = _empty_lists_as_tuples
    return entry(*convert(args), **dict(zip(kwargs, convert(kwargs.values()))))


# Lists of requests from Python reach compiled code as Numba's reflected lists, which it
# plans to deprecate (for lists the callee changes: ours only read them); the warning
# would be the user's to see, and an error under ``python -We``.
warnings.filterwarnings(
    "ignore",
    r"(?s).*type 'reflected list' found for argument '\w+' of function "
    r"'_make\.<locals>\.\w+_entry_[0-9a-f]+'",
    NumbaPendingDeprecationWarning,
)

# NUMBA_DISABLE_JIT=1, as Numba read it at import
_DEBUG_MODE = bool(config.DISABLE_JIT)
_debug_lock = threading.Lock()
_debug_depth = 0


@contextmanager
def _jit_enabled() -> Iterator[None]:
    """Compiling allowed while a call from Numba's debugging mode (``NUMBA_DISABLE_JIT=1``)
    runs: the user's functions run as Python, but mpi4numba's routines only exist as
    compiled code (they call MPI's C functions); Numba reads the setting whenever it
    makes a dispatcher, so it is switched off for the call, and back once no call is in
    flight (calls from several threads overlap)."""
    global _debug_depth
    with _debug_lock:
        _debug_depth += 1
        config.DISABLE_JIT = False
    try:
        yield
    finally:
        with _debug_lock:
            _debug_depth -= 1
            if _debug_depth == 0:
                config.DISABLE_JIT = True


def _is_char_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.char == "c"


def _char_arrays_as_bytes(values) -> list:
    """NumPy's character arrays (dtype "c") are S1 arrays that Numba does not type: their
    S1 views (the same memory)."""
    return [value.view("S1") if _is_char_array(value) else value for value in values]


def _empty_lists_as_tuples(values) -> list:
    """Numba cannot type an empty list; as MPI sees it, it is no handles, like ()."""
    return [() if type(value) is list and not value else value for value in values]


def _default_type(context, value) -> types.Type:
    """The type of a default, as inside a jitted function: of its value (a literal where it
    can be), or the type the value names for itself as a constant (``Operator`` members)."""
    typer = getattr(value, "_numba_constant_type", None)
    return typer() if typer is not None else context.resolve_value_type_prefer_literal(value)


def _resolved(context, ty: types.Type) -> types.Type:
    return _default_type(context, ty.value) if isinstance(ty, types.Omitted) else ty


def api(typing_function: Callable) -> Callable:
    """Turn an overload-style typing function into a public routine (see module doc)."""
    name = typing_function.__name__
    pysig = inspect.signature(typing_function)
    parameters = list(pysig.parameters.values())
    decisions: dict[tuple, Lowering | _Legacy] = {}
    # a routine's ``comm`` is checked here, before its own checks: one check and one message
    # for every routine (its lowering would otherwise meet a wrong type with no routine named)
    comm_index = next((i for i, p in enumerate(parameters) if p.name == "comm"), None)

    def implementation_stub(*args):  # typed by the routine's implementations
        raise NotImplementedError

    implementation_stub.__name__ = implementation_stub.__qualname__ = f"_{name}_impl"
    overload(implementation_stub)(typing_function)

    entry: Callable | None = None

    def public(*args, **kwargs):
        nonlocal entry
        if _DEBUG_MODE:  # Numba's debugging mode: the bridge to C still compiles
            with _jit_enabled():
                if entry is None:
                    entry = _python_entry(name, public, parameters)
                return _call_entry(name, entry, args, kwargs)
        if entry is None:
            entry = _python_entry(name, public, parameters)
        return _call_entry(name, entry, args, kwargs)

    class Template(AbstractTemplate):
        key = public

        def generic(self, args, kws):
            try:
                bound = pysig.bind(*args, **kws)
            except TypeError as exc:
                raise TypingError(f"mpi4numba.{name}: {exc}") from None
            given_count = max((i + 1 for i, p in enumerate(parameters) if p.name in bound.arguments), default=0)
            given = tuple(
                bound.arguments[p.name] if p.name in bound.arguments else types.Omitted(p.default)
                for p in parameters[:given_count]
            )
            decision = decisions.get(given)
            if decision is None:
                # as inside a jitted function, a default has the type of its value
                full = tuple(_resolved(self.context, ty) for ty in given) + tuple(
                    _default_type(self.context, p.default) for p in parameters[given_count:]
                )
                try:
                    if comm_index is not None:
                        communicator(full[comm_index])
                    result = typing_function(*full)
                except TypingError as exc:  # shared checks say "mpi4numba: ...": name the routine
                    text = str(exc)
                    if not text.startswith("mpi4numba: "):
                        raise
                    raise TypingError(f"mpi4numba.{name}: {text[len('mpi4numba: ') :]}") from None
                if isinstance(result, Lowering):
                    decision = result
                else:
                    self.context.refresh()  # the stub's typing may have been registered since
                    stub_type = self.context.resolve_value_type(implementation_stub)
                    decision = _Legacy(stub_type, stub_type.get_call_type(self.context, full, {}))
                decisions[given] = decision
            restype = decision.restype if isinstance(decision, Lowering) else decision.signature.return_type
            return signature(restype, *given).replace(pysig=pysig.replace(parameters=parameters[:given_count]))

    public.__name__ = public.__qualname__ = name
    public.__module__ = typing_function.__module__
    public.__doc__ = typing_function.__doc__
    public.__signature__ = pysig  # type: ignore[attr-defined]
    public._numba_type_ = types.Function(Template)  # type: ignore[attr-defined]
    public.py_func = public  # type: ignore[attr-defined]  (numba-mpi's routines are dispatchers)

    @lower_builtin(public, types.VarArg(types.Any))
    def lower(context, builder, sig, args):
        decision = decisions[tuple(sig.args)]
        if isinstance(decision, _Legacy):
            stub_sig = decision.signature
            values = [
                context.get_constant_generic(builder, ty, p.default)
                if i >= len(args) or isinstance(sig.args[i], types.Omitted)
                else args[i]
                for i, (ty, p) in enumerate(zip(stub_sig.args, parameters))
            ]
            implementation = context.get_function(decision.function_type, stub_sig)
            result = implementation(builder, values)
            context.add_linking_libs(getattr(implementation, "libs", ()))
            return result
        e = MPIEmitter(context, builder, f"mpi4numba.{name}")
        values = [e.argument(ty, value) for ty, value in zip(sig.args, args)]
        values += [e.const(p.default) for p in parameters[len(values) :]]
        return threads.guarded(
            context, builder, name, sig.return_type, lambda: e.finish(decision.body(e, *values), sig.return_type)
        )

    return public
