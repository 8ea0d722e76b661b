"""A clear error, instead of a crash, when a thread other than MPI's main one calls MPI
at thread level ``single`` or ``funneled``.

At those levels MPICH takes no locks: two prange threads inside MPI at once corrupt its
queues (segmentation faults, wrong data; see docs/guide/threads.md). Every guarded
routine (see :func:`guarded`) therefore starts with::

    if level < SERIALIZED and pthread_self() != main_thread and !MPI_Is_thread_main():
        write the message below to stderr (once per process), skip the call and
        return an error code of class ERR_OTHER whose error_string is that message

At ``serialized`` and ``multiple`` the check is one load and one compare of a word that
never changes (a branch always predicted). Below, the call site calls one out-of-line
helper per module (``mpi4numba_wrong_thread``: ``pthread_self`` against the thread
recorded at set-up, then ``MPI_Is_thread_main`` only if they differ, which is then
exact even if the recording missed); the refusal is another, cold, helper. Keeping them
out of line keeps each call site's IR, and so its compile time, small. Cost on the main
thread at ``funneled``: a few nanoseconds per call, against the 0.4 µs of the cheapest
real collective.

Numba's own thread id (``numba.get_thread_id()``) cannot tell the main thread: under the
``workqueue`` layer the first worker is 0 as well, and under ``omp`` the main thread runs
chunk 0 with id 0.

Nothing is detected at ``serialized`` (two threads calling at once): that needs an
atomic operation on every call at that level, and a routine that raises after taking
the ownership word would keep it forever; the documentation says so instead.

Compiled code finds the state by symbol name (``mpi4numba_thread_state``, exported by
:func:`register_state`, re-run before cached code loads), never by address, so
``cache=True`` works. Until MPI is initialised the state says ``multiple``: no check.

Wired in :func:`mpi4numba._support.api.api`'s lowering: every routine whose result is a status or
starts with one, except the local queries in ``UNGUARDED``.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types

from .cacheguard import mark
from .threadlevel import THREAD_LEVELS, provided_level

_SYMBOL = "mpi4numba_thread_state"
LEVEL, MAIN, CODE, WARNED, READY = range(5)
_STATE = np.zeros(8, np.int64)
_STATE[LEVEL] = 3  # multiple (levels are numbered 0-3 here, whatever the ABI's values): no check yet
_SERIALIZED = 2

# Local queries that touch no shared state, and routines whose integer result is a value
# (a rank, a size), not a status that could carry the error code: never guarded.
UNGUARDED = frozenset(
    {
        "rank",
        "size",
        "comm_rank",
        "comm_size",
        "initialized",
        "query_thread",
        "wtime",
        "error_class",
        "error_string",
        "request_array",
    }
)

# at most 255 characters (Open MPI's MPI_MAX_ERROR_STRING is 256)
MESSAGE = (
    "mpi4numba: MPI called from a thread other than MPI's main one at thread level single or "
    "funneled; the call was not made (prange loops that call MPI need "
    "MPI4NUMBA_THREAD_LEVEL=multiple)"
)


_i8, _i32, _i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)


def _pthread_self() -> int:
    libc = ctypes.CDLL(None)
    libc.pthread_self.restype = ctypes.c_ulong
    return int(np.uint64(libc.pthread_self()).astype(np.int64))


def register_state() -> None:
    """Export the state to the JIT linker; once MPI runs, fill it (level, main thread, code)."""
    llvm.add_symbol(_SYMBOL, _STATE.ctypes.data)
    if _STATE[READY]:
        return
    MPI = sys.modules.get("mpi4py.MPI")  # never import it here: that would start MPI
    if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
        return
    level = THREAD_LEVELS.index(provided_level(MPI))
    if level < _SERIALIZED:
        from .errorcodes import new_code  # MPI runs: importing the runtime starts nothing

        _STATE[CODE] = new_code(MPI.ERR_OTHER, MESSAGE)
        if MPI.Is_thread_main():
            _STATE[MAIN] = _pthread_self()
    _STATE[READY] = 1
    _STATE[LEVEL] = level  # last: a thread that sees the level sees the rest


def state() -> dict[str, int]:
    """The state compiled code reads (for tests and ``python -m mpi4numba info``)."""
    return {
        "level": int(_STATE[LEVEL]),
        "main_thread": int(_STATE[MAIN]),
        "code": int(_STATE[CODE]),
        "warned": int(_STATE[WARNED]),
        "ready": int(_STATE[READY]),
    }


def _word(builder: ir.IRBuilder, index: int) -> ir.Value:
    module = builder.module
    table = module.globals.get(_SYMBOL)
    if table is None:
        table = ir.GlobalVariable(module, ir.ArrayType(_i64, len(_STATE)), _SYMBOL)
    return builder.gep(table, [ir.Constant(_i32, 0), ir.Constant(_i32, index)])


def _function(builder: ir.IRBuilder, name: str, restype: ir.Type, argtypes: list) -> ir.Function:
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(restype, argtypes), name)


def _message(builder: ir.IRBuilder) -> tuple[ir.Value, int]:
    text = (MESSAGE + "\n").encode()
    module = builder.module
    name = "mpi4numba_thread_message"
    variable = module.globals.get(name)
    if variable is None:
        variable = ir.GlobalVariable(module, ir.ArrayType(_i8, len(text)), name)
        variable.initializer = ir.Constant(ir.ArrayType(_i8, len(text)), bytearray(text))
        variable.global_constant = True
        variable.linkage = "internal"
    return builder.bitcast(variable, _i8.as_pointer()), len(text)


def _error_value(context, builder: ir.IRBuilder, restype: types.Type, code: ir.Value) -> ir.Value:
    if isinstance(restype, types.Integer):
        return context.cast(builder, code, types.int64, restype)
    first, *rest = restype.types
    parts = [context.cast(builder, code, types.int64, first)] + [context.get_constant_null(ty) for ty in rest]
    return context.make_tuple(builder, restype, parts)


def _guardable(name: str, restype: types.Type) -> bool:
    if name in UNGUARDED:
        return False
    if isinstance(restype, types.Integer):
        return True
    return isinstance(restype, types.BaseTuple) and len(restype) > 0 and isinstance(restype.types[0], types.Integer)


def _out_of_line(builder: ir.IRBuilder, name: str, restype: ir.Type) -> tuple[ir.Function, ir.IRBuilder | None]:
    """A helper function of the module (one ``linkonce_odr`` copy kept by the linker): a call
    site then holds one call, and the module is optimised once for it. Returns the
    function and, the first time, a builder for its body."""
    function = _function(builder, name, restype, [])
    if not function.is_declaration:
        return function, None
    function.linkage = "linkonce_odr"
    function.attributes.add("noinline")
    return function, ir.IRBuilder(function.append_basic_block("entry"))


def _wrong_thread_function(builder: ir.IRBuilder) -> ir.Function:
    """``bool mpi4numba_wrong_thread(void)``: not MPI's main thread (level below serialized)."""
    function, body = _out_of_line(builder, "mpi4numba_wrong_thread", ir.IntType(1))
    if body is None:
        return function
    me = body.call(_function(body, "pthread_self", _i64, []), [])
    on_main = body.icmp_unsigned("==", me, body.load(_word(body, MAIN)))
    with body.if_then(on_main, likely=True):
        body.ret(cgutils.false_bit)
    flag = cgutils.alloca_once_value(body, _i32(0))
    code = body.call(_function(body, "MPI_Is_thread_main", _i32, [_i32.as_pointer()]), [flag])
    body.ret(body.and_(body.icmp_signed("==", code, _i32(0)), body.icmp_signed("==", body.load(flag), _i32(0))))
    return function


def _refusal_function(builder: ir.IRBuilder) -> ir.Function:
    """``int64 mpi4numba_thread_refusal(void)``: say why once per process; the error code."""
    function, body = _out_of_line(builder, "mpi4numba_thread_refusal", _i64)
    if body is None:
        return function
    function.attributes.add("cold")
    warned = _word(body, WARNED)
    with body.if_then(body.icmp_signed("==", body.load(warned), _i64(0))):
        body.store(_i64(1), warned)
        text, length = _message(body)
        write = _function(body, "write", _i64, [_i32, _i8.as_pointer(), _i64])
        body.call(write, [_i32(2), text, _i64(length)])
    body.ret(body.load(_word(body, CODE)))
    return function


def guarded(context, builder: ir.IRBuilder, name: str, restype: types.Type, emit: Callable[[], ir.Value]) -> ir.Value:
    """Emit a routine (``emit()``) behind the thread check; its value, or the error value."""
    if not _guardable(name, restype):
        return emit()
    register_state()  # fills the state once MPI runs (this process compiles, so MPI runs)
    mark(context, builder, register_state)
    below_serialized = builder.icmp_signed("<", builder.load(_word(builder, LEVEL)), _i64(_SERIALIZED))
    wrong_thread = cgutils.alloca_once_value(builder, cgutils.false_bit)
    with builder.if_then(below_serialized, likely=False):
        builder.store(builder.call(_wrong_thread_function(builder), []), wrong_thread)
    with builder.if_else(builder.load(wrong_thread), likely=False) as (refuse, call):
        with refuse:
            refused = _error_value(context, builder, restype, builder.call(_refusal_function(builder), []))
            refused_block = builder.basic_block
        with call:
            value = emit()
            call_block = builder.basic_block
    result = builder.phi(value.type)
    result.add_incoming(refused, refused_block)
    result.add_incoming(value, call_block)
    return result


register_state()
