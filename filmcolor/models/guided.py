"""filmcolor-guided: filmcolor-fast that also takes the user's colour guide (hints, a reference, a keyframe).

The guide is a dense map at the render size, (N, 3, H, W): normalised a, b and a confidence in [0, 1]
(0: nothing known there). It is built from sparse hints by propagation or from a reference photo by
feature matching (filmcolor/guide.py). It enters the decoder only, so one encoder pass serves both the
reference matching and the prediction, and the output is a learned, confidence-bounded mix of the
network's own ab and the guide's: with no guide (confidence 0 everywhere) the mix is exactly the
network's automatic colour.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from filmcolor.guide import GUIDE_CHANNELS
from filmcolor.models import register
from filmcolor.models.efficientnet_lite import EfficientNetLite0Encoder
from filmcolor.models.fast import FastColorNet, conv_bn_relu

# Initial gate bias: sigmoid(2) = 0.88 of the guide's confidence; the start is the naive propagation.
GATE_INIT_BIAS = 2.0


def pool_guide(guide: torch.Tensor, stride: int) -> torch.Tensor:
    """(N, 3, H, W) guide -> (N, 3, H/stride, W/stride): ab averaged by confidence, confidence averaged."""
    ab, conf = guide[:, :2], guide[:, 2:3]
    weighted = F.avg_pool2d(torch.cat([ab * conf, conf], 1), stride)
    conf_p = weighted[:, 2:3]
    return torch.cat([weighted[:, :2] / conf_p.clamp_min(1e-4), conf_p], 1)


def _guide_features(guide: torch.Tensor) -> torch.Tensor:
    """What the decoder convolutions see of a pooled guide: a*c, b*c, c (zero where nothing is known)."""
    return torch.cat([guide[:, :2] * guide[:, 2:3], guide[:, 2:3]], 1)


class GuidedColorNet(nn.Module):
    """(N, 1, H, W) normalised L + (N, 3, H, W) guide -> (N, 2, H/4, W/4) normalised ab; H, W multiples of 32."""

    output_stride = 4
    size_multiple = 32
    guide_channels = GUIDE_CHANNELS

    def __init__(self, decoder_channels: tuple[int, int, int, int] = (128, 128, 64, 48)):
        super().__init__()
        self.encoder = EfficientNetLite0Encoder(in_channels=1)
        c4, c8, c16, c32 = self.encoder.tap_channels
        d32, d16, d8, d4 = decoder_channels
        g = GUIDE_CHANNELS
        self.lateral32 = conv_bn_relu(c32, d32, 1)
        self.fuse16 = conv_bn_relu(d32 + c16 + g, d16, 3)
        self.fuse8 = conv_bn_relu(d16 + c8 + g, d8, 3)
        self.fuse4 = conv_bn_relu(d8 + c4 + g, d4, 3)
        self.refine4 = conv_bn_relu(d4 + g, d4, 3)
        self.head = nn.Conv2d(d4, 2, 1)
        self.gate = nn.Conv2d(d4 + g, 1, 3, padding=1)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, GATE_INIT_BIAS)

    def encode(self, l_norm: torch.Tensor) -> list[torch.Tensor]:
        """Encoder taps at strides 4, 8, 16, 32 (also the features that reference matching compares)."""
        return self.encoder(l_norm)

    def decode_features(self, taps: list[torch.Tensor], guide: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's last features (N, d4, H/4, W/4), before the ab head, and the guide pooled to them."""
        s4, s8, s16, s32 = taps
        g4 = pool_guide(guide, 4)
        g8, g16 = pool_guide(g4, 2), pool_guide(g4, 4)
        x = self.lateral32(s32)
        x = self.fuse16(torch.cat([FastColorNet._up_cat(x, s16), _guide_features(g16)], 1))
        x = self.fuse8(torch.cat([FastColorNet._up_cat(x, s8), _guide_features(g8)], 1))
        x = self.fuse4(torch.cat([FastColorNet._up_cat(x, s4), _guide_features(g4)], 1))
        return self.refine4(torch.cat([x, _guide_features(g4)], 1)), g4

    def decode(self, taps: list[torch.Tensor], guide: torch.Tensor) -> torch.Tensor:
        x, g4 = self.decode_features(taps, guide)
        ab_net = torch.tanh(self.head(x))
        gate = torch.sigmoid(self.gate(torch.cat([x, _guide_features(g4)], 1))) * g4[:, 2:3]
        return ab_net + gate * (g4[:, :2] - ab_net)

    def forward(self, l_norm: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(l_norm), guide)

    def init_from_unguided(self, state: dict[str, torch.Tensor]) -> None:
        """Start from filmcolor-fast weights: the guide's new input channels start at zero."""
        own = self.state_dict()
        for name, tensor in state.items():
            if name not in own:
                raise ValueError(f"unexpected tensor {name}")
            target = own[name]
            if target.shape == tensor.shape:
                target.copy_(tensor)
            elif target.ndim == 4 and target.shape[0] == tensor.shape[0] and target.shape[2:] == tensor.shape[2:]:
                target.zero_()
                target[:, : tensor.shape[1]].copy_(tensor)  # the new guide channels come last
            else:
                raise ValueError(f"{name}: {tuple(tensor.shape)} does not fit {tuple(target.shape)}")
        self.load_state_dict(own)


@register("filmcolor-guided", "generator", "filmcolor-fast + colour guide (hints, reference, keyframe); the default")
def filmcolor_guided(decoder_channels: tuple[int, int, int, int] | list[int] = (128, 128, 64, 48)) -> GuidedColorNet:
    return GuidedColorNet(tuple(decoder_channels))
