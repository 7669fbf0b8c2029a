"""ResNet-18/34/50 with torchvision's exact architecture and state_dict keys.

``resnet18(weights=...)`` takes None (random init, as torchvision), a path to a checkpoint, or
"DEFAULT" (also ``pretrained=True``): torchvision's ImageNet weights read from its cache file
``$TORCH_HOME/hub/checkpoints/<name>`` when present. Nothing is downloaded.
"""

import os

from .. import nn
from ..serialization import load

_URLS = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-b627a593.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
}


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convolutions with a residual connection (ResNet-50)."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """The ImageNet ResNet: 7x7 stem, max pool, four stages of blocks, global average pool, fc.

    Initialisation follows torchvision: kaiming_normal (fan_out, relu) convolutions, BatchNorm
    weight 1 and bias 0, and optionally zero-initialised last BN of each residual branch.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, norm_layer=None):
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        self.dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


def weights_path(arch):
    """Where torchvision caches ``arch``'s ImageNet weights (``$TORCH_HOME/hub/checkpoints``)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return os.path.join(home, "hub", "checkpoints", os.path.basename(_URLS[arch]))


def _resolve_weights(arch, weights, pretrained):
    if pretrained:
        weights = "DEFAULT"
    if weights is None:
        return None
    weights = str(weights)
    if weights in ("DEFAULT", "IMAGENET1K_V1", "IMAGENET1K_V2"):
        path = weights_path(arch)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{arch} ImageNet weights not found at {path}. microtorch does not download: "
                f"fetch {_URLS[arch]} and put it there (or set TORCH_HOME), or pass "
                f"weights=<path to a checkpoint>.")
        return path
    if not os.path.exists(weights):
        raise FileNotFoundError(f"No such weights file: '{weights}'")
    return weights


def _resnet(arch, block, layers, weights, pretrained, progress, **kwargs):
    path = _resolve_weights(arch, weights, pretrained)
    model = ResNet(block, layers, **kwargs)
    if path is not None:
        model.load_state_dict(load(path, map_location="cpu"))
    return model


def resnet18(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-18 (torchvision architecture: 62 parameters, 122 state_dict entries)."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, pretrained, progress,
                   **kwargs)


def resnet34(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-34 (torchvision architecture)."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, pretrained, progress,
                   **kwargs)


def resnet50(*, weights=None, progress=True, pretrained=False, **kwargs):
    """ResNet-50 with bottleneck blocks (torchvision architecture)."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, pretrained, progress,
                   **kwargs)
