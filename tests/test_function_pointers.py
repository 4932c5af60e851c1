"""Kernels that call kernels through function pointers (``kernels/function_pointers.py``): the caller runs the
callee's own compiled code instead of linking the callee in and compiling it again."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from evonas.kernels.function_pointers import entry_point, pointer, values


@njit  # not cached, so that the compiled modules can be inspected
def _scale(a, factor):
    for i in range(a.shape[0]):
        a[i] *= factor


@njit
def _scale_twice_through(scale, a, factor):
    scale(a, factor)
    scale(a, factor)


@njit
def _scale_twice_linked(a, factor):
    _scale(a, factor)
    _scale(a, factor)


def _links(caller, callee) -> bool:
    """Whether the compiled code of ``caller`` (its only signature) has ``callee``'s compiled module linked in, to be
    optimised and compiled again as part of it (numba's own record of what it links)."""
    linked = caller.overloads[caller.signatures[0]].library._linking_libraries
    return any(cres.library in linked for cres in callee.overloads.values())


def test_a_kernel_runs_its_callee_through_a_pointer_without_compiling_it_again() -> None:
    a = np.arange(4.0)
    scale = pointer(_scale, a, 2.0)
    entry_point(_scale_twice_through, scale, a, 3.0)(*values(scale, a, 3.0))
    assert a.tolist() == [0.0, 9.0, 18.0, 27.0]
    b = np.arange(4.0)
    _scale_twice_linked(b, 3.0)
    assert b.tolist() == a.tolist()
    assert _links(_scale_twice_linked, _scale)  # the usual call: the callee compiled again inside the caller
    assert not _links(_scale_twice_through, _scale)
    assert len(_scale_twice_through.signatures) == 1  # the entry point took the pointer's type, not the function's own


def test_a_call_site_that_does_not_match_the_pointers_types_is_a_typing_error() -> None:
    scale = pointer(_scale, np.arange(4.0), 2.0)

    @njit
    def wrong(scale, a):
        scale(a, 2.0)

    with pytest.raises(Exception, match="mismatch of argument types"):
        entry_point(wrong, scale, np.arange(4))  # an int64 array where float64 is declared
