"""Arrays that compiled code makes for an MPI call without Numba's ``np.*`` (whose
implementations are functions of their own to compile): C ints on the caller's stack,
zero-filled arrays, arrays over memory managed elsewhere."""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

# Up to this many C ints are converted on the stack (no heap allocation on hot paths).
STACK_INTS = 16
_INT32_ARRAY = types.Array(types.int32, 1, "C")


def _array_value(context, builder, array_type, count, data, meminfo):
    """A 1-D C-contiguous array of ``count`` elements at ``data``, owned by ``meminfo`` (may be null)."""
    array = make_array(array_type)(context, builder)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(array_type.dtype)))
    populate_array(array, data=data, shape=[count], strides=[itemsize], itemsize=itemsize, meminfo=meminfo)
    return array._getvalue()


@intrinsic
def int32_scratch(typingctx, count):
    """C ints for one MPI call: ``count`` of them on the caller's stack (an array without a
    meminfo) when at most ``STACK_INTS``, else on the heap."""
    if not isinstance(count, types.Integer):
        raise TypingError(f"int32_scratch() takes a count, got {count}")

    def codegen(context, builder, sig, args):
        count = context.cast(builder, args[0], sig.args[0], types.intp)
        i32 = ir.IntType(32)
        stack = cgutils.alloca_once(builder, ir.ArrayType(i32, STACK_INTS))
        data = cgutils.alloca_once_value(builder, builder.bitcast(stack, i32.as_pointer()))
        meminfo = cgutils.alloca_once_value(builder, cgutils.get_null_value(cgutils.voidptr_t))
        with builder.if_then(builder.icmp_signed(">", count, count.type(STACK_INTS)), likely=False):
            block = context.nrt.meminfo_alloc(builder, builder.mul(count, count.type(4)))
            builder.store(block, meminfo)
            builder.store(builder.bitcast(context.nrt.meminfo_data(builder, block), i32.as_pointer()), data)
        return _array_value(context, builder, sig.return_type, count, builder.load(data), builder.load(meminfo))

    return _INT32_ARRAY(count), codegen


@intrinsic(prefer_literal=True)
def new_zeros(typingctx, count, dtype):
    """A new zero-filled array of ``max(count, 0)`` elements of ``dtype`` (a literal name:
    "int32", "boolean")."""
    if not isinstance(count, types.Integer) or not isinstance(dtype, types.StringLiteral):
        raise TypingError(f"new_zeros() takes a count and a literal dtype name, got {count}, {dtype}")
    array_type = types.Array(getattr(types, dtype.literal_value), 1, "C")

    def codegen(context, builder, sig, args):
        count = context.cast(builder, args[0], sig.args[0], types.intp)
        count = builder.select(builder.icmp_signed("<", count, count.type(0)), count.type(0), count)
        element = context.get_data_type(array_type.dtype)
        size = builder.mul(count, count.type(context.get_abi_sizeof(element)))
        align = context.get_preferred_array_alignment(array_type.dtype)
        block = context.nrt.meminfo_alloc_aligned(builder, size, align)
        data = context.nrt.meminfo_data(builder, block)
        cgutils.memset(builder, data, size, 0)
        return _array_value(context, builder, array_type, count, builder.bitcast(data, element.as_pointer()), block)

    return array_type(count, dtype), codegen


@intrinsic
def scratch_array(typingctx, address, count, like):
    """A 1-D C-contiguous array of ``count`` elements of ``like``'s dtype at ``address``,
    owning nothing (memory the caller manages: the packing pool's)."""
    if not isinstance(like, types.Array) or not isinstance(count, types.Integer):
        raise TypingError(f"scratch_array() takes an address, a count and an array, got {address}, {count}, {like}")
    array_type = types.Array(like.dtype, 1, "C")

    def codegen(context, builder, sig, args):
        element = context.get_data_type(array_type.dtype)
        data = builder.inttoptr(context.cast(builder, args[0], sig.args[0], types.int64), element.as_pointer())
        count = context.cast(builder, args[1], sig.args[1], types.intp)
        null = cgutils.get_null_value(cgutils.voidptr_t)
        return _array_value(context, builder, array_type, count, data, null)

    return array_type(address, count, like), codegen
