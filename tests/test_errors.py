"""Bad input: every error has a test of its class and message (and, where PyTorch is installed,
of the same class and message fragment from PyTorch)."""

import pytest

import microtorch as mt


def _backward_twice(L):
    x = L.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _saved_tensor_modified(L):
    x = L.ones(3, requires_grad=True)
    y = x * 2
    z = y.sin()
    y.add_(1)
    z.sum().backward()


def _setitem_on_leaf(L):
    x = L.ones(3, requires_grad=True)
    x[0] = 2.0


CASES = {
    "ragged_list": (lambda L: L.tensor([[1, 2], [3]]), ValueError,
                    "expected sequence of length 2 at dim 1 (got 1)"),
    "broadcast": (lambda L: L.ones(2, 3) + L.ones(2, 4), RuntimeError,
                  "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                  "dimension 1"),
    "broadcast_inplace": (lambda L: L.ones(3).add_(L.ones(2, 3)), RuntimeError,
                          "doesn't match the broadcast shape [2, 3]"),
    "matmul_shapes": (lambda L: L.ones(2, 3) @ L.ones(4, 5), RuntimeError,
                      "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    "matmul_dtypes": (lambda L: L.ones(2, 3) @ L.ones(3, 2, dtype=L.float64), RuntimeError,
                      "expected m1 and m2 to have the same dtype, but got: float != double"),
    "matmul_0d": (lambda L: L.tensor(1.0) @ L.ones(2), RuntimeError,
                  "both arguments to matmul need to be at least 1D"),
    "dot_sizes": (lambda L: L.ones(2).dot(L.ones(3)), RuntimeError, "inconsistent tensor size"),
    "bmm_rank": (lambda L: L.bmm(L.ones(2, 3), L.ones(2, 3)), RuntimeError,
                 "batch1 must be a 3D tensor"),
    "bad_view": (lambda L: L.ones(2, 3).t().view(6), RuntimeError,
                 "view size is not compatible with input tensor's size and stride"),
    "two_minus_one": (lambda L: L.ones(2, 3).reshape(-1, -1), RuntimeError,
                      "only one dimension can be inferred"),
    "bad_reshape": (lambda L: L.ones(2, 3).reshape(4), RuntimeError,
                    "shape '[4]' is invalid for input of size 6"),
    "index_out_of_range": (lambda L: L.ones(2, 3)[2], IndexError,
                           "index 2 is out of bounds for dimension 0 with size 2"),
    "index_out_of_range_dim1": (lambda L: L.ones(2, 3)[:, -4], IndexError,
                                "index -4 is out of bounds for dimension 1 with size 3"),
    "too_many_indices": (lambda L: L.ones(2, 3)[0, 0, 0], IndexError,
                         "too many indices for tensor of dimension 2"),
    "index_tensor_out_of_range": (lambda L: L.ones(2, 3)[L.tensor([0, 5])], IndexError,
                                  "out of bounds for dimension 0 with size 2"),
    "float_index": (lambda L: L.ones(2)[1.5], IndexError,
                    "only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                    "Variables are valid indices"),
    "mask_shape": (lambda L: L.ones(2, 3)[L.tensor([True, False, True])], IndexError,
                   "The shape of the mask [3] at index 0 does not match the shape of the "
                   "indexed tensor [2, 3] at index 0"),
    "mask_shape_dim1": (lambda L: L.ones(2, 3)[:, L.tensor([True, False])], IndexError,
                        "The shape of the mask [2] at index 0 does not match the shape of the "
                        "indexed tensor [2, 3] at index 1"),
    "dim_out_of_range": (lambda L: L.ones(2, 3).sum(2), IndexError,
                         "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    "dim_out_of_range_transpose": (lambda L: L.ones(2, 3).transpose(0, -3), IndexError,
                                   "Dimension out of range (expected to be in range of [-2, 1], "
                                   "but got -3)"),
    "requires_grad_int": (lambda L: L.ones(2, dtype=L.int64).requires_grad_(), RuntimeError,
                          "only Tensors of floating point dtype can require gradients"),
    "requires_grad_int_factory": (lambda L: L.tensor([1, 2], requires_grad=True), RuntimeError,
                                  "Only Tensors of floating point and complex dtype can require "
                                  "gradients"),
    "non_scalar_backward": (lambda L: L.ones(2, requires_grad=True).mul(2).backward(),
                            RuntimeError, "grad can be implicitly created only for scalar outputs"),
    "backward_twice": (_backward_twice, RuntimeError,
                       "Trying to backward through the graph a second time"),
    "backward_without_grad_fn": (lambda L: L.ones(2).sum().backward(), RuntimeError,
                                 "element 0 of tensors does not require grad and does not have "
                                 "a grad_fn"),
    "inplace_on_leaf": (lambda L: L.ones(2, requires_grad=True).add_(1), RuntimeError,
                        "a leaf Variable that requires grad is being used in an in-place "
                        "operation."),
    "setitem_on_leaf": (_setitem_on_leaf, RuntimeError,
                        "a leaf Variable that requires grad is being used in an in-place "
                        "operation."),
    "saved_tensor_modified": (_saved_tensor_modified, RuntimeError,
                              "one of the variables needed for gradient computation has been "
                              "modified by an inplace operation: [torch.FloatTensor [3]], which "
                              "is output 0 of Add, is at version 1; expected version 0 instead"),
    "gradient_wrong_shape": (lambda L: (L.ones(2, requires_grad=True) * 2).backward(L.ones(3)),
                             RuntimeError, "Mismatch in shape: grad_output[0] has a shape of "
                             "torch.Size([3]) and output[0] has a shape of torch.Size([2])"),
    "item_many": (lambda L: L.ones(2).item(), RuntimeError,
                  "a Tensor with 2 elements cannot be converted to Scalar"),
    "bool_many": (lambda L: bool(L.ones(2)), RuntimeError,
                  "Boolean value of Tensor with more than one value is ambiguous"),
    "numpy_requires_grad": (lambda L: L.ones(2, requires_grad=True).numpy(), RuntimeError,
                            "Can't call numpy() on Tensor that requires grad. Use "
                            "tensor.detach().numpy() instead."),
    "expand": (lambda L: L.ones(2, 3).expand(3, 3), RuntimeError,
               "The expanded size of the tensor (3) must match the existing size (2) at "
               "non-singleton dimension 0"),
    "cat_sizes": (lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]), RuntimeError,
                  "Sizes of tensors must match except in dimension 0. Expected size 3 but got "
                  "size 4 for tensor number 1 in the list."),
    "stack_sizes": (lambda L: L.stack([L.ones(2), L.ones(3)]), RuntimeError,
                    "stack expects each tensor to be equal size, but got [2] at entry 0 and [3] "
                    "at entry 1"),
    "permute_duplicate": (lambda L: L.ones(2, 3).permute(0, 0), RuntimeError,
                          "duplicate dims are not allowed"),
    "split_sizes": (lambda L: L.ones(2, 3).split([1, 2]), RuntimeError,
                    "split_with_sizes expects split_sizes to sum exactly to 2"),
    "gather_index": (lambda L: L.ones(2, 3).gather(1, L.tensor([[0, 5], [0, 0]])), RuntimeError,
                     "index 5 is out of bounds for dimension 1 with size 3"),
    "mean_of_int": (lambda L: L.ones(3, dtype=L.int64).mean(), RuntimeError,
                    "mean(): could not infer output dtype. Input dtype must be either a floating "
                    "point or complex dtype. Got: Long"),
    "max_of_empty": (lambda L: L.zeros(0).max(), RuntimeError,
                     "max(): Expected reduction dim to be specified for input.numel() == 0."),
    "max_dim_of_empty": (lambda L: L.zeros(0, 3).max(0), IndexError,
                         "max(): Expected reduction dim 0 to have non-zero size."),
    "where_condition": (lambda L: L.where(L.ones(2), L.ones(2), L.ones(2)), RuntimeError,
                        "where expected condition to be a boolean tensor"),
    "sub_bools": (lambda L: L.tensor([True]) - L.tensor([False]), RuntimeError,
                  "Subtraction, the `-` operator, with two bool tensors is not supported"),
    "negative_size": (lambda L: L.empty(-1), RuntimeError,
                      "Trying to create tensor with negative dimension -1: [-1]"),
    "len_of_0d": (lambda L: len(L.tensor(1.0)), TypeError, "len() of a 0-d tensor"),
    "inplace_result_type": (lambda L: L.ones(2, dtype=L.int64).add_(1.5), RuntimeError,
                            "result type Float can't be cast to the desired output type Long"),
    "grad_of_non_requires_grad": (lambda L: L.autograd.grad(
        (L.ones(2, requires_grad=True) * 2).sum(), L.ones(2)), RuntimeError,
        "One of the differentiated Tensors does not require grad"),
    "change_requires_grad_of_non_leaf": (lambda L: setattr(
        L.ones(2, requires_grad=True) * 2, "requires_grad", False), RuntimeError,
        "you can only change requires_grad flags of leaf variables."),
}


@pytest.mark.parametrize("name", list(CASES))
def test_error(name):
    fn, cls, fragment = CASES[name]
    with pytest.raises(cls) as info:
        fn(mt)
    assert type(info.value) is cls
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", list(CASES))
def test_error_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, cls, fragment = CASES[name]
    with pytest.raises(Exception) as info:
        fn(torch)
    assert isinstance(info.value, cls)
    if name not in TORCH_WORDS_DIFFER:
        assert fragment in str(info.value)


# microtorch's own wording where PyTorch's message names internals microtorch does not have
TORCH_WORDS_DIFFER = {
    "broadcast_inplace",  # torch: "output with shape [3] doesn't match the broadcast shape [2, 3]"
    "dot_sizes", "len_of_0d",
}
