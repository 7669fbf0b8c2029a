"""Differentiable ops, one ``Function`` per op with its forward and backward side by side.

Importing this package imports every op module, and with it every op's registration
(:mod:`microtorch.ops._register`): the ``Tensor`` methods are bound and
``TORCH_FUNCTIONS``/``FUNCTIONAL`` hold the names ``microtorch`` and ``nn.functional`` bind.
"""

from . import elementwise, indexing, inplace, linalg, nn, reduction, shape, softmax
from . import embedding, normalization  # noqa: E402
from . import masking  # noqa: E402
from . import scan  # noqa: E402
from . import sorting  # noqa: E402
from . import attention  # noqa: E402
