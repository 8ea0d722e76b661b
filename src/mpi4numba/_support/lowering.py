"""The MPI vocabulary of routine bodies lowered to LLVM IR (see :mod:`mpi4numba._core.emit`).

A body receives an :class:`MPIEmitter` ``e``, which speaks Numba (``e(f, *args)``,
``e.when``, ``e.check``: :mod:`mpi4numba._core.emit`) and MPI, in vocabularies a reader
can learn one at a time, each in its module:

* handles: predefined handles, communicators, operators (:mod:`.emit_handles`);
* buffers: an array as ``(address, count, datatype)`` for one call, packed or
  C-ordered where it must be, and released after it (:mod:`.emit_buffers`);
* views: the full buffers of collectives, of one block per process (:mod:`.emit_views`);
* counts: C int arrays, and the checked blocks of v-collectives (:mod:`.emit_counts`);
* requests: status codes of several calls, and requests of started operations
  (:mod:`.emit_requests`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from numba.core import types

from .emit_counts import Counts
from .emit_requests import Requests
from .emit_views import Views


class Lowering(NamedTuple):
    """A routine's result type (from its typing function) and the body that emits it
    (attached with :func:`~mpi4numba._support.api.lowers`)."""

    restype: types.Type
    body: Callable


class MPIEmitter(Views, Counts, Requests):
    """An :class:`~mpi4numba._core.emit.Emitter` that also speaks MPI (see the module doc)."""
