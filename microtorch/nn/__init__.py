"""``microtorch.nn``: modules, layers, losses, ``functional`` and ``init`` (as ``torch.nn``)."""

from . import functional, init, utils
from .modules import (GELU, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, BCELoss,
                      BCEWithLogitsLoss, Conv2d, CrossEntropyLoss, Dropout, Flatten, Identity,
                      L1Loss, LeakyReLU, Linear, LogSoftmax, MaxPool2d, Module, ModuleDict,
                      ModuleList, MSELoss, NLLLoss, ReLU, Sequential, Sigmoid, SiLU, Softmax,
                      Tanh)
from .modules import MultiheadAttention
from .modules import (Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                      TransformerEncoderLayer)
from .modules import Embedding, LayerNorm, RMSNorm
from .parameter import Buffer, Parameter
