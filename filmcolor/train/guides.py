"""Simulated user guidance for training the guided generator, drawn from the ground truth.

Per sample: nothing (the automatic colouriser), sparse hints (random points and small patches, their
mean colour, a geometric count), or a dense-but-noisy map made the way a reference photo's is at
inference: the picture's features matched against a randomly shifted, scaled and rotated copy of itself
(a frame of the same shot a moment away), with the encoder of the network being trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from filmcolor import lab
from filmcolor.guide import Reference, match_features, pack_guide, propagate, transfer

PATCH_SIZES = (1, 3, 5)  # pixels of the training crop a simulated hint averages over
MAX_HINTS = 64


@dataclass(frozen=True)
class GuideMix:
    """How often each kind of guidance is drawn, and the mean hint count."""

    none: float = 0.2
    reference: float = 0.3
    hints_mean: float = 10.0


def _hints_guide(l_hw: torch.Tensor, ab_2hw: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    height, width = l_hw.shape
    sizes = torch.tensor(PATCH_SIZES)[torch.randint(len(PATCH_SIZES), (count,), generator=gen)]
    ys = (torch.rand(count, generator=gen) * height).long().clamp(max=height - 1)
    xs = (torch.rand(count, generator=gen) * width).long().clamp(max=width - 1)
    yx, abs_, ls = [], [], []
    for y, x, s in zip(ys.tolist(), xs.tolist(), sizes.tolist(), strict=True):
        r = s // 2
        y0, y1, x0, x1 = max(0, y - r), min(height, y + r + 1), max(0, x - r), min(width, x + r + 1)
        yx.append((y + 0.5, x + 0.5))
        abs_.append(ab_2hw[:, y0:y1, x0:x1].mean((1, 2)))
        ls.append(l_hw[y0:y1, x0:x1].mean())
    ab, conf = propagate(l_hw, torch.tensor(yx), torch.stack(abs_), torch.stack(ls))
    return pack_guide(ab, conf)


def _shifted_copies(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(N, C, H, W) -> the same pictures seen a moment later: random shift, scale, rotation and flip."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) - 0.5) * math.radians(10)
    scale = 0.85 + 0.3 * torch.rand(n, generator=gen)
    shift = (torch.rand(n, 2, generator=gen) - 0.5) * 0.3
    flip = torch.where(torch.rand(n, generator=gen) < 0.3, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    rows = [torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)]
    theta = torch.stack(rows, 1)  # (N, 2, 3)
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


@torch.no_grad()
def simulate_guides(l_norm: torch.Tensor, ab_norm: torch.Tensor, encoder: nn.Module, mix: GuideMix,
                    gen: torch.Generator) -> torch.Tensor:
    """(N, 1, H, W) L and (N, 2, H, W) ab (normalised) -> simulated guides (N, 3, H, W).

    ``encoder`` maps normalised L to the generator's taps (the generator's ``encode``), for reference
    samples only; it runs without gradients.
    """
    n, _, height, width = l_norm.shape
    l_units = lab.denormalize_l(l_norm[:, 0].float()).cpu()
    ab_units = lab.denormalize_ab(ab_norm.float()).cpu()
    guides = torch.zeros(n, 3, height, width)
    draw = torch.rand(n, generator=gen)
    refs = [i for i in range(n) if mix.none <= draw[i] < mix.none + mix.reference]
    for i in range(n):
        if draw[i] >= mix.none + mix.reference:
            # geometric count >= 1 with mean hints_mean, by the inverse CDF on our own generator
            u = float(torch.rand(1, generator=gen).clamp_min(1e-6))
            count = int(min(MAX_HINTS, 1 + math.floor(math.log(u) / math.log(1 - 1 / mix.hints_mean))))
            guides[i] = _hints_guide(l_units[i], ab_units[i], count, gen)
    if refs:
        idx = torch.tensor(refs)
        ref_pair = _shifted_copies(torch.cat([l_norm[idx], ab_norm[idx]], 1).float().cpu(), gen)
        taps_in = encoder(l_norm[idx])
        taps_ref = encoder(ref_pair[:, :1].to(l_norm))
        h8, w8 = taps_in[1].shape[-2:]
        ref_cells = F.adaptive_avg_pool2d(lab.denormalize_ab(ref_pair[:, 1:]), (h8, w8))
        ref_l = F.adaptive_avg_pool2d(lab.denormalize_l(ref_pair[:, :1]), (h8, w8))[:, 0]
        in_l = F.adaptive_avg_pool2d(l_units[idx][:, None], (h8, w8))[:, 0]
        for k, i in enumerate(refs):
            features = match_features([t[k:k + 1] for t in taps_in])
            reference = Reference(match_features([t[k:k + 1] for t in taps_ref]).cpu(), ref_cells[k], ref_l[k])
            ab, conf = transfer(features.cpu(), reference, in_l[k])
            guide = pack_guide(ab, conf)[None]
            guides[i] = F.interpolate(guide, size=(height, width), mode="bilinear", align_corners=False)[0]
    return guides.to(l_norm.device)
