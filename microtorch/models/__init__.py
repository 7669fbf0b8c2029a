"""``microtorch.models``: ResNet-18/34/50 (torchvision's architecture), LeNet and a
CIFAR-style ResNet."""

from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .small import CifarResNet, LeNet, resnet20
