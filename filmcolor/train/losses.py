"""Losses of the seed: pixel loss on ab and the vanilla GAN loss (BCE with logits)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from filmcolor import lab


def upsample_to(ab: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bring a low-resolution ab prediction to the target's size (bilinear), as inference does."""
    if ab.shape[-2:] == like.shape[-2:]:
        return ab
    return F.interpolate(ab, size=like.shape[-2:], mode="bilinear", align_corners=False)


CHROMA_REF = 50.0 / lab.AB_SCALE  # normalised chroma (50 Lab units) that gets weight 1 + chroma_weight


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
        sigma = mode_sigma / lab.AB_SCALE  # normalised ab
        per_pixel = per_pixel + mode_weight * (1.0 - torch.exp(-error2 / (2 * sigma**2)))
    if chroma_weight <= 0:
        return per_pixel.mean()
    chroma = torch.linalg.vector_norm(target, dim=1, keepdim=True)
    weight = 1.0 + chroma_weight * torch.clamp(chroma / CHROMA_REF, max=2.0)
    return (per_pixel * weight).mean() / weight.mean()


def saturation_loss(pred: torch.Tensor, target: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Wasserstein-1 distance between each picture's predicted and true distribution of chroma (|ab|) on
    the network's output grid (``stride``: its model's ``output_stride``): both sets of chroma are sorted
    and compared rank by rank (N, 2, H, W in).

    It is blind to hue and to place: it asks each picture to be as saturated, in the same proportions, as
    its original, and leaves to the pixel loss where the colour goes and which. Where a regression keeps a
    place gray because it could be red or blue, this term pays for committing, and the pixel loss makes
    the commitment where the hue is surest: colour that is learned per picture, not a uniform gain."""
    size = (max(1, pred.shape[-2] // stride), max(1, pred.shape[-1] // stride))
    chroma_pred, chroma_target = (torch.linalg.vector_norm(F.adaptive_avg_pool2d(x.float(), size), dim=1)
                                  .flatten(1).sort(1).values for x in (pred, target))
    return (chroma_pred - chroma_target).abs().mean()


# Colour classes of the classification term: a grid of AB_BINS x AB_BINS cells AB_BIN Lab units wide over
# a and b in [-110, 110] (Zhang et al. 2016 use 10 units too); each target is spread over its nearest 5
# centres by a Gaussian (sigma 5 units), so neighbouring classes are not counted as wrong.
AB_BIN, AB_BINS = 10.0, 22
AB_CENTRES = torch.stack(torch.meshgrid(torch.arange(AB_BINS) * AB_BIN - 105.0, torch.arange(AB_BINS) * AB_BIN - 105.0,
                                        indexing="ij"), -1).reshape(-1, 2)
SOFT_NEIGHBOURS, SOFT_SIGMA = 5, 5.0


def soft_classes(ab: torch.Tensor) -> torch.Tensor:
    """(M, 2) ab in Lab units -> (M, Q) soft class targets over AB_CENTRES (each row sums to 1)."""
    centres = AB_CENTRES.to(ab.device, ab.dtype)
    nearest = (torch.cdist(ab, centres) ** 2).topk(SOFT_NEIGHBOURS, largest=False)
    weights = torch.exp(-nearest.values / (2 * SOFT_SIGMA**2))
    return torch.zeros(len(ab), len(centres), device=ab.device, dtype=ab.dtype).scatter_(
        1, nearest.indices, weights / weights.sum(1, keepdim=True))


def class_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (N, Q, h, w) class logits against soft classes of the (N, 2, H, W) normalised ab target,
    area-averaged to the logits' grid: a classification term that makes the features tell colours apart
    (where a place could be red or blue, the classes keep both; a regression learns only the gray between)."""
    ab = F.adaptive_avg_pool2d(target, logits.shape[-2:]) * lab.AB_SCALE
    soft = soft_classes(ab.permute(0, 2, 3, 1).reshape(-1, 2))
    log_probs = F.log_softmax(logits.float(), 1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    return -(soft * log_probs).sum(1).mean()


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
