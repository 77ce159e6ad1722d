"""Software prefetch for kernels that read rows of a large matrix in random
order (class rows of ``W`` during a sampled step, candidate scoring).

Such loops are bound by memory latency, not arithmetic: at C = 10^5 classes
(``W`` far larger than the L2 cache) each random row costs a few hundred
nanoseconds to fetch. Asking for row ``ptr + PREFETCH_DISTANCE`` while row
``ptr`` is processed overlaps those fetches; a prefetch is only a hint (it
never faults and never changes a result), so the kernels stay exact.

``prefetch_row(A, i)`` hints the first ``MAX_PREFETCH_BYTES`` of row ``i``
of a C-contiguous 2-D array; ``prefetch_item(a, i)`` the cache line of
``a[i]`` of a 1-D array.
"""

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

PREFETCH_DISTANCE = 8
MAX_PREFETCH_BYTES = 512
_CACHE_LINE = 64


@intrinsic
def _prefetch(typingctx, array, index, byte_offset):
    """``llvm.prefetch`` (read, high locality) of the address of
    ``array[index, 0]`` (or ``array[index]``) plus ``byte_offset`` bytes."""
    if not isinstance(array, types.Array) or array.ndim not in (1, 2):
        return None

    def codegen(context, builder, signature, args):
        array_type, index_type, offset_type = signature.args
        ary = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], index_type, types.intp)
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer2(
            context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
            strides=cgutils.unpack_tuple(builder, ary.strides), layout=array_type.layout,
            inds=[index] + [zero] * (array_type.ndim - 1),
        )  # fmt: skip
        byte_pointer_type = ir.IntType(8).as_pointer()
        address = builder.gep(
            builder.bitcast(pointer, byte_pointer_type), [context.cast(builder, args[2], offset_type, types.intp)]
        )
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer_type, int32, int32, int32])
        function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0i8")
        # rw = 0 (read), locality = 3 (keep in all cache levels), data cache.
        builder.call(function, [address, ir.Constant(int32, 0), ir.Constant(int32, 3), ir.Constant(int32, 1)])
        return context.get_dummy_value()

    return types.none(array, index, byte_offset), codegen


@numba.njit(cache=True, inline="always")
def prefetch_row(matrix, row):
    """Hint that row ``row`` of the 2-D array ``matrix`` will be read soon."""
    n_bytes = min(matrix.shape[1] * matrix.itemsize, MAX_PREFETCH_BYTES)
    for offset in range(0, n_bytes, _CACHE_LINE):
        _prefetch(matrix, row, offset)


@numba.njit(cache=True, inline="always")
def prefetch_item(array, index):
    """Hint that ``array[index]`` (1-D) will be read soon."""
    _prefetch(array, index, 0)
