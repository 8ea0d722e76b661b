"""The Numba type of a communicator, shared with mpi4py's ``MPI.Comm`` objects.

A communicator in compiled code is ``{meminfo, handle}``:

* predefined communicators (``COMM_WORLD``, ``COMM_SELF``, ``COMM_NULL``) carry their
  handle and no meminfo; as globals they are materialised by symbol name (cache-safe);
* any other communicator points (through a meminfo) at one shared cell that holds its
  handle: the handle field of the mpi4py object it came from, or a cell allocated by
  ``comm_dup``/``comm_split``. ``comm_free`` writes ``MPI_COMM_NULL`` into that cell, so a
  freed communicator is seen as freed everywhere it is shared and later calls fail with
  ``MPI_ERR_COMM`` instead of touching freed memory.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.core.imputils import lower_constant
from numba.extending import (
    NativeValue,
    box,
    intrinsic,
    make_attribute_wrapper,
    models,
    register_model,
    typeof_impl,
    unbox,
)

from .cachetag import guard_cache
from .handles import HANDLE, NATIVE_HANDLE, handle_from_native, handle_to_native, predefined_native
from .runtime import ABI, MPI


class CommType(types.Type):
    """Numba type of an MPI communicator."""

    def __init__(self) -> None:
        super().__init__(name="mpi4numba.Comm")


comm_type = CommType()
_meminfo_type = types.MemInfoPointer(types.voidptr)


@register_model(CommType)
class _CommModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("meminfo", _meminfo_type), ("handle", HANDLE)])


make_attribute_wrapper(CommType, "handle", "_handle")


def _predefined_name(comm) -> str | None:
    for name in ("COMM_WORLD", "COMM_SELF", "COMM_NULL"):
        if MPI._handleof(comm) == MPI._handleof(getattr(MPI, name)):
            return name
    return None


@typeof_impl.register(MPI.Comm)
def _typeof_comm(value, context):
    return comm_type


def _handle_offset() -> int:
    """Where an mpi4py communicator object holds its handle, from the object's address: one
    C struct for every class (checked here; ``_addressof`` is the address of that field)."""
    samples = (MPI.COMM_WORLD, MPI.COMM_SELF, MPI.COMM_NULL, MPI.Comm(), MPI.Cartcomm(), MPI.Intercomm())
    offsets = {MPI._addressof(comm) - id(comm) for comm in samples}
    if len(offsets) != 1:
        raise RuntimeError(f"mpi4numba: mpi4py's communicator objects differ in layout ({sorted(offsets)})")
    return offsets.pop()


# The offset, read by compiled code through a symbol of this process (never a constant in
# code that may be cached and loaded under another build of mpi4py)
_HANDLE_OFFSET = ctypes.c_int64(_handle_offset())
_OFFSET_SYMBOL = "mpi4numba_comm_handle_offset"
llvm.add_symbol(_OFFSET_SYMBOL, ctypes.addressof(_HANDLE_OFFSET))


def _box(handle: int):
    handle &= 0xFFFF_FFFF_FFFF_FFFF  # mpi4py handles are unsigned
    for name in ("COMM_WORLD", "COMM_SELF", "COMM_NULL"):
        if handle == MPI._handleof(getattr(MPI, name)):
            return getattr(MPI, name)
    return MPI.Intracomm.fromhandle(handle)


@unbox(CommType)
def _unbox_comm(typ, obj, c):
    """An mpi4py communicator from Python, read in compiled code (no Python call): its
    handle, and unless it is a predefined one, a meminfo that keeps the object alive and
    points at the handle's cell in it (``comm_free`` and ``Free()`` write there)."""
    builder = c.builder
    guard_cache(c.context, builder)
    i64 = ir.IntType(64)
    offset = builder.module.globals.get(_OFFSET_SYMBOL)
    if offset is None:
        offset = ir.GlobalVariable(builder.module, i64, _OFFSET_SYMBOL)
    cell = builder.gep(builder.bitcast(obj, cgutils.voidptr_t), [builder.load(offset)])
    handle = handle_from_native(builder, builder.load(builder.bitcast(cell, NATIVE_HANDLE.as_pointer())))
    comm = cgutils.create_struct_proxy(typ)(c.context, builder)
    comm.handle = handle
    predefined = [
        builder.icmp_signed("==", handle, handle_from_native(builder, predefined_native(builder, name)))
        for name in ("COMM_WORLD", "COMM_SELF", "COMM_NULL")
    ]
    with builder.if_then(builder.not_(builder.or_(builder.or_(*predefined[:2]), predefined[2]))):
        comm.meminfo = c.pyapi.nrt_meminfo_new_from_pyobject(cell, obj)
    return NativeValue(comm._getvalue())


@box(CommType)
def _box_comm(typ, val, c):
    handle = _load_handle(c.context, c.builder, val)
    helper = c.pyapi.unserialize(c.pyapi.serialize_object(_box))
    pyhandle = c.pyapi.long_from_longlong(handle)
    result = c.pyapi.call_function_objargs(helper, [pyhandle])
    c.pyapi.decref(pyhandle)
    c.context.nrt.decref(c.builder, typ, val)
    return result


_CONSTANTS: list = []  # communicators compiled into code as constants


@lower_constant(CommType)
def _constant_comm(context, builder, ty, pyval):
    comm = cgutils.create_struct_proxy(ty)(context, builder)
    name = _predefined_name(pyval)
    if name is not None:
        guard_cache(context, builder)
        comm.handle = handle_from_native(builder, predefined_native(builder, name))
    else:
        # A communicator created at run time (Numba then marks the function as not
        # cacheable): its handle is read from the mpi4py object at each use, so a
        # communicator freed since (Free() or comm_free) is seen as COMM_NULL, and the
        # object is kept alive for as long as the code may run.
        _CONSTANTS.append(pyval)
        cell = context.add_dynamic_addr(builder, MPI._addressof(pyval), info=f"communicator {pyval!r}")
        comm.handle = handle_from_native(builder, builder.load(builder.bitcast(cell, NATIVE_HANDLE.as_pointer())))
    return comm._getvalue()


def _load_handle(context, builder, value):
    comm = cgutils.create_struct_proxy(comm_type)(context, builder, value=value)
    meminfo = comm.meminfo
    result = cgutils.alloca_once_value(builder, comm.handle)
    with builder.if_then(cgutils.is_not_null(builder, meminfo)):
        data = context.nrt.meminfo_data(builder, meminfo)
        cell = builder.bitcast(data, NATIVE_HANDLE.as_pointer())
        builder.store(handle_from_native(builder, builder.load(cell)), result)
    return builder.load(result)


@intrinsic
def comm_handle(typingctx, comm):
    """The handle of a communicator (``None`` means ``COMM_WORLD``; an integer is a handle)."""
    if isinstance(comm, (types.NoneType, types.Omitted)):

        def codegen(context, builder, sig, args):
            guard_cache(context, builder)
            return handle_from_native(builder, predefined_native(builder, "COMM_WORLD"))

    elif isinstance(comm, CommType):

        def codegen(context, builder, sig, args):
            return _load_handle(context, builder, args[0])

    elif isinstance(comm, types.Integer):

        def codegen(context, builder, sig, args):
            return context.cast(builder, args[0], sig.args[0], HANDLE)

    else:
        raise TypingError(f"comm must be a communicator (mpi4py MPI.Comm or mpi4numba) or None, got {comm}")
    return HANDLE(comm), codegen


@intrinsic
def new_comm(typingctx, handle):
    """A communicator with its own shared cell, holding ``handle`` (from dup/split)."""

    def codegen(context, builder, sig, args):
        comm = cgutils.create_struct_proxy(comm_type)(context, builder)
        native = handle_to_native(builder, args[0])
        meminfo = context.nrt.meminfo_alloc(builder, context.get_constant(types.uintp, ABI.HANDLE_BYTES))
        data = context.nrt.meminfo_data(builder, meminfo)
        builder.store(native, builder.bitcast(data, native.type.as_pointer()))
        comm.meminfo = meminfo
        comm.handle = args[0]
        return comm._getvalue()

    if not isinstance(handle, types.Integer):
        raise TypingError(f"new_comm() takes a handle, got {handle}")
    return comm_type(handle), codegen


@intrinsic
def store_comm_handle(typingctx, comm, handle):
    """Write ``handle`` into the communicator's shared cell (no-op without one)."""
    if not isinstance(comm, CommType):
        return types.none(comm, handle), lambda context, builder, sig, args: context.get_dummy_value()

    def codegen(context, builder, sig, args):
        proxy = cgutils.create_struct_proxy(comm_type)(context, builder, value=args[0])
        with builder.if_then(cgutils.is_not_null(builder, proxy.meminfo)):
            native = handle_to_native(builder, args[1])
            data = context.nrt.meminfo_data(builder, proxy.meminfo)
            builder.store(native, builder.bitcast(data, native.type.as_pointer()))
        return context.get_dummy_value()

    return types.none(comm, handle), codegen


@intrinsic
def comm_cell(typingctx, comm):
    """The address (intp) of a communicator's shared cell, where MPI may write its handle
    later (``MPI_Comm_idup`` names the new communicator when its request completes)."""
    if not isinstance(comm, CommType):
        raise TypingError(f"comm_cell() takes an mpi4numba communicator, got {comm}")

    def codegen(context, builder, sig, args):
        proxy = cgutils.create_struct_proxy(comm_type)(context, builder, value=args[0])
        return builder.ptrtoint(context.nrt.meminfo_data(builder, proxy.meminfo), ir.IntType(64))

    return types.intp(comm), codegen
