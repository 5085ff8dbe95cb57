"""filmcolor-fast: EfficientNet-Lite0 U-Net predicting ab at 1/4 resolution, built for video speed."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from filmcolor.models import register
from filmcolor.models.efficientnet_lite import EfficientNetLite0Encoder


def conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class FastColorNet(nn.Module):
    """(N, 1, H, W) normalised L -> (N, 2, H/4, W/4) normalised ab (tanh); H, W multiples of 32."""

    output_stride = 4
    size_multiple = 32

    def __init__(self, decoder_channels: tuple[int, int, int, int] = (128, 128, 64, 48)):
        super().__init__()
        self.encoder = EfficientNetLite0Encoder(in_channels=1)
        c4, c8, c16, c32 = self.encoder.tap_channels
        d32, d16, d8, d4 = decoder_channels
        self.lateral32 = conv_bn_relu(c32, d32, 1)
        self.fuse16 = conv_bn_relu(d32 + c16, d16, 3)
        self.fuse8 = conv_bn_relu(d16 + c8, d8, 3)
        self.fuse4 = conv_bn_relu(d8 + c4, d4, 3)
        self.refine4 = conv_bn_relu(d4, d4, 3)
        self.head = nn.Conv2d(d4, 2, 1)

    @staticmethod
    def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False), skip], 1)

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        s4, s8, s16, s32 = self.encoder(l_norm)
        x = self.lateral32(s32)
        x = self.fuse16(self._up_cat(x, s16))
        x = self.fuse8(self._up_cat(x, s8))
        x = self.refine4(self.fuse4(self._up_cat(x, s4)))
        return torch.tanh(self.head(x))


@register("filmcolor-fast", "generator", "EfficientNet-Lite0 U-Net, ab at 1/4 resolution")
def filmcolor_fast(decoder_channels: tuple[int, int, int, int] | list[int] = (128, 128, 64, 48)) -> FastColorNet:
    return FastColorNet(tuple(decoder_channels))
