"""The kernel contract: every device backend implements exactly these functions.

The ops layer (``microtorch/ops``) computes *only* through these names, so a new device is a new
module that implements this list. Arrays are the device's native arrays (``numpy.ndarray`` on the
CPU, numba's ``DeviceNDArray`` on CUDA). Shapes, dtypes and indices are validated by the ops
layer before a kernel runs; kernels may assume:

* binary inputs have the same dtype and broadcastable shapes (any strides, 0-strides included);
* ``axes`` are non-negative, sorted and unique; ``axis`` is non-negative;
* dtypes are numpy dtypes from :data:`microtorch._dtype` (float32, float64, int64, int32, uint8,
  bool); integer arithmetic wraps around on overflow, bitwise ops get bool or integer arrays.

Functions that take ``out=`` write there (it has the result's shape and dtype) and return it.
"""

UNARY_OPS = ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid",
             "relu", "sign", "reciprocal", "erf")
BINARY_OPS = ("add", "sub", "mul", "div", "pow", "maximum", "minimum",
              "bitwise_and", "bitwise_or", "bitwise_xor",
              "eq", "ne", "lt", "le", "gt", "ge")
REDUCE_OPS = ("sum", "prod", "max", "min")

KERNELS = {
    # memory
    "empty": "empty(shape, dtype) -> new uninitialised array",
    "full": "full(shape, value, dtype) -> new array filled with value",
    "arange": "arange(start, end, step, dtype) -> 1-D array",
    "from_numpy": "from_numpy(ndarray) -> device array (the CPU shares memory)",
    "to_numpy": "to_numpy(array) -> numpy.ndarray (the CPU shares memory)",
    "contiguous": "contiguous(x) -> x if C-contiguous, else a C-contiguous copy",
    "astype": "astype(x, dtype) -> new array of that dtype",
    "copy_": "copy_(dst, src) -> dst, src broadcast to dst's shape and cast to its dtype",
    # views (share memory with x)
    "view": "view(x, shape) -> x with a new shape sharing memory, or None if strides forbid it",
    "permute": "permute(x, dims) -> x with axes reordered, sharing memory",
    "expand": "expand(x, shape) -> x broadcast to shape with 0-strides, sharing memory",
    # random numbers; gen is the device's generator object
    "uniform": "uniform(shape, dtype, gen) -> samples of U[0, 1)",
    "normal": "normal(shape, dtype, gen) -> samples of N(0, 1)",
    "randint": "randint(low, high, shape, gen) -> int64 samples of [low, high)",
    # elementwise
    "unary": "unary(op, x, out=None) -> op(x); op in UNARY_OPS",
    "binary": "binary(op, a, b, out=None) -> op(a, b) broadcast; comparisons give bool",
    "where": "where(cond, a, b) -> broadcast select",
    "clamp": "clamp(x, lo, hi, out=None) -> x clipped to [lo, hi]; lo or hi may be None",
    # reductions
    "reduce": "reduce(op, x, axes, keepdim) -> op over axes; op in REDUCE_OPS",
    "arg_reduce": "arg_reduce(op, x, axis, keepdim) -> int64 indices; op in ('argmax', 'argmin')",
    # linear algebra
    "matmul": "matmul(a, b) -> a @ b for a (..., M, K), b (..., K, N), batch dims broadcast",
    # indexing
    "getitem": "getitem(x, index) -> x[index] (numpy indexing; views for basic indices)",
    "setitem": "setitem(x, index, value) -> writes value into x[index]",
    "index_add": "index_add(out, index, value) -> out[index] += value, accumulating repeats",
    "gather": "gather(x, dim, index) -> out[i][j] = x[index[i][j]][j] (for dim=0), etc.",
    "scatter_add": "scatter_add(out, dim, index, src) -> out[index[i][j]][j] += src[i][j], ...",
    "cat": "cat(arrays, dim) -> concatenation",
    # neural-network kernels (NCHW, C-contiguous float arrays)
    "conv2d": "conv2d(x, w, stride, padding, dilation, groups) -> y",
    "conv2d_grad_input": "conv2d_grad_input(gy, w, x_shape, stride, padding, dilation, groups)",
    "conv2d_grad_weight": "conv2d_grad_weight(x, gy, w_shape, stride, padding, dilation, groups)",
    "max_pool2d": "max_pool2d(x, kernel, stride, padding, dilation, ceil_mode) -> (y, argmax)",
    "max_pool2d_backward": "max_pool2d_backward(gy, argmax, x_shape) -> gx",
    "avg_pool2d": "avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, "
                  "divisor_override=None) -> y",
    "avg_pool2d_backward": "avg_pool2d_backward(gy, x_shape, kernel, stride, padding, "
                           "ceil_mode, count_include_pad, divisor_override=None) -> gx",
    "adaptive_avg_pool2d": "adaptive_avg_pool2d(x, output_size) -> y (torch's floor/ceil bins)",
    "adaptive_avg_pool2d_backward": "adaptive_avg_pool2d_backward(gy, x_shape) -> gx",
    "batch_norm": "batch_norm(x, weight, bias, mean, invstd) -> y, per channel (axis 1)",
    "batch_norm_stats": "batch_norm_stats(x) -> (mean, biased var) per channel (axis 1)",
    "batch_norm_backward": "batch_norm_backward(gy, x, weight, mean, invstd, training) "
                           "-> (gx, gweight, gbias)",
    "softmax": "softmax(x, axis, log) -> softmax or log_softmax along axis",
    "softmax_backward": "softmax_backward(gy, y, axis, log) -> gx given the forward output y",
}
