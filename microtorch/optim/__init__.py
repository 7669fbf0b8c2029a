"""``microtorch.optim``: optimizers and learning-rate schedulers (as ``torch.optim``)."""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD
