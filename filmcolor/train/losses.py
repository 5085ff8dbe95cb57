"""Losses of the seed: pixel loss on ab and the vanilla GAN loss (BCE with logits)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def upsample_to(ab: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bring a low-resolution ab prediction to the target's size (bilinear), as inference does."""
    if ab.shape[-2:] == like.shape[-2:]:
        return ab
    return F.interpolate(ab, size=like.shape[-2:], mode="bilinear", align_corners=False)


CHROMA_REF = 50.0 / 110.0  # normalised chroma that gets weight 1 + chroma_weight


def pixel_loss(kind: str, pred: torch.Tensor, target: torch.Tensor, chroma_weight: float = 0.0,
               mode_weight: float = 0.0, mode_sigma: float = 10.0) -> torch.Tensor:
    """Pixel loss on normalised ab (N, 2, H, W).

    ``chroma_weight`` > 0 weights each pixel by 1 + w * chroma / CHROMA_REF (capped at 1 + 2w),
    normalised to mean 1: a mild rebalancing toward saturated targets, against the pale, brownish
    average a plain regression converges to.
    ``mode_weight`` > 0 adds w * (1 - exp(-|error|^2 / 2 sigma^2)), sigma = ``mode_sigma`` Lab units (the
    Welsch loss, the negative log of a Gaussian kernel around the prediction: a soft classification term).
    Its optimum is a mode of the colours a place can have, not their median: where a grass could be green
    or brown it picks one instead of the gray between them. It pulls only within a few sigma: a sigma
    narrower than the gap between two colours leaves a prediction between them where it is.
    """
    if kind == "l1":
        per_pixel = F.l1_loss(pred, target, reduction="none")
    elif kind == "smooth_l1":  # Huber: quadratic below 0.05 (~5.5 Lab units)
        per_pixel = F.smooth_l1_loss(pred, target, beta=0.05, reduction="none")
    else:
        raise ValueError(f"unknown pixel loss {kind}")
    if mode_weight > 0:
        error2 = ((pred - target) ** 2).sum(1, keepdim=True)
        sigma = mode_sigma / 110.0  # normalised ab
        per_pixel = per_pixel + mode_weight * (1.0 - torch.exp(-error2 / (2 * sigma**2)))
    if chroma_weight <= 0:
        return per_pixel.mean()
    chroma = torch.linalg.vector_norm(target, dim=1, keepdim=True)
    weight = 1.0 + chroma_weight * torch.clamp(chroma / CHROMA_REF, max=2.0)
    return (per_pixel * weight).mean() / weight.mean()


class GANLoss(nn.Module):
    """Vanilla GAN loss: BCE with logits against all-real or all-fake labels."""

    def __init__(self) -> None:
        super().__init__()
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return self.bce(logits, target)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """The seed's init: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
