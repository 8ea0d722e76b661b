"""``@api``: one typing function per public routine becomes a public njit dispatcher.

The decorated function is written like a Numba ``@overload``: it receives the Numba types
of the arguments, validates them (raising ``TypingError`` with a message that names the
problem) and returns the implementation. ``@api`` then

* registers it as the overload of an internal stub, so nopython code can call it;
* builds the public ``numba.njit`` dispatcher with the same signature, defaults and
  docstring, so the routine is also callable from Python, and its ``.py_func`` (plain
  Python) reaches the same compiled implementation.

The implementation is compiled as a function of its own and LLVM inlines it (and the
helpers it calls) into the caller's machine code, so a call costs what the C call costs.
Inlining at Numba IR level instead (``inline="always"``) gives the same machine code but
re-runs Numba's passes at every call site: it made compiling a function that calls
``allreduce`` several times slower, so it is used only where it changes semantics (stack
scratch that must live in the caller's frame) or where the reference counting of arrays
passed between functions would show in the cost of a call (the reductions' helpers).
"""

from __future__ import annotations

import inspect
from typing import Callable

import numba
from numba.extending import overload


def _python_entry(stub_name: str) -> Callable:
    """A stub that, called from Python, enters compiled code through a small trampoline."""
    trampolines: dict[int, Callable] = {}

    def stub(*args):
        count = len(args)
        if count not in trampolines:
            names = ", ".join(f"a{i}" for i in range(count))
            namespace = {"target": stub}
            exec(f"def trampoline({names}):\n    return target({names})\n", namespace)
            trampolines[count] = numba.njit(namespace["trampoline"])
        return trampolines[count](*args)

    stub.__name__ = stub.__qualname__ = stub_name
    return stub


def api(typing_function: Callable | None = None, *, inline: bool = False) -> Callable:
    """Turn an overload-style typing function into a public njit dispatcher (see module doc).

    ``@api(inline=True)`` also inlines the implementation at Numba IR level into every
    caller: worth it for routines whose body LLVM would not inline by itself (those that
    allocate), at some cost in compile time.
    """
    if typing_function is None:
        return lambda function: api(function, inline=inline)
    name = typing_function.__name__
    stub = _python_entry(f"_{name}_impl")
    overload(stub, inline="always" if inline else "never")(typing_function)

    # The dispatcher reaches the stub and its defaults through closure cells, which
    # Numba's inliner freezes as constants wherever the body is inlined.
    params, call_args, cells = [], [], {"_stub": stub}
    for param in inspect.signature(typing_function).parameters.values():
        if param.default is inspect.Parameter.empty:
            params.append(param.name)
        else:
            cells[f"_default_{param.name}"] = param.default
            params.append(f"{param.name}=_default_{param.name}")
        call_args.append(param.name)
    source = (
        f"def _make({', '.join(cells)}):\n"
        f"    def {name}({', '.join(params)}):\n"
        f"        return _stub({', '.join(call_args)})\n"
        f"    return {name}\n"
    )
    namespace: dict = {}
    exec(compile(source, f"<mpi4numba.{name}>", "exec"), namespace)
    public = namespace["_make"](**cells)
    for attribute in ("__module__", "__qualname__", "__doc__"):
        setattr(public, attribute, getattr(typing_function, attribute))
    return numba.njit(public)
