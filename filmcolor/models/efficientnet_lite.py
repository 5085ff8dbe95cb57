"""EfficientNet-Lite0 as a feature encoder whose parameter names match the published state dict.

Lite variants have no squeeze-excite and use ReLU6. Padding is symmetric (k // 2) rather than
TensorFlow's "same", which keeps the graph free of shape-dependent pads (clean ONNX export); the
half-pixel shift this gives against the pretrained weights is absorbed by fine-tuning.
"""

from __future__ import annotations

import torch
import torch.nn as nn

BN_EPS = 1e-3  # TensorFlow's default, which the pretrained statistics were computed with
# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage of Lite0
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280


class MBConvBlock(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no squeeze-excite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0Encoder(nn.Module):
    """(N, in_channels, H, W) -> feature maps at strides 4, 8, 16 and 32 (24, 40, 112, 1280 ch)."""

    tap_channels = (24, 40, 112, HEAD_CHANNELS)

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self._conv_stem = nn.Conv2d(in_channels, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(LITE0_STAGES[-1][5], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        # index of the last block at each tapped stride (4, 8, 16); the head gives stride 32
        self.tap_after = (2, 4, 10)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act(self._bn0(self._conv_stem(x)))
        taps = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.tap_after:
                taps.append(x)
        taps.append(self.act(self._bn1(self._conv_head(x))))
        return taps

    def load_pretrained(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load the ImageNet state dict strictly (classifier dropped, RGB stem summed to our channels)."""
        sd = {k: v for k, v in state_dict.items() if not k.startswith("_fc.")}
        stem = sd["_conv_stem.weight"]  # (32, 3, 3, 3)
        in_c = self._conv_stem.weight.shape[1]
        sd["_conv_stem.weight"] = stem.sum(dim=1, keepdim=True).repeat(1, in_c, 1, 1) / in_c
        self.load_state_dict(sd, strict=True)
