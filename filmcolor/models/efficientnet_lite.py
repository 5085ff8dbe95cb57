"""EfficientNet-Lite0 (or a wider, deeper Lite) as a feature encoder whose parameter names match the
published state dicts.

Lite variants have no squeeze-excite and use ReLU6. Padding is symmetric (k // 2) rather than
TensorFlow's "same", which keeps the graph free of shape-dependent pads (clean ONNX export); the
half-pixel shift this gives against the pretrained weights is absorbed by fine-tuning.
"""

from __future__ import annotations

import math

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
CHANNEL_DIVISOR = 8
# (width, depth) multipliers of the published Lite variants (Lite0 is the one the shipped networks use)
LITE_SCALES = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2), "lite3": (1.2, 1.4), "lite4": (1.4, 1.8)}


def scaled_stages(width: float, depth: float) -> list[tuple[int, int, int, int, int, int]]:
    """Lite0's stages scaled as EfficientNet-Lite scales them: channels by `width` rounded to a multiple of 8
    (never below 90% of the exact value), repeats by `depth` rounded up, except that the stem, the head and
    the first and last stages' repeats stay as Lite0's (the Lite variants' "fixed stem and head")."""

    def channels(c: int) -> int:
        exact = c * width
        rounded = max(CHANNEL_DIVISOR, int(exact + CHANNEL_DIVISOR / 2) // CHANNEL_DIVISOR * CHANNEL_DIVISOR)
        return rounded + CHANNEL_DIVISOR if rounded < 0.9 * exact else rounded

    stages = []
    for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(LITE0_STAGES):
        fixed = i in (0, len(LITE0_STAGES) - 1)
        stages.append((repeats if fixed else math.ceil(repeats * depth), kernel, stride, expand,
                       STEM_CHANNELS if i == 0 else channels(cin), channels(cout)))
    return stages


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
    """(N, in_channels, H, W) -> feature maps at strides 4, 8, 16 and 32 (Lite0: 24, 40, 112, 1280 ch).

    `stages` (default Lite0's) builds a wider, deeper Lite instead, e.g. `scaled_stages(*LITE_SCALES["lite2"])`.
    """

    def __init__(self, in_channels: int = 1, stages: list[tuple[int, int, int, int, int, int]] = LITE0_STAGES):
        super().__init__()
        self._conv_stem = nn.Conv2d(in_channels, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks, stride, last_at_stride = [], 2, {}
        for repeats, kernel, first_stride, expand, cin, cout in stages:
            stride *= first_stride
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, kernel, first_stride if i == 0 else 1, expand))
                last_at_stride[stride] = (len(blocks) - 1, cout)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][5], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        # index of the last block at each tapped stride (4, 8, 16); the head gives stride 32
        self.tap_after = tuple(last_at_stride[s][0] for s in (4, 8, 16))
        self.tap_channels = (*(last_at_stride[s][1] for s in (4, 8, 16)), HEAD_CHANNELS)

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
