"""Calls from one compiled kernel to another through a function pointer (numba's first-class functions).

numba links a callee's compiled module into each compiled caller, and LLVM then optimises and emits the callee
again as part of that caller. The AutoML-Zero interpreter, called by the search loop's work function, which the
loop calls, was compiled three times over on a first run. A callee passed instead as an argument typed by its
signature is compiled once, by itself (and cached by itself), and its callers call its machine code through the
pointer numba takes from the dispatcher when it unboxes the argument. The indirect call costs nothing measurable
next to a program run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numba import typeof, types
from numba.core.dispatcher import Dispatcher


@dataclass(frozen=True)
class Pointer:
    """A compiled function to hand to a kernel as a pointer of a fixed signature (see ``pointer``)."""

    function: Dispatcher
    type: types.FunctionType


def _type_of(value: Any) -> types.Type:
    return value.type if isinstance(value, Pointer) else typeof(value)


def pointer(function: Dispatcher, *examples: Any) -> Pointer:
    """``function`` as a pointer for calls with arguments of the types of ``examples`` (values, or Pointers for
    arguments that are themselves pointers), returning nothing. A call site whose arguments convert safely (a
    C-contiguous array where any layout is declared) is accepted; any other mismatch fails to compile ("mismatch of
    argument types")."""
    return Pointer(function, types.FunctionType(types.none(*map(_type_of, examples))))


def entry_point(function: Dispatcher, *examples: Any) -> Callable[..., Any]:
    """``function`` compiled (or loaded from numba's cache) for arguments of the types of ``examples``, with
    Pointers typed as pointers; call it with ``values(...)`` of its arguments. (Called as a dispatcher, numba would
    type a function argument as that very function and link it in again.)"""
    return function.compile(tuple(map(_type_of, examples)))


def values(*arguments: Any) -> tuple[Any, ...]:
    """The arguments as an entry point takes them: a Pointer is passed as its dispatcher, which numba unboxes to
    the address of the compiled code for the Pointer's signature (compiling or loading it first)."""
    return tuple(a.function if isinstance(a, Pointer) else a for a in arguments)
