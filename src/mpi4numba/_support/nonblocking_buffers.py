"""The buffers of the non-blocking collectives (:mod:`mpi4numba.nonblocking` and their
persistent forms): a process's block, and the full buffer of blocks, which MPI reads or
writes after the call returns, so never a packed copy: a strided block is described by
a derived datatype, a full buffer must be C-contiguous."""

from __future__ import annotations

from numba.extending import overload

from .._core.inplace import is_in_place
from .datatypes import buffer, element_type
from .emit_buffers import Buffer, is_contiguous_layout
from .validate import c_ordered, send_and_receive


def _strided_block(data, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_strided_block)
def _strided_block_impl(data, count):
    """:func:`block_buffer` of an array whose type does not say it is C-contiguous (jitted: the
    derived datatype of a strided block is built by the helpers of :mod:`~mpi4numba.datatypes`)."""

    def strided(data, count):
        if data.flags.c_contiguous or count == 0:
            datatype, per_element = element_type(data)
            return data.ctypes.data, count * per_element, datatype, False
        if count != data.size:  # refused by block_buffer, which names the routine
            return data.ctypes.data, -1, 0, False
        address, n, datatype, derived = buffer(data)
        return address, n * 1, datatype, derived

    return strided


def block_buffer(e, data, count) -> Buffer:
    """One block of ``count`` elements: the first ones of a C-contiguous array, or all of a
    strided one (a derived datatype, to release after the call). Its datatype is that of
    the full buffer, element for element (a struct for a structured dtype, not its bytes:
    MPI matches the two type signatures)."""
    if not is_contiguous_layout(data.type):
        block = Buffer(*e.unpack(e.jitted(_strided_block, data, count)))
        e.check(block.count.ge(0), ValueError, "mpi4numba: a non-contiguous block buffer must hold exactly its block")
        return block
    datatype, per_element = e.element_type(data)
    return Buffer(e.data(data), count.mul(per_element), datatype, e.const(False))


SHORT_SEND = "mpi4numba: send_data has fewer elements than its blocks"


def send_block(e, send_data, recv_data, count) -> Buffer:
    """The send side of iallgather(v): IN_PLACE, or the first ``count`` elements of send_data."""
    if is_in_place(send_data.type):
        datatype, per_element = e.element_type(recv_data)
        return Buffer(e.in_place(), count.mul(per_element), datatype, e.const(False))
    e.check(e.size(send_data).ge(count), ValueError, SHORT_SEND)
    return block_buffer(e, send_data, count)


def whole_buffer(e, full, count, size, full_name: str) -> Buffer:
    """The full buffer of ``count`` elements per process of ``size``: C-contiguous and long
    enough, on every process (MPI addresses it after the call returns)."""
    e.check(
        e.size(full).ge(count.mul(size)), ValueError, f"mpi4numba: {full_name} has fewer than count * size elements"
    )
    e.require_c_order(full, f"mpi4numba: {full_name} must be C-contiguous")
    datatype, per_element = e.element_type(full)
    return Buffer(e.data(full), count.mul(per_element), datatype, e.const(False))


def rooted_buffers(e, full, block, count, root, comm, full_name: str, block_name: str) -> tuple[Buffer, Buffer]:
    """``(own, whole)`` of igather/iscatter: a process's block and the full buffer, which
    only the root's must hold (unless the root's block is ``IN_PLACE``, given on the root
    only: then every process checks it). An ``IN_PLACE`` block is the root's own block
    inside the full buffer; other processes' blocks are theirs."""
    rank, size = e.rank_size(comm)
    in_place = is_in_place(block.type)
    enough = e.size(full).ge(count.mul(size))
    e.check(
        enough if in_place else enough.or_(rank.ne(root)),
        ValueError,
        f"mpi4numba: {full_name} has fewer than count * size elements",
    )
    e.require_c_order(full, f"mpi4numba: {full_name} must be C-contiguous")
    datatype, per_element = e.element_type(full)
    whole = Buffer(e.data(full), count.mul(per_element), datatype, e.const(False))
    if not in_place:
        e.check(e.size(block).ge(count), ValueError, f"mpi4numba: {block_name} has fewer than count elements")
        return block_buffer(e, block, count), whole
    mine = e.select(rank.eq(root), e.in_place(), e.element_address(full, rank.mul(count)))
    return Buffer(mine, whole.count, datatype, e.const(False)), whole


def rooted_v_buffers(e, full, block, counts, displacements, root, comm, full_name: str, block_name: str):
    """``(own, whole datatype, derived, sizes, offsets)`` of igatherv/iscatterv: a process's
    block, and the blocks of the full buffer (checked on every process, inside it where
    significant: on the root, or everywhere if the block is ``IN_PLACE``)."""
    rank, size = e.rank_size(comm)
    in_place = is_in_place(block.type)
    significant = True if in_place else rank.eq(root)
    sizes, offsets = e.blocks(
        counts,
        displacements,
        size,
        e.size(full),
        f"mpi4numba: a block lies outside {full_name}",
        significant,
        lasting=True,
    )
    e.require_c_order(full, f"mpi4numba: {full_name} must be C-contiguous")
    count = sizes.getitem(rank)
    datatype, derived = e.element_datatype(full)
    if in_place:
        mine = e.select(rank.eq(root), e.in_place(), e.element_address(full, offsets.getitem(rank)))
        return Buffer(mine, count, datatype, e.const(False)), datatype, derived, sizes, offsets
    e.check(e.size(block).ge(count), ValueError, f"mpi4numba: {block_name} has fewer than counts[rank] elements")
    return block_buffer(e, block, count), datatype, derived, sizes, offsets


def full_buffers(send_data, recv_data, gathers: bool) -> None:
    """The buffers of a collective with a full buffer of blocks (``recv_data`` if it gathers,
    else ``send_data``), which MPI addresses after the call returns: C-ordered, and
    ``IN_PLACE`` allowed for the other one."""
    send_and_receive(send_data, recv_data, gathers, not gathers)
    c_ordered(recv_data if gathers else send_data, "recv_data" if gathers else "send_data")
