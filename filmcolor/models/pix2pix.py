"""The seed's generator: the pix2pix U-Net (8 down-sampling steps, tanh output), L in, ab out."""

from __future__ import annotations

import torch
import torch.nn as nn

from filmcolor.models import register


class UnetBlock(nn.Module):
    """One level of the U-Net: down, the inner levels, up, and the skip concatenation."""

    def __init__(self, nf: int, ni: int, submodule: nn.Module | None = None, input_c: int | None = None,
                 dropout: bool = False, innermost: bool = False, outermost: bool = False):
        super().__init__()
        self.outermost = outermost
        input_c = nf if input_c is None else input_c
        downconv = nn.Conv2d(input_c, ni, kernel_size=4, stride=2, padding=1, bias=False)
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(ni)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(nf)
        if outermost:
            upconv = nn.ConvTranspose2d(ni * 2, nf, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(ni, nf, kernel_size=4, stride=2, padding=1, bias=False)
            layers = [downrelu, downconv, uprelu, upconv, upnorm]
        else:
            upconv = nn.ConvTranspose2d(ni * 2, nf, kernel_size=4, stride=2, padding=1, bias=False)
            layers = [downrelu, downconv, downnorm, submodule, uprelu, upconv, upnorm]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class Pix2PixUnet(nn.Module):
    """(N, 1, H, W) normalised L -> (N, 2, H, W) normalised ab; H, W multiples of 2**n_down."""

    output_stride = 1

    def __init__(self, input_c: int = 1, output_c: int = 2, n_down: int = 8, num_filters: int = 64):
        super().__init__()
        self.size_multiple = 2**n_down
        block = UnetBlock(num_filters * 8, num_filters * 8, innermost=True)
        for _ in range(n_down - 5):
            block = UnetBlock(num_filters * 8, num_filters * 8, submodule=block, dropout=True)
        out_filters = num_filters * 8
        for _ in range(3):
            block = UnetBlock(out_filters // 2, out_filters, submodule=block)
            out_filters //= 2
        self.model = UnetBlock(output_c, out_filters, input_c=input_c, submodule=block, outermost=True)

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        return self.model(l_norm)


@register("pix2pix-unet", "generator", "the seed's pix2pix U-Net generator (8 downs, 64 filters)")
def pix2pix_unet(input_c: int = 1, output_c: int = 2, n_down: int = 8, num_filters: int = 64) -> Pix2PixUnet:
    return Pix2PixUnet(input_c, output_c, n_down, num_filters)
