"""``IN_PLACE``: mpi4py's ``MPI.IN_PLACE`` object, with a Numba type of its own.

Passing it selects the in-place form of a routine when the function is compiled; in the
C call it is the running ABI's ``MPI_IN_PLACE`` address.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.imputils import lower_constant
from numba.extending import NativeValue, models, register_model, typeof_impl, unbox

from .runtime import ABI, MPI

IN_PLACE = MPI.IN_PLACE
# MPI_IN_PLACE of the running ABI as an unsigned address, like ``array.ctypes.data``
# (Numba would unify a signed and an unsigned 64-bit integer to a float).
IN_PLACE_ADDRESS = np.uint64(ABI.IN_PLACE % 2**64)
NO_ADDRESS = np.uint64(0)


class InPlaceType(types.Opaque):
    """Numba type of ``IN_PLACE``: no data, the choice is made when compiling."""


in_place_type = InPlaceType("mpi4numba.IN_PLACE")
register_model(InPlaceType)(models.OpaqueModel)


@typeof_impl.register(type(MPI.IN_PLACE))
def _typeof_in_place(value, context):
    return in_place_type


@unbox(InPlaceType)
def _unbox_in_place(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


@lower_constant(InPlaceType)
def _constant_in_place(context, builder, ty, pyval):
    return context.get_dummy_value()


def is_in_place(value: types.Type) -> bool:
    return isinstance(value, InPlaceType)
