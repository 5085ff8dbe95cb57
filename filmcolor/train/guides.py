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
from filmcolor.guide import Reference, match_features, pack_guide, propagate_batch, transfer

PATCH_SIZES = (1, 3, 5)  # pixels of the training crop a simulated hint averages over
MAX_HINTS = 64


@dataclass(frozen=True)
class GuideMix:
    """How often each kind of guidance is drawn, and the mean hint count."""

    none: float = 0.2
    reference: float = 0.3
    hints_mean: float = 10.0


def _draw_hints(height: int, width: int, count: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` random hints on an (H, W) crop: (count, 3) rows of (patch size index, y, x)."""
    sizes = torch.randint(len(PATCH_SIZES), (count,), generator=gen)
    ys = (torch.rand(count, generator=gen) * height).long().clamp(max=height - 1)
    xs = (torch.rand(count, generator=gen) * width).long().clamp(max=width - 1)
    return torch.stack([sizes, ys, xs], 1)


def _hints_guides(l_units: torch.Tensor, ab_units: torch.Tensor, drawn: list[torch.Tensor]) -> torch.Tensor:
    """Hints drawn on N crops ((count, 3) each, _draw_hints) -> their guides (N, 3, H, W), all at once on
    the crops' device: each hint is its patch's mean colour and L, spread by guide.propagate_batch."""
    n, height, width = l_units.shape
    device = l_units.device
    lab_n3hw = torch.cat([ab_units, l_units[:, None]], 1)
    table = torch.cat(drawn).to(device)  # (Q, 3): every crop's hints, one crop after another
    owner = torch.repeat_interleave(torch.arange(n), torch.tensor([len(d) for d in drawn])).to(device)
    # each hint's patch: the pixels of the largest patch around it that lie in its own one and in the crop
    radius = (torch.tensor(PATCH_SIZES, device=device) // 2)[table[:, 0]]
    offsets = torch.arange(-(max(PATCH_SIZES) // 2), max(PATCH_SIZES) // 2 + 1, device=device)
    ys = table[:, 1, None, None] + offsets[:, None]  # (Q, K, 1)
    xs = table[:, 2, None, None] + offsets[None, :]  # (Q, 1, K)
    inside = ((offsets.abs()[:, None] <= radius[:, None, None]) & (offsets.abs()[None, :] <= radius[:, None, None])
              & (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width))  # (Q, K, K)
    patches = lab_n3hw[owner[:, None, None], :, ys.clamp(0, height - 1), xs.clamp(0, width - 1)]  # (Q, K, K, 3)
    picked = (patches * inside[..., None]).sum((1, 2)) / inside.sum((1, 2))[:, None]  # (Q, 3): ab, L
    yx = table[:, 1:].to(l_units.dtype) + 0.5
    ab, conf = propagate_batch(l_units, yx, picked[:, :2], picked[:, 2], owner)
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
    samples only; it runs without gradients. The random draws use ``gen`` (on the CPU: the same draws on
    any device, and after a resume); the rest runs on the batch's device, for all samples of a kind at once.
    """
    n, _, height, width = l_norm.shape
    l_units = lab.denormalize_l(l_norm[:, 0].float())
    ab_units = lab.denormalize_ab(ab_norm.float())
    guides = l_units.new_zeros(n, 3, height, width)
    draw = torch.rand(n, generator=gen)
    refs = [i for i in range(n) if mix.none <= draw[i] < mix.none + mix.reference]
    hinted, drawn = [], []
    for i in range(n):
        if draw[i] >= mix.none + mix.reference:
            # geometric count >= 1 with mean hints_mean, by the inverse CDF on our own generator
            u = float(torch.rand(1, generator=gen).clamp_min(1e-6))
            count = int(min(MAX_HINTS, 1 + math.floor(math.log(u) / math.log(1 - 1 / mix.hints_mean))))
            hinted.append(i)
            drawn.append(_draw_hints(height, width, count, gen))
    if hinted:
        idx = torch.tensor(hinted, device=l_units.device)
        guides[idx] = _hints_guides(l_units[idx], ab_units[idx], drawn)
    if refs:
        idx = torch.tensor(refs, device=l_units.device)
        ref_pair = _shifted_copies(torch.cat([l_norm[idx], ab_norm[idx]], 1).float(), gen)
        taps_in = encoder(l_norm[idx])
        taps_ref = encoder(ref_pair[:, :1].to(l_norm))
        h8, w8 = taps_in[1].shape[-2:]
        # per quarter cell, as Colorizer.reference keeps a reference's ab: what the network is given at inference
        ref_cells = F.adaptive_avg_pool2d(lab.denormalize_ab(ref_pair[:, 1:]), (2 * h8, 2 * w8))
        ref_l = F.adaptive_avg_pool2d(lab.denormalize_l(ref_pair[:, :1]), (h8, w8))[:, 0]
        in_l = F.adaptive_avg_pool2d(l_units[idx][:, None], (h8, w8))[:, 0]
        for k, i in enumerate(refs):
            features = match_features([t[k:k + 1] for t in taps_in])
            reference = Reference(match_features([t[k:k + 1] for t in taps_ref]), ref_cells[k], ref_l[k])
            ab, conf = transfer(features, reference, in_l[k])
            guide = pack_guide(ab, conf)[None]
            guides[i] = F.interpolate(guide, size=(height, width), mode="bilinear", align_corners=False)[0]
    return guides
