"""The seed's PatchGAN discriminator on L concatenated with ab."""

from __future__ import annotations

import torch
import torch.nn as nn

from filmcolor.models import register


class PatchDiscriminator(nn.Module):
    """(N, input_c, H, W) -> (N, 1, h, w) real/fake logits, one per receptive-field patch."""

    def __init__(self, input_c: int = 3, num_filters: int = 64, n_down: int = 3):
        super().__init__()
        layers = [self.get_layers(input_c, num_filters, norm=False)]
        layers += [
            self.get_layers(num_filters * 2**i, num_filters * 2 ** (i + 1), s=1 if i == (n_down - 1) else 2)
            for i in range(n_down)
        ]
        layers += [self.get_layers(num_filters * 2**n_down, 1, s=1, norm=False, act=False)]
        self.model = nn.Sequential(*layers)

    @staticmethod
    def get_layers(ni: int, nf: int, k: int = 4, s: int = 2, p: int = 1, norm: bool = True,
                   act: bool = True) -> nn.Sequential:
        layers: list[nn.Module] = [nn.Conv2d(ni, nf, k, s, p, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(nf))
        if act:
            layers.append(nn.LeakyReLU(0.2, True))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@register("patchgan", "discriminator", "the seed's PatchGAN discriminator (n_down=3, 64 filters)")
def patchgan(input_c: int = 3, num_filters: int = 64, n_down: int = 3) -> PatchDiscriminator:
    return PatchDiscriminator(input_c, num_filters, n_down)
