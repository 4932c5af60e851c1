"""Atomic operations on int64 array elements for compiled code shared by several threads.

numba has no atomics on the CPU target; these intrinsics emit LLVM's atomic instructions (sequentially
consistent), so threads that run ``nogil`` kernels over the same arrays can hand work to each other without
waking through the operating system. Used by the compiled search loop's helper threads (``program_search``).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_ORDER = "seq_cst"


def _operands(context, builder, signature, args):
    """The element's pointer, then the other operands (the signatures below already make them int64)."""
    array_type, array, index = signature.args[0], args[0], args[1]
    array_struct = context.make_array(array_type)(context, builder, array)
    pointer = cgutils.get_item_pointer(context, builder, array_type, array_struct, [index], wraparound=False)
    return (pointer, *args[2:])


def _int64_array(array) -> bool:
    return isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` read atomically (int64, one dimension)."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        (pointer,) = _operands(context, builder, signature, args)
        return builder.load_atomic(pointer, _ORDER, 8)

    return types.int64(array, types.intp), codegen


@intrinsic
def atomic_store(typingctx, array, index, value):
    """``array[index] = value`` written atomically (int64, one dimension)."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        pointer, value = _operands(context, builder, signature, args)
        builder.store_atomic(value, pointer, _ORDER, 8)
        return context.get_dummy_value()

    return types.void(array, types.intp, types.int64), codegen


@intrinsic
def atomic_add(typingctx, array, index, value):
    """Adds ``value`` to ``array[index]`` atomically; returns the value before."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        pointer, value = _operands(context, builder, signature, args)
        return builder.atomic_rmw("add", pointer, value, _ORDER)

    return types.int64(array, types.intp, types.int64), codegen


@intrinsic
def atomic_compare_swap(typingctx, array, index, expected, value):
    """Sets ``array[index]`` to ``value`` if it holds ``expected``, atomically; True when it did."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        pointer, expected, value = _operands(context, builder, signature, args)
        return builder.extract_value(builder.cmpxchg(pointer, expected, value, _ORDER, _ORDER), 1)

    return types.boolean(array, types.intp, types.int64, types.int64), codegen


@intrinsic
def spin_pause(typingctx):
    """The processor's spin-wait hint (x86 ``pause``; nothing elsewhere), for loops that wait on another thread."""

    def codegen(context, builder, signature, args):
        import platform

        if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
            pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(pause, [])
        return context.get_dummy_value()

    return types.void(), codegen
