"""The emitter of lowered bodies: values' named operations, and calls that say how they compile."""

import numba
import numpy as np
import pytest
from numba.core import types
from numba.extending import intrinsic

import mpi4numba as mpi
from mpi4numba._core import capi
from mpi4numba._core.emit import Emitter
from mpi4numba._support.api import api, lowers
from mpi4numba._support.deferred import watching

REFUSED: list[str] = []  # what the emitter refused while the intrinsic below was lowered


@intrinsic
def arithmetic(typingctx, x):
    """``((x + 2) * 3 // 4, x % 5, x < 7 and x != 0, -x, (x, 1)[1])``, emitted by an
    Emitter, which first shows that Python's operators are refused."""

    def codegen(context, builder, sig, args):
        e = Emitter(context, builder)
        value = e.argument(sig.args[0], args[0])
        for name, attempt in {
            "==": lambda: value == 1,
            "+": lambda: value + 1,
            "<": lambda: value < 1,
            "&": lambda: value & value,
            "in": lambda: value in [1],
            "bool": lambda: bool(value),
            "[]": lambda: value[0],
        }.items():
            try:
                attempt()
            except TypeError as exc:
                REFUSED.append(f"{name}: {exc}")
        both = value.lt(7).and_(value.ne(0))
        pair = e.tuple(value, e.const(1))
        result = e.tuple(value.add(2).mul(3).floordiv(4), value.mod(5), both, value.neg(), pair.getitem(1))
        return e.finish(result, sig.return_type)

    return types.Tuple((types.int64, types.int64, types.boolean, types.int64, types.int64))(x), codegen


@numba.njit
def use_arithmetic(x):
    return arithmetic(x)


@pytest.mark.jit_only
def test_values_have_named_operations_and_no_python_operators():
    assert use_arithmetic(np.int64(9)) == (8, 4, False, -9, 1)
    assert use_arithmetic(np.int64(3)) == (3, 3, True, -3, 1)
    assert [line.split(":")[0] for line in REFUSED] == ["==", "+", "<", "&", "in", "bool", "[]"]
    assert "use its methods named after the operator module" in REFUSED[0]
    assert "only known at run time" in REFUSED[5]


CALLS: list[str] = []


@intrinsic
def calls(typingctx):
    """Calls of a jitted helper and of an intrinsic, each the right and the wrong way."""

    def codegen(context, builder, sig, args):
        e = Emitter(context, builder)
        for name, attempt in {
            "a jitted helper with e()": lambda: e(watching),
            "an intrinsic with e.jitted()": lambda: e.jitted(capi.MPI_Wtime),
        }.items():
            try:
                attempt()
                CALLS.append(f"{name}: accepted")
            except TypeError as exc:
                CALLS.append(f"{name}: {exc}")
        before, now = e.jitted(watching), e(capi.MPI_Wtime)
        return e.finish(e.tuple(before, now), sig.return_type)

    return types.Tuple((types.int64, types.float64))(), codegen


@numba.njit
def use_calls():
    return calls()


@pytest.mark.jit_only
def test_a_call_says_whether_it_is_emitted_inline_or_calls_a_jitted_helper():
    _, now = use_calls()
    assert now > 0.0
    assert CALLS == [
        "a jitted helper with e(): call watching with e.jitted(): it is compiled as a function of its own",
        "an intrinsic with e.jitted(): call MPI_Wtime with e(): it is emitted inline",
    ]


@api
def summed(first, second=10):
    return types.int64


@lowers(summed)
def _summed(e, first, second):
    return first.mul(100).add(second)


@api
def bodiless(value):
    return types.int64


def test_a_body_takes_the_routines_parameters_by_name_checked_on_import():
    with pytest.raises(TypeError, match=r"must take \(e, value\), not \(e, other\)"):

        @lowers(bodiless)
        def misnamed(e, other):
            return other

    with pytest.raises(TypeError, match=r"must take \(e, first, second\), not \(e, second, first\)"):

        @lowers(summed)
        def swapped(e, second, first):
            return first.sub(second)

    with pytest.raises(TypeError, match="has a body already"):
        lowers(summed)(_summed)
    assert summed(2, 3) == 203 and summed(4) == 410 and summed(second=1, first=5) == 501
    assert numba.njit(lambda: summed(7))() == 710


def test_a_routine_whose_body_is_missing_is_a_typing_error():
    with pytest.raises(numba.core.errors.TypingError, match=r"bodiless: no body: write it with @lowers\(bodiless\)"):
        bodiless(1)
    assert mpi.rank() >= 0
