"""Vectors of 8 floats for numba kernels: the 8 kernel-strand lanes in one register.

Numba leaves LLVM's SLP vectoriser off, so 8 scalar lanes written out in
numba stay 8 scalar instructions, and its loop vectoriser does not take an
8-trip inner loop over a look-up row (the row and the accumulator may
alias). These intrinsics give a numba function LLVM's own vector type
``<8 x float>`` (and ``<8 x double>`` for sums): a load of 8 consecutive
float32, an add, a max, a compare. LLVM lowers them for the machine numba
compiles for: one 256-bit register with AVX2 or AVX-512, two 128-bit ones
with SSE only; the results are the same everywhere (IEEE float32 adds, in
the order the code gives).

Only compiled code can use them (imported lazily, with numba).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = [
    "add8",
    "add8d",
    "any_ge8",
    "load8",
    "load8d",
    "max8",
    "relu8",
    "leaky8",
    "splat8",
    "store8",
    "store8d",
    "swap_pairs8",
    "widen_add8",
    "zeros8d",
]

_F32X8 = ir.VectorType(ir.FloatType(), 8)
_F64X8 = ir.VectorType(ir.DoubleType(), 8)


class _F32x8(types.Type):
    def __init__(self):
        super().__init__(name="f32x8")


class _F64x8(types.Type):
    def __init__(self):
        super().__init__(name="f64x8")


f32x8 = _F32x8()
f64x8 = _F64x8()


@register_model(_F32x8)
class _F32x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _F32X8)


@register_model(_F64x8)
class _F64x8Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _F64X8)


def _is_array(array, dtype) -> bool:
    return isinstance(array, types.Array) and array.ndim == 1 and array.dtype == dtype


def _address(context, builder, array_type, array, index_type, index, vector):
    """Pointer to ``array[index]`` as a pointer to ``vector``."""
    data = context.make_array(array_type)(context, builder, array).data
    index = context.cast(builder, index, index_type, types.intp)
    return builder.bitcast(builder.gep(data, [index]), vector.as_pointer())


@intrinsic
def load8(typingctx, array, index):
    """``array[index : index + 8]`` (1-D contiguous float32) as a vector."""
    if not _is_array(array, types.float32) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], sig.args[1], args[1], _F32X8)
        return builder.load(pointer, align=4)

    return f32x8(array, index), codegen


@intrinsic
def load8d(typingctx, array, index):
    """``array[index : index + 8]`` (1-D contiguous float64) as a vector."""
    if not _is_array(array, types.float64) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], sig.args[1], args[1], _F64X8)
        return builder.load(pointer, align=8)

    return f64x8(array, index), codegen


@intrinsic
def store8(typingctx, array, index, value):
    """``array[index : index + 8] = value`` (1-D contiguous float32)."""
    if not _is_array(array, types.float32) or value != f32x8:
        return None

    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], sig.args[1], args[1], _F32X8)
        builder.store(args[2], pointer, align=4)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@intrinsic
def store8d(typingctx, array, index, value):
    """``array[index : index + 8] = value`` (1-D contiguous float64)."""
    if not _is_array(array, types.float64) or value != f64x8:
        return None

    def codegen(context, builder, sig, args):
        pointer = _address(context, builder, sig.args[0], args[0], sig.args[1], args[1], _F64X8)
        builder.store(args[2], pointer, align=8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@intrinsic
def splat8(typingctx, value):
    """A vector of 8 copies of ``value`` (cast to float32)."""
    if not isinstance(value, (types.Float, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        scalar = context.cast(builder, args[0], sig.args[0], types.float32)
        vector = cgutils.get_null_value(_F32X8)
        for lane in range(8):
            vector = builder.insert_element(vector, scalar, ir.Constant(ir.IntType(32), lane))
        return vector

    return f32x8(value), codegen


@intrinsic
def zeros8d(typingctx):
    """A vector of 8 float64 zeros."""

    def codegen(context, builder, sig, args):
        return cgutils.get_null_value(_F64X8)

    return f64x8(), codegen


@intrinsic
def add8(typingctx, a, b):
    """``a + b`` lane by lane."""
    if a != f32x8 or b != f32x8:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return f32x8(a, b), codegen


@intrinsic
def add8d(typingctx, a, b):
    """``a + b`` lane by lane (float64)."""
    if a != f64x8 or b != f64x8:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return f64x8(a, b), codegen


@intrinsic
def widen_add8(typingctx, total, a):
    """``total + float64(a)`` lane by lane (a float64 sum of float32 values)."""
    if total != f64x8 or a != f32x8:
        return None

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], builder.fpext(args[1], _F64X8))

    return f64x8(total, a), codegen


@intrinsic
def max8(typingctx, a, b):
    """``max(a, b)`` lane by lane, as Python's: ``b if b > a else a``."""
    if a != f32x8 or b != f32x8:
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered(">", args[1], args[0]), args[1], args[0])

    return f32x8(a, b), codegen


@intrinsic
def swap_pairs8(typingctx, a):
    """Lanes ``1, 0, 3, 2, 5, 4, 7, 6`` of ``a`` (each lane with its neighbour's value)."""
    if a != f32x8:
        return None

    def codegen(context, builder, sig, args):
        mask = ir.Constant(ir.VectorType(ir.IntType(32), 8), [1, 0, 3, 2, 5, 4, 7, 6])
        return builder.shuffle_vector(args[0], args[0], mask)

    return f32x8(a), codegen


@intrinsic
def any_ge8(typingctx, a, b):
    """Whether ``a >= b`` in any lane."""
    if a != f32x8 or b != f32x8:
        return None

    def codegen(context, builder, sig, args):
        bits = builder.bitcast(builder.fcmp_ordered(">=", args[0], args[1]), ir.IntType(8))
        return builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(8), 0))

    return types.boolean(a, b), codegen


@intrinsic
def relu8(typingctx, a):
    """``x if x > 0 else 0`` lane by lane."""
    if a != f32x8:
        return None

    def codegen(context, builder, sig, args):
        zero = cgutils.get_null_value(_F32X8)
        return builder.select(builder.fcmp_ordered(">", args[0], zero), args[0], zero)

    return f32x8(a), codegen


@intrinsic
def leaky8(typingctx, a, slope, cap):
    """``leaky if leaky <= cap else cap``, ``leaky = x if x > 0 else x * slope``, by lane."""
    if a != f32x8 or slope != f32x8 or cap != f32x8:
        return None

    def codegen(context, builder, sig, args):
        x, slopes, caps = args
        zero = cgutils.get_null_value(_F32X8)
        leaky = builder.select(builder.fcmp_ordered(">", x, zero), x, builder.fmul(x, slopes))
        return builder.select(builder.fcmp_ordered("<=", leaky, caps), leaky, caps)

    return f32x8(a, slope, cap), codegen
