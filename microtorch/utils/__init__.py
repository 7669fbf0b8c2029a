"""``microtorch.utils``: data loading (``utils.data``) and helpers such as the autograd graph
drawer (``utils.viz``)."""

from . import data  # noqa: E402,F401  (datasets: ``microtorch.utils.datasets``, imported on use)
