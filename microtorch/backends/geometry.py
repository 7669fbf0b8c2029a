"""Output sizes of convolution and pooling windows, shared by every backend."""


def pooled_size(size, kernel, stride, padding, dilation, ceil_mode):
    """Pooled length of one spatial dimension, PyTorch's ``pooling_output_shape``."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out
