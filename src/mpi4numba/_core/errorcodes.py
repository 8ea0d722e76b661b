"""MPI error codes of mpi4numba's own, each with its message: what a routine returns when
it refuses, at run time, arguments MPI must not see (``error_string(code)`` says why).

A code is made once per process with ``MPI_Add_error_code`` (in the error class it
belongs to) and ``MPI_Add_error_string``, when code that may return it is compiled or
loaded from Numba's cache (MPI runs then: this module imports the runtime). Compiled
code reads it by symbol name (``mpi4numba_error_codes``, exported by
:func:`register_codes`, re-run before cached code loads), never by address, so
``cache=True`` works. Where the library has no room for more codes, the bare error
class is returned.
"""

from __future__ import annotations

import os

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .cachetag import guard_cache
from .pending import SLOTS
from .runtime import ABI, LIBMPI, MPI

# name: (error class, message); a message has at most 255 characters (Open MPI's
# MPI_MAX_ERROR_STRING is 256), and the order of this table is the order of the words
CODES: dict[str, tuple[str, str]] = {
    "EMPTY_REQUEST": (
        "ERR_REQUEST",
        (
            "mpi4numba: an empty request array among the requests (one without a request: a "
            "non-blocking call refused by the thread check returns one); no request was "
            "completed, tested or started"
        ),
    ),
    "FREE_PENDING_TRANSFER": (
        "ERR_REQUEST",
        (
            "mpi4numba: request_free of a pending isend/irecv of a strided array through scratch, "
            "which is mpi4numba's until the request completes: complete it with wait or test "
            "(a receive may be cancelled first)"
        ),
    ),
    "FILE_CLOSED": (
        "ERR_FILE",
        "mpi4numba: the file is closed (file_close), or was never opened (file_open failed): no MPI call was made",
    ),
    "FILE_ENDED": (
        "ERR_IO",
        (
            "mpi4numba: the file ended before the read filled the array: fewer elements were read "
            "than it holds (the rest of the array is unchanged)"
        ),
    ),
    "NULL_PARTITIONED": (
        "ERR_REQUEST",
        (
            "mpi4numba: pready/parrived on a null request (MPI_REQUEST_NULL, or zeros): give them the "
            "request of a psend_init/precv_init"
        ),
    ),
    "PARTITIONED_PROC_NULL": (
        "ERR_RANK",
        (
            "mpi4numba: psend_init/precv_init to or from PROC_NULL is refused (MPICH 5.0 crashes on it): "
            "leave out the message instead"
        ),
    ),
    "TOO_MANY_PENDING": (
        "ERR_NO_MEM",
        (
            "mpi4numba: isend/issend of a number with every pending-transfer record of this "
            f"process taken ({SLOTS} sends of numbers and strided transfers pending): the value "
            "must live until the send completes; complete some requests first"
        ),
    ),
}

_SYMBOL = "mpi4numba_error_codes"
_CAPACITY = 128  # the table's words: CODES, then the routines declared with declare_missing
_made: dict[tuple[int, str], int] = {}


def _library_words() -> str:
    """The running library in a few words: its file and the first words of its version."""
    version = " ".join(MPI.Get_library_version().split())
    return f"{os.path.basename(LIBMPI)}, {version[:40]}"


def declare_missing(routine: str, since: str) -> str:
    """The name of the code that a call of ``routine`` (an MPI-``since`` routine) returns
    where the running library lacks it; declared once, in the order of the declarations
    (the same in every process: the C functions are declared on import)."""
    return _declare(
        f"MISSING {routine}", f"mpi4numba: {routine} (MPI-{since}) is not in this MPI library ({_library_words()})"
    )


def declare_refused(routine: str, why: str) -> str:
    """The name of the code that a call of ``routine`` returns where mpi4numba refuses it
    on this library (see :mod:`mpi4numba._core.refusals`); ``why`` completes the text."""
    return _declare(
        f"REFUSED {routine}", f"mpi4numba: {routine} is refused on this MPI library ({_library_words()}): {why}"
    )


def _declare(name: str, message: str) -> str:
    if name not in CODES:
        if len(CODES) >= _CAPACITY:
            raise RuntimeError("mpi4numba: more error codes than mpi4numba_error_codes holds")
        CODES[name] = ("ERR_UNSUPPORTED_OPERATION", message[:255])
    return name


def new_code(error_class: int, message: str) -> int:
    """A new error code of ``error_class`` whose ``error_string`` is ``message``, made once
    per process; the bare class where the library cannot make one that carries its text
    (no room for more codes, or MPICH 4.1, whose ``MPI_Add_error_code`` returns codes that
    ``MPI_Error_string`` reads as its own)."""
    key = (error_class, message)
    if key not in _made:
        try:
            code = MPI.Add_error_code(error_class)
            MPI.Add_error_string(code, message)
            if MPI.Get_error_string(code) != message or MPI.Get_error_class(code) != error_class:
                code = error_class
        except MPI.Exception:
            code = error_class
        _made[key] = code
    return _made[key]


def codes_carry_messages() -> bool:
    """Whether this library gives mpi4numba's own codes their messages (see :func:`new_code`)."""
    return new_code(MPI.ERR_OTHER, "mpi4numba: a code made to see whether codes carry messages") != MPI.ERR_OTHER


_WORDS = np.zeros(_CAPACITY, np.int64)  # 0: not made yet


def register_codes() -> None:
    """Export the codes to the JIT linker; once MPI runs, make the ones not made yet."""
    llvm.add_symbol(_SYMBOL, _WORDS.ctypes.data)
    if MPI.Is_finalized():
        return
    for index, (error_class, message) in enumerate(CODES.values()):
        if not _WORDS[index]:
            _WORDS[index] = new_code(getattr(MPI, error_class), message)


def load_code(context, builder, name: str) -> ir.Value:
    """Emit the load of code ``name`` (int32): the bare class until the code is made."""
    index = list(CODES).index(name)
    bare = ABI.ERROR_CLASSES[CODES[name][0]]
    register_codes()
    guard_cache(context, builder, register_codes)  # the bare class is the running ABI's
    module = builder.module
    table = module.globals.get(_SYMBOL)
    if table is None:
        table = ir.GlobalVariable(module, ir.ArrayType(ir.IntType(64), _CAPACITY), _SYMBOL)
    code = builder.load(builder.gep(table, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), index)]))
    made = builder.icmp_signed("!=", code, ir.Constant(code.type, 0))
    return builder.trunc(builder.select(made, code, ir.Constant(code.type, bare)), ir.IntType(32))


@intrinsic
def error_code(typingctx, name):
    """``error_code("EMPTY_REQUEST")``: the code (int32) of that refusal in this process."""
    if not isinstance(name, types.StringLiteral) or name.literal_value not in CODES:
        raise TypingError(f"error_code() needs the literal name of one of {sorted(CODES)}, got {name}")
    code_name = name.literal_value

    def codegen(context, builder, sig, args):
        return load_code(context, builder, code_name)

    return types.int32(name), codegen
