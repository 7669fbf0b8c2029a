"""PyTorch's 60-minute blitz, chapter 2 ("A gentle introduction to torch.autograd"), run on
microtorch. Only the import differs from the tutorial; torchvision's ImageNet weights are used
when they are in torchvision's cache, random weights otherwise (nothing is downloaded).

    python examples/autograd_tutorial.py
"""

import os

import microtorch as torch
from microtorch import nn, optim
from microtorch.models import resnet18
from microtorch.models.resnet import weights_path

torch.manual_seed(0)

# ---- Usage in PyTorch: one training step of a ResNet-18 ------------------------------------
weights = "DEFAULT" if os.path.exists(weights_path("resnet18")) else None
model = resnet18(weights=weights)
data = torch.rand(1, 3, 64, 64)
labels = torch.rand(1, 1000)

prediction = model(data)  # forward pass
loss = (prediction - labels).sum()
loss.backward()  # backward pass

optim_ = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
print(optim_)
optim_.step()  # gradient descent
print("prediction:", prediction.shape, "loss grad_fn:", loss.grad_fn)

# ---- Differentiation in Autograd -----------------------------------------------------------
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3 * a**3 - b**2
print(Q)

external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)

# Check if collected gradients are correct
print(9 * a**2 == a.grad)
print(-2 * b == b.grad)

# The same gradients from Q.sum(), a scalar: Q.sum().backward() is Q.backward(ones)
a.grad, b.grad = None, None
Q = 3 * a**3 - b**2
Q.sum().backward()
print(a.grad, b.grad)

# ---- Vector calculus: the vector-Jacobian product ------------------------------------------
# Q.backward(gradient=v) computes v^T . J without forming J; compare with the full Jacobian.
def q_of(a, b):
    return 3 * a**3 - b**2


v = torch.tensor([1., 0.5])
J_a, J_b = torch.autograd.functional.jacobian(q_of, (a.detach(), b.detach()))
a.grad, b.grad = None, None
q_of(a, b).backward(gradient=v)
print("J_a =", J_a)
print("v^T J_a =", v @ J_a, "a.grad =", a.grad)
print("v^T J_b =", v @ J_b, "b.grad =", b.grad)

# ---- Computational graph -------------------------------------------------------------------
print(Q.grad_fn)
print(Q.grad_fn.next_functions)

# ---- Exclusion from the DAG ----------------------------------------------------------------
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients?: {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")

with torch.no_grad():
    c = x + z
print(f"Does `c` (made under no_grad) require gradients?: {c.requires_grad}")

# Freeze the network and fine-tune only a new classifier
model = resnet18(weights=weights)
for param in model.parameters():
    param.requires_grad = False

model.fc = nn.Linear(512, 10)
optimizer = optim.SGD(model.fc.parameters(), lr=1e-2, momentum=0.9)

prediction = model(data)
loss = (prediction - torch.rand(1, 10)).sum()
loss.backward()
optimizer.step()
trainable = [name for name, p in model.named_parameters() if p.grad is not None]
print("parameters with gradients after fine-tuning step:", trainable)
