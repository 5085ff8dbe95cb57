"""Probe: ways to carry a keyframe's colour through its shot beyond matching each frame to it, on the colour
clips made gray; the network on every frame and no temporal stage, so that only the guides differ. Prints
the PSNR gain over gray, over the whole clip and its four quarters.

    .venv/bin/python scripts/probe_keyframe_carry.py [--modes key,own,memory,flow] [--clips davis_dance_twirl.mp4 ...]

Modes (a keyframe on each shot's first frame, as bench_keyframes.py):
  key     each frame's guide matched to the keyframe (guide.transfer), the keyframe's ab per matching cell
          (as `filmcolor video --keyframe` did before 2026-12-05's fifth stop)
  own     as key, and the keyframe's frame takes the keyframe's own ab at the network's output size
  memory  as key, and the last frame's guide (its features, ab and confidence per cell) matched as a second
          keyframe, its confidence times the matched cells' (blend_guides, both weighed alike)
  flow    as own, and the last frame's colour carried by the optical flow (at the ab resolution, trusted as
          the temporal stage trusts a warp) laid under the keyframe's guide (overlay_guides)
  fine    as own, and each cell's colour made of the matched cells' 2x2 quarters, quarter by quarter (the
          guide at stride 4, not 8: the keyframe's ab per quarter cell, as `filmcolor video` does now)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _checkout  # noqa: F401  (this checkout's filmcolor)
from bench_keyframes import SHOTS, VIDEOS, frames_rgb  # noqa: E402
from make_gray_clip import make_gray  # noqa: E402

from filmcolor import guide as guidance  # noqa: E402
from filmcolor import lab  # noqa: E402
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer  # noqa: E402
from filmcolor.metrics import psnr  # noqa: E402
from filmcolor.video.keyframes import ab_size_l, network_l  # noqa: E402
from filmcolor.video.temporal import MotionAnalyzer, MotionEstimator, warp_reliability  # noqa: E402

MODES = ("key", "own", "memory", "flow", "fine")


def trusted_transfer(features: torch.Tensor, memory: tuple, l_cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """guide.transfer from a frame's guide whose cells carry a confidence: ab weighed by it, and the match's
    confidence times the matched cells' mean confidence."""
    feats, ab_cells, conf_cells, l_ref = memory
    reference = guidance.Reference(feats, ab_cells, l_ref)
    logits = guidance.similarity(features, reference)
    best = logits.amax(1)
    gap = l_cells.reshape(-1, 1) - l_ref.reshape(1, -1)
    weights = torch.softmax(logits / guidance.MATCH_TEMPERATURE - gap.square() / (2 * guidance.SIGMA_L**2), 1)
    trust = conf_cells.flatten()
    kept = weights @ trust
    ab = (weights @ (ab_cells.flatten(1).T * trust[:, None])) / kept.clamp_min(1e-6)[:, None]
    conf = ((best - guidance.MATCH_FLOOR) / (guidance.MATCH_FULL - guidance.MATCH_FLOOR)).clamp(0, 1) * kept
    h8, w8 = features.shape[-2:]
    return ab.T.reshape(2, h8, w8), conf.reshape(h8, w8)


def run_mode(mode: str, colorizer: Colorizer, original: list[np.ndarray], grays: list[np.ndarray],
             starts: list[int]) -> np.ndarray:
    """Per-frame PSNR of one mode over a clip."""
    height, width = original[0].shape[:2]
    rh, rw = colorizer.network_shape(height, width)
    h4, w4 = colorizer.ab_shape((rh, rw))
    analyzer, estimator = MotionAnalyzer(), MotionEstimator()
    prev = reference = carried = memory = None
    scores = []
    for i, gray in enumerate(grays):
        l_hw = lab.gray_to_l(gray)
        motion = analyzer(ab_size_l(network_l(gray, (rh, rw)), (h4, w4)))
        if i in starts:
            reference, carried, memory = colorizer.reference(original[i]), None, None
            if mode != "fine":  # its ab per matching cell: the mean of each cell's quarters
                reference = guidance.Reference(reference.features, F.avg_pool2d(reference.ab_cells[None], 2)[0],
                                               reference.l_cells, reference.name)
            if mode in ("own", "flow", "fine"):
                ab_own = cv2.resize(lab.rgb_to_lab(original[i])[..., 1:], (w4, h4), interpolation=cv2.INTER_AREA)
                carried = (ab_own, np.ones((h4, w4), np.float32))
                out = lab.lab_to_rgb_levels(l_hw, cv2.resize(ab_own, (width, height), interpolation=cv2.INTER_LINEAR))
                scores.append(psnr(original[i], out))
                prev = motion
                continue
        under = None
        if mode == "flow" and carried is not None and motion.follows:
            trust = warp_reliability(motion.flow_back, estimator.flow(prev.l_u8, motion.l_u8), motion.map_x,
                                     motion.map_y, motion.l, motion.l_prev_warped)
            ab_w = MotionEstimator.warp(carried[0], motion.map_x, motion.map_y)
            conf_w = MotionEstimator.warp(carried[1], motion.map_x, motion.map_y) * trust
            small = guidance.pack_guide(torch.from_numpy(ab_w.transpose(2, 0, 1).copy()), torch.from_numpy(conf_w))
            under = F.interpolate(small[None], size=(rh, rw), mode="bilinear",
                                                    align_corners=False)[0].numpy()
        kept = {}

        def guide_of(_: int, features: torch.Tensor, l_cells: torch.Tensor, reference=reference, memory=memory,
                     under=under, kept=kept) -> np.ndarray:
            ab, conf = guidance.transfer(features, reference, l_cells)
            guide = guidance.pack_guide(ab, conf)
            if mode == "memory" and memory is not None:
                other = guidance.pack_guide(*trusted_transfer(features, memory, l_cells))
                guide = torch.from_numpy(guidance.blend_guides([guide.numpy(), other.numpy()], [1.0, 1.0]))
            kept["cells"] = (features, lab.denormalize_ab(guide[:2]), guide[2], l_cells)
            full = F.interpolate(guide[None], size=(rh, rw), mode="bilinear",
                                                   align_corners=False)[0].numpy()
            kept["guide"] = full if under is None else guidance.overlay_guides([under, full])
            return kept["guide"]

        ab = colorizer.predict_ab_matched(l_hw[None], guide_of)[0]
        memory = kept.get("cells")
        if mode == "flow":  # the colour and how sure its guide was, carried on to the next frame
            carried = (ab, cv2.resize(kept["guide"][2], (w4, h4), interpolation=cv2.INTER_AREA))
        prev = motion
        scores.append(psnr(original[i], lab.lab_to_rgb_levels(l_hw, cv2.resize(ab, (width, height),
                                                                                interpolation=cv2.INTER_LINEAR))))
    return np.array(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--clips", nargs="*", default=list(SHOTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    colorizer = Colorizer.from_pretrained(render_size=DEFAULT_VIDEO_RENDER_SIZE, runtime="onnx")
    modes = args.modes.split(",")
    print("| clip | " + " | ".join(f"{m}: gain (quarters)" for m in modes) + " |")
    print("|---|" + "---|" * len(modes))
    with tempfile.TemporaryDirectory() as work:
        for name in args.clips:
            gray_path = Path(work) / f"{Path(name).stem}_gray.mp4"
            make_gray(VIDEOS / name, gray_path)
            original = frames_rgb(VIDEOS / name)
            with av.open(str(gray_path)) as container:
                grays = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
            gray_psnr = float(np.mean([psnr(o, lab.lab_to_rgb_levels(lab.gray_to_l(g), np.zeros((*g.shape, 2),
                                                                                                  np.float32)))
                                       for o, g in zip(original, grays, strict=True)]))
            cells = []
            for mode in modes:
                gains = run_mode(mode, colorizer, original, grays, SHOTS[name]) - gray_psnr
                cells.append(f"{gains.mean():+.2f} (" + " ".join(f"{q.mean():+.1f}" for q in np.array_split(gains, 4))
                             + ")")
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
