"""``@api``: one typing function per public routine becomes the public routine.

The decorated function is written like a Numba ``@overload``: it receives the Numba types
of the arguments (``types.Omitted`` for defaults), validates them (raising
``TypingError`` with a message that names the problem; a parameter named ``comm`` is
checked by ``@api`` itself, first, for every routine) and returns how to compile the
call, either

* the Numba type of the result: the routine's body, attached right below it with
  :func:`lowers`, emits the call while Numba lowers the caller. The routine's code is
  emitted straight into the caller (see :mod:`mpi4numba._core.emit`), so a call site costs
  no compilation of functions of its own (a body that also depends on the types
  branches on them, in Python, when it runs)::

      @api
      def send(data, dest, tag=0, comm=None):
          send_data(data, "data")  # after the docstring: the checks of the types
          return types.int32

      @lowers(send)
      def _send(e, data, dest, tag, comm):
          buf = e.send_buffer(data)
          ...

* an implementation, a Python function compiled by Numba like an ``@overload``'s (for
  the paths where plain jitted code is the simpler way to say it).

The public routine is a Python function with the same signature, defaults and docstring.
In nopython code Numba types a call of it with the typing function (it carries its Numba
type in ``_numba_type_``); from Python it enters compiled code through a small njit
trampoline per argument count, whose compiled forms Numba keeps per argument types.
After a call's first time, later calls with arguments of the same kinds skip Numba's
dispatcher: see :class:`_Learnt`.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numba
import numpy as np
from numba.core import config, types
from numba.core.dispatcher import OmittedArg
from numba.core.errors import NumbaPendingDeprecationWarning, TypingError
from numba.core.imputils import lower_builtin
from numba.core.typing.templates import AbstractTemplate, signature
from numba.core.typing.typeof import Purpose, typeof, typeof_impl
from numba.extending import overload

from .._core import threads
from .._core.runtime import MPI
from .lowering import Lowering, MPIEmitter
from .operators import Operator
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
    entries it has used before instead of compiling them. It releases the GIL while the
    routine runs (``nogil``), as mpi4py does in its MPI calls: a blocking call from one
    Python thread does not stop the others (one of which may send what it waits for). Numba locates a cached function
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
        return numba.njit(cache=True, nogil=True)(entry)
    except RuntimeError:  # nowhere to cache (no writable directory): compile per process
        return numba.njit(nogil=True)(entry)


# --- calls from Python: the fast path ---
#
# Numba's dispatcher types every argument of every call, and its slow path types omitted
# defaults and keywords in Python: a few microseconds per call. Once a call has run, the
# CPython wrapper of the compiled form it used (``overloads[signature].entry_point``,
# which unboxes its arguments as the types of its signature, without typing them) is kept
# under a key computed from the arguments in a few attribute reads, and later calls with
# the same key call it directly. A key must therefore determine Numba's type of every
# argument exactly; an argument of which it cannot say that gives no key (``None`` in
# it), and the call goes through the dispatcher as before.

_INT64_END = 1 << 63
# types whose values all have one Numba type (int: by its range, in the key); communicator
# and status types join when first seen (see ``_by_type_alone``)
_BY_TYPE: set[type] = {bool, float, complex, type(None), Operator, type(MPI.IN_PLACE)}
_BY_TYPE.update(np.dtype(code).type for code in "?bBhHiIlLqQfdFD")
# Numba's typeof functions that give every value they are given one type
_TYPE_ALONE = frozenset(typeof_impl.dispatch(t) for t in (MPI.Comm, MPI.Status, type(MPI.IN_PLACE)))
# NumPy's own dtype objects of the numeric types (every array of them has one of these) ...
_NUMPY_DTYPES = frozenset(id(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG")
_MAX_KEYS = 64  # ... and per routine, at most this many keys naming others (S<n>, c: new ones per array)


def _by_type_alone(kind: type) -> bool:
    """Whether Numba types every value of ``kind`` alike (mpi4py communicators, statuses)."""
    alone = typeof_impl.dispatch(kind) in _TYPE_ALONE and not hasattr(kind, "_numba_type_")
    if alone:
        _BY_TYPE.add(kind)
    return alone


def _key_of(value: Any) -> Any:
    """What determines the Numba type of an argument, or ``None`` when that is not sure.

    An array's is its dtype object (by identity: the table of keys keeps it alive, and an
    equal dtype, such as ``c`` and ``S1``, may not be typed alike), its number of
    dimensions and its flags (Numba's layout is C, else F, else A, and read-only arrays
    have types of their own); a scalar's or communicator's is its type (an ``int``'s when
    it is in int64's range, as the dispatcher types ints); a tuple's its items'; a
    list's its first item's (Numba types a list by it and checks the others against it).
    The generated routines compute the first cases inline (``_INLINE_KEY``)."""
    kind = type(value)
    if kind is np.ndarray:
        return (id(value.dtype), value.ndim, value.flags.num)
    if kind is int:
        return int if -_INT64_END <= value < _INT64_END else None
    if kind in _BY_TYPE:
        return kind
    if kind is tuple:
        if len(value) == 2 and type(first := value[0]) is type(second := value[1]) is np.ndarray:
            # two arrays (waitall((send, recv))): inline, no loop
            return (
                "(",
                (id(first.dtype), first.ndim, first.flags.num),
                (id(second.dtype), second.ndim, second.flags.num),
            )
        items = tuple(map(_key_of, value))
        return None if None in items else ("(", *items)
    if kind is list:
        first = _key_of(value[0]) if value else None
        return None if first is None else ("[", first)
    return kind if _by_type_alone(kind) else None


# the key of parameter {v}, inline: arrays and values typed by their type without a call
_INLINE_KEY = (
    "((_id({v}.dtype), {v}.ndim, {v}.flags.num) if (_t := type({v})) is _ndarray "
    "else _t if (_t is int and -_INT64_END <= {v} < _INT64_END) or _t in _BY_TYPE else _key_of({v}))"
)


def _dtypes_of(value: Any) -> list:
    """The dtype objects of the arrays in an argument (a key names them by identity)."""
    if type(value) is np.ndarray:
        return [value.dtype]
    if type(value) in (tuple, list):
        return [dtype for item in value for dtype in _dtypes_of(item)]
    return []


class _Learnt:
    """A routine's compiled wrappers by key, filled after calls that the dispatcher served.

    A key whose call the dispatcher served with no compiled form of exactly its
    arguments' types (it converted an argument, or the arguments were converted first:
    character arrays) stays with the dispatcher."""

    def __init__(self) -> None:
        self.wrappers: dict = {}
        self.signatures: dict = {}  # the argument types of each key's wrapper (for tests)
        self.refused: set = set()
        self.pinned: list = []  # the dtype objects the keys name by identity
        self.others = 0  # keys naming dtype objects other than NumPy's own (S<n>, c: new ones per array)

    def learn(self, entry: Any, key: tuple, values: tuple) -> None:
        if None in key or key in self.refused:
            return
        dtypes = [dtype for value in values for dtype in _dtypes_of(value)]
        if any(id(dtype) not in _NUMPY_DTYPES for dtype in dtypes):
            if self.others >= _MAX_KEYS:  # those beyond stay with the dispatcher
                return
            self.others += 1
        try:
            argtypes = tuple(typeof(value, Purpose.argument) for value in values)
        except Exception:  # the dispatcher typed it otherwise: leave the key to it
            argtypes = None
        compiled = entry.overloads.get(argtypes) if argtypes is not None else None
        if compiled is None:
            self.refused.add(key)
            return
        self.pinned.extend(dtypes)
        self.signatures[key] = argtypes
        self.wrappers[key] = compiled.entry_point  # pinned first: the key names them


@functools.cache
def _routine_maker(count: int) -> Callable:
    """``_make(**cells)`` for routines of ``count`` parameters (named ``p0``, ``p1`` ... here:
    see ``_python_routine``), compiled once per count. Every parameter's key is ``0`` when
    it is the routine's placeholder ``_omitted_<i>`` (a required one's is ``_REQUIRED``,
    which no call passes)."""
    keys = [f"(0 if p{i} is _omitted_{i} else {_INLINE_KEY.format(v=f'p{i}')})" for i in range(count)]
    names = ", ".join(f"p{i}" for i in range(count))
    cells = [*_ROUTINE_CELLS, *(f"_omitted_{i}" for i in range(count))]
    source = (
        f"def _make({', '.join(cells)}):\n"
        f"    def routine({names}):\n"
        f"        _key = ({''.join(k + ', ' for k in keys)})\n"
        f"        _wrapper = _wrappers.get(_key)\n"
        f"        if _wrapper is not None:\n"
        f"            return _wrapper({names})\n"
        f"        return _dispatched(_key, {names})\n"
        f"    return routine\n"
    )
    namespace: dict = {}
    exec(compile(source, f"<mpi4numba routine of {count} parameters>", "exec"), namespace)
    return namespace["_make"]


_ROUTINE_CELLS = ("_wrappers", "_dispatched", "_ndarray", "_id", "_BY_TYPE", "_INT64_END", "_key_of")
_REQUIRED = object()  # the placeholder of a required parameter: never an argument


def _python_routine(name: str, parameters: list[inspect.Parameter], learnt: _Learnt, dispatched: Callable) -> Callable:
    """The public routine: a Python function with the routine's parameters whose defaults
    are the dispatcher's placeholders for omitted arguments (``OmittedArg``), so that a
    call binds keywords and defaults as any Python call does, then calls the learnt
    wrapper for its key, or ``dispatched(key, *arguments)``.

    Its code is that of its number of parameters (``_routine_maker``) with the parameters
    renamed (a function's code refers to its parameters by position, keywords find them
    by name) and its defaults set."""
    required = sum(param.default is inspect.Parameter.empty for param in parameters)
    if any(param.default is inspect.Parameter.empty for param in parameters[required:]):
        raise ValueError(f"mpi4numba.{name}: a parameter without a default after one with")
    if any(param.name.startswith("_") for param in parameters):  # the generated code's own names
        raise ValueError(f"mpi4numba.{name}: a parameter name starts with an underscore")
    omitted = [_REQUIRED if i < required else OmittedArg(p.default) for i, p in enumerate(parameters)]
    cells = dict(zip(_ROUTINE_CELLS, (learnt.wrappers, dispatched, np.ndarray, id, _BY_TYPE, _INT64_END, _key_of)))
    cells.update((f"_omitted_{i}", placeholder) for i, placeholder in enumerate(omitted))
    routine = _routine_maker(len(parameters))(**cells)
    code = routine.__code__
    names = tuple(param.name for param in parameters)
    routine.__code__ = code.replace(co_name=name, co_varnames=names + code.co_varnames[len(names) :], **_qualname(name))
    routine.__defaults__ = tuple(omitted[required:]) or None
    return routine


def _qualname(name: str) -> dict[str, str]:
    return {"co_qualname": name} if sys.version_info >= (3, 11) else {}


def _on_a_device(value: Any) -> bool:
    """Whether ``value`` is an array in GPU memory (CUDA's array interface, or DLPack's
    device other than the CPU)."""
    if isinstance(value, np.ndarray):
        return False
    if hasattr(value, "__cuda_array_interface__"):
        return True
    try:
        return value.__dlpack_device__()[0] != 1  # kDLCPU
    except Exception:
        return False


def _refuse_python_objects(name: str, values: tuple) -> None:
    """Numba cannot type arrays of Python objects or GPU arrays at all: say so in the
    routine's words."""
    for value in values:
        if isinstance(value, np.ndarray) and value.dtype.hasobject:
            raise TypingError(
                f"mpi4numba.{name}: unsupported dtype {value.dtype} (arrays of Python objects "
                "cannot be sent: MPI moves bytes, not objects; mpi4py's lowercase methods pickle)"
            )
        if _on_a_device(value):
            raise TypingError(
                f"mpi4numba.{name}: {type(value).__name__} is a device (GPU) array; mpi4numba takes "
                "NumPy arrays in host memory: copy it to the host (copy_to_host(), cupy.asnumpy), or "
                "pass it to mpi4py, which hands device buffers to a CUDA-aware MPI"
            )


def _call_entry(name: str, entry: Callable, values: tuple) -> Any:
    """Call the entry with every argument (omitted ones as the dispatcher's placeholders)."""
    try:
        return entry(*values)
    except TypingError:
        _refuse_python_objects(name, values)
        if not any(_is_char_array(value) for value in values):
            raise
        convert = _char_arrays_as_bytes
    except ValueError as exc:
        if "empty list" not in str(exc):
            raise
        convert = _empty_lists_as_tuples
    return entry(*convert(values))


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


def lowers(routine: Callable) -> Callable[[Callable], Callable]:
    """Attach ``body(e, <the routine's parameters, by name>)`` to a routine whose typing
    function returns a result type: the code emitted for a call, with the arguments as
    :class:`~mpi4numba._core.emit.Value` objects (an omitted one: its default, a constant).
    The parameters are checked here, on import: a body cannot take them in another order.
    Keyword-only parameters of the body (with defaults) are for other routines that share
    it: a persistent collective calls the body of the non-blocking one with ``persistent=True``."""

    def attach(body: Callable) -> Callable:
        expected = ["e", *inspect.signature(routine).parameters]
        taken = [
            name
            for name, parameter in inspect.signature(body).parameters.items()
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY
        ]
        if taken != expected:
            raise TypeError(f"{body.__qualname__} must take ({', '.join(expected)}), not ({', '.join(taken)})")
        if routine._body_ is not None:  # type: ignore[attr-defined]
            raise TypeError(f"mpi4numba.{routine.__name__} has a body already")
        routine._body_ = body  # type: ignore[attr-defined]
        return body

    return attach


def api(typing_function: Callable) -> Callable:
    """Turn an overload-style typing function into a public routine (see module doc)."""
    name = typing_function.__name__
    pysig = inspect.signature(typing_function)
    parameters = list(pysig.parameters.values())
    decisions: dict[tuple, Lowering | _Legacy] = {}  # by the argument types of a call
    # a routine's ``comm`` is checked here, before its own checks: one check and one message
    # for every routine (its lowering would otherwise meet a wrong type with no routine named)
    comm_index = next((i for i, p in enumerate(parameters) if p.name == "comm"), None)

    def implementation_stub(*args):  # typed by the routine's implementations
        raise NotImplementedError

    implementation_stub.__name__ = implementation_stub.__qualname__ = f"_{name}_impl"
    overload(implementation_stub)(typing_function)

    entry: Callable | None = None
    learnt = _Learnt()

    def dispatched(key: tuple, *values: Any) -> Any:
        """A call through Numba's dispatcher (compiling if need be), then learnt."""
        nonlocal entry
        if _DEBUG_MODE:  # Numba's debugging mode: the bridge to C still compiles
            with _jit_enabled():
                if entry is None:
                    entry = _python_entry(name, public, parameters)
                result = _call_entry(name, entry, values)
        else:
            if entry is None:
                entry = _python_entry(name, public, parameters)
            result = _call_entry(name, entry, values)
        learnt.learn(entry, key, values)
        return result

    public = _python_routine(name, parameters, learnt, dispatched)

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
                if isinstance(result, types.Type):
                    if public._body_ is None:  # type: ignore[attr-defined]
                        raise TypingError(f"mpi4numba.{name}: no body: write it with @lowers({name})")
                    decision = Lowering(result, public._body_)  # type: ignore[attr-defined]
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
    public._learnt_ = learnt  # type: ignore[attr-defined]
    public._body_ = None  # type: ignore[attr-defined]  (set by @lowers)
    public._typing_ = typing_function  # type: ignore[attr-defined]  (a routine with the same checks calls it)

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


def persistent_form(nonblocking: Callable, body: Callable, doc: str, check: Callable | None = None) -> Callable:
    """The MPI-4 persistent form of a non-blocking collective (``ibcast`` -> ``bcast_init``):
    a routine with its parameters and checks (after ``check(*arguments)``, if given), whose
    lowering is ``body(e, ..., persistent=True)``, the non-blocking form's own body."""
    name = nonblocking.__name__[1:] + "_init"
    signature = inspect.signature(nonblocking)

    def typing_function(*arguments):
        if check is not None:
            check(*arguments)
        return nonblocking._typing_(*arguments)  # type: ignore[attr-defined]

    typing_function.__name__ = typing_function.__qualname__ = name
    typing_function.__module__ = nonblocking.__module__
    typing_function.__doc__ = doc
    typing_function.__signature__ = signature  # type: ignore[attr-defined]
    routine = api(typing_function)

    def lowering(e, *arguments):
        return body(e, *arguments, persistent=True)

    lowering.__qualname__ = f"_{name}"
    e_parameter = inspect.Parameter("e", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    lowering.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[e_parameter, *(p.replace(default=inspect.Parameter.empty) for p in signature.parameters.values())]
    )
    lowers(routine)(lowering)
    return routine
