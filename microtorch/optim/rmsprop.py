"""RMSprop."""

from .. import _creation
from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _params_with_grad


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), with PyTorch's update:

    ::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        a = sqrt(s - mean_g^2) if centered (mean_g = running mean of g) else sqrt(s)
        b = momentum * b + g / (a + eps);  p = p - lr * b      (momentum > 0)
        p = p - lr * g / (a + eps)                             (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if alpha < 0.0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
            for p in _params_with_grad(group):
                g = p.grad if not group["maximize"] else -p.grad
                state = self.state.setdefault(p, {})
                if not state:
                    state["step"] = _creation.tensor(0.0)
                    state["square_avg"] = _creation.zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _creation.zeros_like(p)
                    if group["centered"]:
                        state["grad_avg"] = _creation.zeros_like(p)
                state["step"] += 1
                if group["weight_decay"] != 0:
                    g = g.add(p, alpha=group["weight_decay"])
                s = state["square_avg"]
                s.mul_(alpha).addcmul_(g, g, value=1 - alpha)
                if group["centered"]:
                    ga = state["grad_avg"]
                    ga.lerp_(g, 1 - alpha)
                    avg = (s - ga * ga).sqrt()
                else:
                    avg = s.sqrt()
                avg = avg.add_(eps)
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum).addcdiv_(g, avg)
                    p.add_(buf, alpha=-group["lr"])
                else:
                    p.addcdiv_(g, avg, value=-group["lr"])
        return loss
