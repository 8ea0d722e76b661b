"""MPI-IO: files opened by a group of processes, read and written from compiled loops.

A file is a NumPy array of shape ``(1,)`` and dtype ``FileType`` holding the ``MPI_File``
handle, as a request is: :func:`file_open` returns one, every routine takes it as
``fh``, and :func:`file_close` closes it and zeroes it, so every later call on it (or
on any view of that array) returns an ``ERR_FILE`` code that says the file is closed,
instead of reaching MPI. Do not copy the handle into another array: a copy cannot be
told that the file was closed.

Data goes as everywhere in mpi4numba: an array's elements in C index order, strided
views described to MPI by derived datatypes (never copied). Offsets and sizes follow
MPI: an offset counts elements of the view's element type (bytes until a view is set),
from the start of the view; :func:`file_set_view` sets a contiguous view of a dtype at
a byte displacement, and :func:`file_set_block_view` the view a grid code needs: this
process's block of a global N-d array stored in the file in C or Fortran order, so that
one collective ``file_write_all(fh, block)`` writes every process's block where it
belongs (a checkpoint) and ``file_read_all`` reads it back.

Reads and writes (``file_read``, ``file_write``, with ``_at`` for an explicit offset,
``_all`` for the collective forms and a leading ``i`` for the non-blocking ones) return
the status; a blocking read that reaches the end of the file before the array is full
returns an ``ERR_IO`` code (the rest of the array is left as it was), a write to a file
opened read-only the library's code (``ERR_READ_ONLY``, ``ERR_ACCESS`` or ``ERR_AMODE``
by library). The non-blocking forms return ``(status, request)`` and the request keeps
the array alive. File errors are returned, never fatal: MPI's default error handler of
files is ``ERRORS_RETURN``.

>>> import os, tempfile, numpy as np, mpi4numba
>>> from mpi4py import MPI
>>> name = MPI.COMM_WORLD.bcast(os.path.join(tempfile.mkdtemp(), "field.bin"))  # one name for all
>>> rank, size = mpi4numba.rank(), mpi4numba.size()
>>> status, fh = mpi4numba.file_open(name, mpi4numba.MODE_CREATE | mpi4numba.MODE_WRONLY)
>>> block = np.full((2, 3), float(rank))  # rows 2 * rank, 2 * rank + 1 of a (2 * size, 3) field
>>> mpi4numba.file_set_block_view(fh, block, (2 * size, 3), (2 * rank, 0))
0
>>> mpi4numba.file_write_all(fh, block), mpi4numba.file_close(fh)
(0, 0)
>>> field = np.fromfile(name).reshape(2 * size, 3)
>>> field[::2, 0].tolist() == list(range(size))
True
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import register_jitable

from ._core import capi
from ._core.errorcodes import error_code
from ._core.runtime import ABI
from ._support.api import api, lowers
from ._support.emit_requests import STARTED
from ._support.validate import array, integer

FileType = np.dtype(np.uint64)  # MPI_File is a pointer in every ABI
_FILE_ARRAY = types.Array(types.uint64, 1, "C")
_ORDER_C, _ORDER_FORTRAN = ABI.CONSTANTS["ORDER_C"], ABI.CONSTANTS["ORDER_FORTRAN"]

MODE_RDONLY = ABI.CONSTANTS["MODE_RDONLY"]
MODE_WRONLY = ABI.CONSTANTS["MODE_WRONLY"]
MODE_RDWR = ABI.CONSTANTS["MODE_RDWR"]
MODE_CREATE = ABI.CONSTANTS["MODE_CREATE"]
MODE_EXCL = ABI.CONSTANTS["MODE_EXCL"]
MODE_DELETE_ON_CLOSE = ABI.CONSTANTS["MODE_DELETE_ON_CLOSE"]
MODE_UNIQUE_OPEN = ABI.CONSTANTS["MODE_UNIQUE_OPEN"]
MODE_APPEND = ABI.CONSTANTS["MODE_APPEND"]
MODE_SEQUENTIAL = ABI.CONSTANTS["MODE_SEQUENTIAL"]

__all__ = [
    "FileType",
    "file_open",
    "file_close",
    "file_delete",
    "file_set_size",
    "file_get_size",
    "file_sync",
    "file_get_amode",
    "file_set_view",
    "file_set_block_view",
    "file_read",
    "file_read_all",
    "file_read_at",
    "file_read_at_all",
    "file_write",
    "file_write_all",
    "file_write_at",
    "file_write_at_all",
    "file_iread",
    "file_iread_all",
    "file_iread_at",
    "file_iread_at_all",
    "file_iwrite",
    "file_iwrite_all",
    "file_iwrite_at",
    "file_iwrite_at_all",
    "file_to_mpi4py",
    "MODE_RDONLY",
    "MODE_WRONLY",
    "MODE_RDWR",
    "MODE_CREATE",
    "MODE_EXCL",
    "MODE_DELETE_ON_CLOSE",
    "MODE_UNIQUE_OPEN",
    "MODE_APPEND",
    "MODE_SEQUENTIAL",
]


# --- checks and helpers ---


def _file(fh) -> None:
    if fh != _FILE_ARRAY and not (isinstance(fh, types.Array) and fh.dtype == types.uint64 and fh.ndim == 1):
        raise TypingError(f"mpi4numba: fh must be a file (a FileType array from file_open), got {fh}")


def _file_name(name) -> None:
    if not isinstance(name, (types.UnicodeType, types.StringLiteral)):
        raise TypingError(f"mpi4numba: filename must be a str, got {name}")


@register_jitable
def _utf8(name):
    """``name`` as UTF-8 bytes with a closing NUL (a uint8 array); empty if it holds a NUL."""
    size = 1
    for char in name:
        point = ord(char)
        if point == 0:
            return np.zeros(0, np.uint8)
        size += 1 if point < 0x80 else 2 if point < 0x800 else 3 if point < 0x10000 else 4
    out = np.zeros(size, np.uint8)
    i = 0
    for char in name:
        point = ord(char)
        if point < 0x80:
            out[i] = point
            i += 1
        elif point < 0x800:
            out[i], out[i + 1] = 0xC0 | (point >> 6), 0x80 | (point & 0x3F)
            i += 2
        elif point < 0x10000:
            out[i], out[i + 1], out[i + 2] = 0xE0 | (point >> 12), 0x80 | ((point >> 6) & 0x3F), 0x80 | (point & 0x3F)
            i += 3
        else:
            out[i], out[i + 1] = 0xF0 | (point >> 18), 0x80 | ((point >> 12) & 0x3F)
            out[i + 2], out[i + 3] = 0x80 | ((point >> 6) & 0x3F), 0x80 | (point & 0x3F)
            i += 4
    return out


@register_jitable
def _new_file():
    return np.zeros(1, np.uint64)


def _c_name(e, name):
    encoded = e.jitted(_utf8, name)
    e.check(e.size(encoded).gt(0), ValueError, "mpi4numba: filename holds a NUL character")
    return encoded


def _on_file(e, fh, call):
    """The status of ``call(handle)`` on an open file; a closed one (or an array without
    a file) gives the ``FILE_CLOSED`` code and MPI is not called."""
    code = e.variable(e(error_code, e.literal("FILE_CLOSED")))
    with e.when(e.size(fh).ne(0)):
        handle = fh.getitem(0)
        with e.when(handle.ne(0)):
            code.set(call(handle))
    return code.get()


def _file_value(e, fh, c_function, ty):
    """``(status, value)`` of a query ``c_function(handle) -> (code, value)`` on an open
    file; the value is 0 where the file is closed or MPI failed."""
    value = e.variable(e.const(0, ty))

    def call(handle):
        code, got = e.unpack(e(c_function, handle))
        value.set(e.select(code.eq(0), e.cast(got, ty), e.const(0, ty)))
        return code

    code = _on_file(e, fh, call)
    return e.tuple(code, value.get())


# --- opening, closing, sizes ---


@api
def file_open(filename, amode=MODE_RDONLY, comm=None):
    """``(status, fh)``: open ``filename`` on every process of ``comm``
    (``MPI_File_open``, collective); ``amode`` combines ``MODE_RDONLY``, ``MODE_WRONLY``,
    ``MODE_RDWR``, ``MODE_CREATE``, ``MODE_EXCL`` ... with ``|``. If the status is not
    ``SUCCESS`` the file array holds no file (its calls return ``ERR_FILE``).

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "new.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> status, mpi4numba.file_close(fh), os.path.exists(path)
    (0, 0, True)
    """
    _file_name(filename)
    integer(amode, "amode")
    return types.Tuple((types.int32, _FILE_ARRAY))


@lowers(file_open)
def _file_open(e, filename, amode, comm):
    fh = e.jitted(_new_file)
    code = e(capi.MPI_File_open, e.comm(comm), e.data(_c_name(e, filename)), amode, e.handle("INFO_NULL"), fh)
    with e.when(code.ne(0)):
        fh.setitem(0, e.const(0, types.uint64))  # no file: MPI may have left anything there
    return e.tuple(code, fh)


@api
def file_close(fh):
    """Close the file (``MPI_File_close``, collective over the processes that opened it);
    returns the status. The file array then holds no file.

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "closed.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_WRONLY, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_close(fh), mpi4numba.error_class(mpi4numba.file_sync(fh)) == mpi4numba.ERR_FILE
    (0, True)
    """
    _file(fh)
    return types.int32


@lowers(file_close)
def _file_close(e, fh):
    def close(handle):
        code = e(capi.MPI_File_close, fh)  # MPI writes MPI_FILE_NULL into fh[0]
        with e.when(code.eq(0)):
            fh.setitem(0, e.const(0, types.uint64))
        return code

    return _on_file(e, fh, close)


@api
def file_delete(filename):
    """Delete ``filename`` (``MPI_File_delete``; not collective); returns the status
    (``ERR_NO_SUCH_FILE`` if there is none).

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "gone.bin")
    >>> open(path, "wb").close()
    >>> mpi4numba.file_delete(path), os.path.exists(path)
    (0, False)
    """
    _file_name(filename)
    return types.int32


@lowers(file_delete)
def _file_delete(e, filename):
    return e(capi.MPI_File_delete, e.data(_c_name(e, filename)), e.handle("INFO_NULL"))


@api
def file_set_size(fh, size):
    """Truncate or extend the file to ``size`` bytes (``MPI_File_set_size``, collective);
    returns the status.

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "sized.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_set_size(fh, 24), mpi4numba.file_get_size(fh), mpi4numba.file_close(fh)
    (0, (0, 24), 0)
    """
    _file(fh)
    integer(size, "size")
    return types.int32


@lowers(file_set_size)
def _file_set_size(e, fh, size):
    return _on_file(e, fh, lambda handle: e(capi.MPI_File_set_size, handle, size))


@api
def file_get_size(fh):
    """``(status, size)``: the size of the file in bytes (``MPI_File_get_size``).

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "empty.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_get_size(fh), mpi4numba.file_close(fh)
    ((0, 0), 0)
    """
    _file(fh)
    return types.Tuple((types.int32, types.int64))


@lowers(file_get_size)
def _file_get_size(e, fh):
    return _file_value(e, fh, capi.MPI_File_get_size, types.int64)


@api
def file_get_amode(fh):
    """``(status, amode)``: the access mode the file was opened with (``MPI_File_get_amode``).

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "mode.bin")
    >>> mode = mpi4numba.MODE_CREATE | mpi4numba.MODE_WRONLY
    >>> status, fh = mpi4numba.file_open(path, mode, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_get_amode(fh) == (0, mode), mpi4numba.file_close(fh)
    (True, 0)
    """
    _file(fh)
    return types.Tuple((types.int32, types.int32))


@lowers(file_get_amode)
def _file_get_amode(e, fh):
    return _file_value(e, fh, capi.MPI_File_get_amode, types.int32)


@api
def file_sync(fh):
    """Write what this process wrote to the storage device (``MPI_File_sync``,
    collective); returns the status.

    >>> import os, tempfile, numpy as np, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "synced.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_WRONLY, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_write(fh, np.arange(3.0)), mpi4numba.file_sync(fh), mpi4numba.file_close(fh)
    (0, 0, 0)
    """
    _file(fh)
    return types.int32


@lowers(file_sync)
def _file_sync(e, fh):
    return _on_file(e, fh, lambda handle: e(capi.MPI_File_sync, handle))


# --- views ---


@register_jitable
def _datarep():
    return np.array([110, 97, 116, 105, 118, 101, 0], np.uint8)  # "native"


@api
def file_set_view(fh, disp, like):
    """Make the file, from byte ``disp`` on, a sequence of elements of ``like``'s dtype
    (``MPI_File_set_view`` with that element type as etype and filetype, ``"native"``
    representation; collective): offsets then count elements. Returns the status.

    >>> import os, tempfile, numpy as np, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "header.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_write(fh, np.array([7], np.int64))  # an 8-byte header
    0
    >>> mpi4numba.file_set_view(fh, 8, np.zeros(0)), mpi4numba.file_write_at(fh, 1, np.array([2.5]))
    (0, 0)
    >>> mpi4numba.file_close(fh), float(np.fromfile(path)[2])  # element 1 of the view: bytes 16 to 24
    (0, 2.5)
    """
    _file(fh)
    integer(disp, "disp")
    array(like, "like")
    return types.int32


@lowers(file_set_view)
def _file_set_view(e, fh, disp, like):
    datatype, derived = e.element_datatype(like)
    datarep = e.jitted(_datarep)
    code = _on_file(
        e,
        fh,
        lambda handle: e(capi.MPI_File_set_view, handle, disp, datatype, datatype, datarep, e.handle("INFO_NULL")),
    )
    e.release_datatype(datatype, derived)
    return code


@register_jitable
def _block_filetype(etype, global_shape, block_shape, starts, fortran):
    """``(code, filetype, fits)``: a block at ``starts`` of a global array stored in C (or
    Fortran) order, as a committed subarray type (``fits``: the block lies inside)."""
    ndim = len(global_shape)
    sizes, subsizes, origins = np.empty(ndim, np.int32), np.empty(ndim, np.int32), np.empty(ndim, np.int32)
    for d in range(ndim):
        if starts[d] < 0 or block_shape[d] < 1 or starts[d] + block_shape[d] > global_shape[d]:
            return 0, etype, False
        if global_shape[d] > 2147483647:
            return 0, etype, False
        sizes[d], subsizes[d], origins[d] = global_shape[d], block_shape[d], starts[d]
    order = _ORDER_FORTRAN if fortran else _ORDER_C
    code, made = capi.MPI_Type_create_subarray(ndim, sizes, subsizes, origins, order, etype)
    if code != 0:
        return code, etype, True
    code, made = capi.MPI_Type_commit(made)
    return code, made, True


@api
def file_set_block_view(fh, block, global_shape, starts, disp=0, fortran_order=False):
    """Set the view (collective) by which this process reads and writes ``block``: its
    part, at index ``starts``, of a global N-d array of ``global_shape`` stored in the file
    from byte ``disp`` in C order, with ``block``'s dtype. Then ``file_write_all(fh,
    block)`` on every process writes the whole array, and ``file_read_all(fh, block)``
    reads each block back. Returns the status; a block that does not fit inside the global
    array (or a side longer than a C int) raises ``ValueError`` before MPI is called.

    With ``fortran_order=True`` the file holds the global array in Fortran order (first
    index fastest, as a Fortran code or ``np.asfortranarray(a).tofile`` writes it) and the
    elements of a read or write go in that order too (MPI reads and writes a file in
    increasing offsets): pass ``block.T``, whose C order is ``block``'s Fortran order.

    >>> import os, tempfile, numpy as np, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "fortran.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> block = np.array([[1.0, 2.0], [3.0, 4.0]])  # rows 1-2, columns 0-1 of a 3 x 2 array
    >>> mpi4numba.file_set_block_view(fh, block, (3, 2), (1, 0), fortran_order=True)
    0
    >>> mpi4numba.file_write_all(fh, block.T), mpi4numba.file_close(fh)
    (0, 0)
    >>> np.fromfile(path).reshape((3, 2), order="F")[1:].tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    _file(fh)
    array(block, "block")
    for value, what in ((global_shape, "global_shape"), (starts, "starts")):
        if not (isinstance(value, types.BaseTuple) and len(value) == block.ndim):
            raise TypingError(
                f"mpi4numba: {what} must be a tuple of {block.ndim} integers (block has {block.ndim} axes)"
            )
        for item in value:
            integer(item, what)
    integer(disp, "disp")
    if not isinstance(fortran_order, (types.Boolean, types.Omitted)):
        raise TypingError(f"mpi4numba: fortran_order must be a bool, got {fortran_order}")
    return types.int32


def _int64_array(e, values):
    """A tuple of integers (or an array's shape) as a new int64 array."""
    items = e.unpack(values)
    out = e.jitted(_int64_empty, len(items))
    for index, item in enumerate(items):
        out.setitem(index, e.cast(item, types.int64))
    return out


@register_jitable
def _int64_empty(n):
    return np.empty(n, np.int64)


@lowers(file_set_block_view)
def _file_set_block_view(e, fh, block, global_shape, starts, disp, fortran_order):
    etype, derived = e.element_datatype(block)
    made = e.jitted(
        _block_filetype,
        etype,
        _int64_array(e, global_shape),
        _int64_array(e, e.attr(block, "shape")),
        _int64_array(e, starts),
        fortran_order,
    )
    code, filetype, fits = e.unpack(made)
    e.check(fits, ValueError, "mpi4numba: the block does not fit inside global_shape at starts")
    datarep = e.jitted(_datarep)

    def set_view(handle):
        return e.if_success(
            code,
            lambda: e(capi.MPI_File_set_view, handle, disp, etype, filetype, datarep, e.handle("INFO_NULL")),
        )

    status = _on_file(e, fh, set_view)
    with e.when(code.eq(0)):
        e(capi.MPI_Type_free, filetype)
    e.release_datatype(etype, derived)
    return status


# --- reads and writes ---


def _doc(name: str) -> str:
    verb = "read" if "read" in name else "write"
    c_name = "MPI_File_" + name
    at = "_at" in name
    collective = name.endswith("_all")
    nonblocking = name.startswith("i")
    where = "at ``offset`` (in elements of the view, from its start)" if at else "at this process's file pointer"
    sentence = (
        f"{'Start to ' + verb if nonblocking else verb.capitalize()} ``data`` "
        f"{'from' if verb == 'read' else 'to'} the file {where} (``{c_name}``"
        f"{', collective' if collective else ''}); returns {'``(status, request)``' if nonblocking else 'the status'}."
    )
    mode = "MODE_RDWR" if verb == "read" else "MODE_WRONLY"
    call = f"mpi4numba.file_{name}(fh, {'0, ' if at else ''}data)"
    if nonblocking:
        result = f">>> status, request = {call}\n>>> status, mpi4numba.wait(request)\n(0, 0)"
    else:
        result = f">>> {call}\n0"
    before = ">>> _ = mpi4numba.file_write_at(fh, 0, np.arange(3.0))\n" if verb == "read" else ""
    after = ">>> data.tolist()\n[0.0, 1.0, 2.0]\n" if verb == "read" else ""
    example = (
        ">>> import os, tempfile, numpy as np, mpi4numba\n"
        f'>>> path = os.path.join(tempfile.mkdtemp(), "{name}.bin")\n'
        f">>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.{mode}, mpi4numba.COMM_SELF)\n"
        f"{before}"
        f">>> data = {'np.zeros(3)' if verb == 'read' else 'np.arange(3.0)'}\n"
        f"{result}\n"
        f"{after}"
        ">>> mpi4numba.file_close(fh)\n0\n"
    )
    if verb == "write":
        example += ">>> np.fromfile(path).tolist()\n[0.0, 1.0, 2.0]\n"
    return sentence + "\n\n" + "\n".join("    " + line if line else "" for line in example.splitlines()) + "\n"


def _transfer_types(fh, offset, data, reads: bool, nonblocking: bool) -> types.Type:
    _file(fh)
    if offset is not None:
        integer(offset, "offset")
    array(data, "data", writable=reads)
    return STARTED if nonblocking else types.int32


def _lower_transfer(e, c_function, fh, offset, data, reads: bool, nonblocking: bool):
    buf = e.buffer(data)
    at = () if offset is None else (offset,)
    if nonblocking:
        with e.starting(data) as start:
            start.code = _on_file(e, fh, lambda handle: e(c_function, handle, *at, *buf.as_args, start.address))
        e.release(buf)
        return start.result

    def call(handle):
        code, status = e.unpack(e(c_function, handle, *at, *buf.as_args))
        if not reads:
            return code
        got_code, got = e.unpack(e(capi.MPI_Get_count, status, buf.datatype))
        short = code.eq(0).and_(got_code.eq(0)).and_(got.ne(buf.count))
        return e.select(short, e(error_code, e.literal("FILE_ENDED")), code)

    code = _on_file(e, fh, call)
    e.release(buf)
    return code


def _make_transfer(name: str):
    c_function = capi.FILE_TRANSFERS[name]
    reads, nonblocking, at = "read" in name, name.startswith("i"), "_at" in name
    public = f"file_{name}"
    params = "fh, offset, data" if at else "fh, data"
    namespace = {"_transfer_types": _transfer_types, "_lower_transfer": _lower_transfer, "c_function": c_function}
    exec(  # the routine's own signature, for @api and @lowers
        f"def {public}({params}):\n"
        f"    return _transfer_types(fh, {'offset' if at else 'None'}, data, {reads}, {nonblocking})\n"
        f"def _{public}(e, {params}):\n"
        f"    return _lower_transfer(e, c_function, fh, {'offset' if at else 'None'}, data, {reads}, {nonblocking})\n",
        namespace,
    )
    typing = namespace[public]
    typing.__doc__ = _doc(name)
    typing.__module__ = __name__
    routine = api(typing)
    lowers(routine)(namespace[f"_{public}"])
    return routine


file_read = _make_transfer("read")
file_read_all = _make_transfer("read_all")
file_read_at = _make_transfer("read_at")
file_read_at_all = _make_transfer("read_at_all")
file_write = _make_transfer("write")
file_write_all = _make_transfer("write_all")
file_write_at = _make_transfer("write_at")
file_write_at_all = _make_transfer("write_at_all")
file_iread = _make_transfer("iread")
file_iread_all = _make_transfer("iread_all")
file_iread_at = _make_transfer("iread_at")
file_iread_at_all = _make_transfer("iread_at_all")
file_iwrite = _make_transfer("iwrite")
file_iwrite_all = _make_transfer("iwrite_all")
file_iwrite_at = _make_transfer("iwrite_at")
file_iwrite_at_all = _make_transfer("iwrite_at_all")


def file_to_mpi4py(fh: np.ndarray) -> MPI.File:
    """The file as an ``mpi4py`` ``MPI.File`` sharing the handle (Python only). Close it with
    :func:`file_close`, not ``Close()`` on the mpi4py object: mpi4numba cannot see that.

    >>> import os, tempfile, mpi4numba
    >>> path = os.path.join(tempfile.mkdtemp(), "shared.bin")
    >>> status, fh = mpi4numba.file_open(path, mpi4numba.MODE_CREATE | mpi4numba.MODE_RDWR, mpi4numba.COMM_SELF)
    >>> mpi4numba.file_to_mpi4py(fh).Get_size(), mpi4numba.file_close(fh)
    (0, 0)
    """
    if not (isinstance(fh, np.ndarray) and fh.dtype == FileType and fh.shape == (1,)):
        raise TypeError(f"mpi4numba.file_to_mpi4py: fh must be a file (a FileType array), got {fh!r}")
    if int(fh[0]) == 0:
        raise ValueError("mpi4numba.file_to_mpi4py: the file is closed (or was never opened)")
    return MPI.File.fromhandle(int(fh[0]))
