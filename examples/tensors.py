"""PyTorch's 60-minute blitz, chapter 1 ("Tensors"), run on microtorch. Only the import differs
from the tutorial (and ``out=`` arguments, which microtorch does not take).

    python examples/tensors.py
"""

import numpy as np

import microtorch as torch

torch.manual_seed(0)

# ---- Initializing a tensor -----------------------------------------------------------------
# Directly from data: the data type is inferred (Python ints give int64, floats float32).
data = [[1, 2], [3, 4]]
x_data = torch.tensor(data)
print(x_data)

# From a NumPy array (the tensor shares the array's memory, see "Bridge with NumPy" below).
np_array = np.array(data)
x_np = torch.from_numpy(np_array)
print(x_np)

# From another tensor: the new tensor keeps the shape and dtype of the argument unless told.
x_ones = torch.ones_like(x_data)  # retains the properties of x_data
print(f"Ones Tensor: \n {x_ones} \n")

x_rand = torch.rand_like(x_data, dtype=torch.float)  # overrides the datatype of x_data
print(f"Random Tensor: \n {x_rand} \n")

# With random or constant values: shape is a tuple of dimensions.
shape = (2, 3,)
rand_tensor = torch.rand(shape)
ones_tensor = torch.ones(shape)
zeros_tensor = torch.zeros(shape)

print(f"Random Tensor: \n {rand_tensor} \n")
print(f"Ones Tensor: \n {ones_tensor} \n")
print(f"Zeros Tensor: \n {zeros_tensor}")

# ---- Attributes of a tensor ----------------------------------------------------------------
tensor = torch.rand(3, 4)

print(f"Shape of tensor: {tensor.shape}")
print(f"Datatype of tensor: {tensor.dtype}")
print(f"Device tensor is stored on: {tensor.device}")

# ---- Operations on tensors -----------------------------------------------------------------
# Tensors live on the CPU by default; move them to the GPU when one is available.
if torch.cuda.is_available():
    tensor = tensor.to("cuda")
    print(f"Device tensor is stored on: {tensor.device}")

# Standard NumPy-like indexing and slicing:
tensor = torch.ones(4, 4)
print(f"First row: {tensor[0]}")
print(f"First column: {tensor[:, 0]}")
print(f"Last column: {tensor[..., -1]}")
tensor[:, 1] = 0
print(tensor)

# Joining tensors: torch.cat concatenates along an existing dimension (torch.stack adds one).
t1 = torch.cat([tensor, tensor, tensor], dim=1)
print(t1)

# Arithmetic: y1 and y2 are the matrix product, z1 and z2 the element-wise product.
y1 = tensor @ tensor.T
y2 = tensor.matmul(tensor.T)
print(y1)
print(torch.equal(y1, y2))

z1 = tensor * tensor
z2 = tensor.mul(tensor)
print(z1)
print(torch.equal(z1, z2))

# Single-element tensors: item() converts a one-element tensor to a Python number.
agg = tensor.sum()
agg_item = agg.item()
print(agg_item, type(agg_item))

# In-place operations end with an underscore: x.copy_(y), x.t_(), x.add_(5) change x.
print(f"{tensor} \n")
tensor.add_(5)
print(tensor)

# ---- Bridge with NumPy ---------------------------------------------------------------------
# Tensors on the CPU and NumPy arrays can share memory: changing one changes the other.
t = torch.ones(5)
print(f"t: {t}")
n = t.numpy()
print(f"n: {n}")

t.add_(1)
print(f"t: {t}")
print(f"n: {n}")

# NumPy array to tensor: changes in the array show in the tensor.
n = np.ones(5)
t = torch.from_numpy(n)

np.add(n, 1, out=n)
print(f"t: {t}")
print(f"n: {n}")
