"""How an MPI handle is represented: in Numba code, in memory, and in the C calls.

The one place that knows a handle's width (``int`` on the MPICH ABI, a pointer on Open
MPI's and the MPI-5 standard ABI): everything else uses these names.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.np.numpy_support import from_dtype

from .runtime import ABI

HANDLE = types.intp  # how a handle travels through Numba code, whatever its C width
# a native handle in memory (arrays of requests, windows, datatypes passed to MPI)
HANDLE_DTYPE = np.dtype(np.uintp) if ABI.HANDLE_IS_POINTER else np.dtype(np.int32)
REQUEST_ARRAY = types.Array(from_dtype(HANDLE_DTYPE), 1, "C")  # the type of a new request array

_i32 = ir.IntType(32)
_i64 = ir.IntType(64)
_voidptr = ir.IntType(8).as_pointer()
NATIVE_HANDLE = _voidptr if ABI.HANDLE_IS_POINTER else _i32  # the C type of a handle, in LLVM IR


def handle_to_native(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """Narrow an ``intp`` handle to the ABI's C type (``int`` or a pointer)."""
    if ABI.HANDLE_IS_POINTER:
        return builder.inttoptr(value, _voidptr)
    return builder.trunc(value, _i32)


def handle_from_native(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """Widen a C handle to ``intp`` (sign-extended, the bit pattern mpi4py's handles have)."""
    if ABI.HANDLE_IS_POINTER:
        return builder.ptrtoint(value, _i64)
    return builder.sext(value, _i64)


def predefined_native(builder: ir.IRBuilder, name: str) -> ir.Value:
    """A predefined handle (``COMM_WORLD``, ``DOUBLE``, ``SUM`` ...) in the ABI's C type.

    MPICH-ABI handles are integer constants of the ABI, the standard ABI's are integer
    constants used as pointers; Open MPI handles are addresses of global objects, referenced
    here by symbol name and resolved when the code is loaded.
    """
    spec = ABI.HANDLES[name]
    if isinstance(spec, int):
        return ir.Constant(_i64, spec).inttoptr(_voidptr) if ABI.HANDLE_IS_POINTER else ir.Constant(_i32, spec)
    module = builder.module
    gv = module.globals.get(spec)
    if gv is None:
        gv = ir.GlobalVariable(module, ir.IntType(8), spec)
    return builder.bitcast(gv, _voidptr)
