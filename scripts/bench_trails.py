"""Trails benchmark: a small saturated object crossing a still shot, coloured by a perfect per-frame colouriser,
through the temporal stage (motion analysis, the network schedule, the blend), as the pipeline runs it.

With the network on every frame the output is the truth smoothed; on the frames it skips (--network-every) the
colour is carried by the motion, and where the motion cannot say where a pixel came from (the background the
object uncovers) the carried colour can be the object's: a trail. Counted here: background pixels more than
10 ab off the truth, per frame, at the ab resolution the stage works at (56 x 96 for a 16:9 film), and the
object's own pixels that far off. The background is a real photo (its L and its colours), the object a textured
patch of another, lighter or darker than the street or of the same L.

    .venv/bin/python scripts/bench_trails.py [--every 1 4] [--speeds 1.5 3 6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np

from filmcolor.imageio import read_image
from filmcolor.lab import rgb_to_lab
from filmcolor.video.temporal import NetworkSchedule, TemporalOptions, TemporalSmoother

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "photos" / "val"
AB_H, AB_W, STRIDE = 56, 96, 4  # the ab resolution of a 16:9 film at render size 224, and the network's stride
OBJECT_H, OBJECT_W = 24, 40  # render pixels (6 x 10 ab pixels): a car far down a street
OBJECT_AB = np.array([55.0, 40.0], np.float32)  # a red car
FRAMES = 40
TRAIL_AB = 10.0  # Lab units off the truth that count as a wrong colour


def scene(photo: Path, patch_photo: Path, l_offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L, ab) of the still street at render size, and the object's L texture (its mean moved by l_offset)."""
    h, w = AB_H * STRIDE, AB_W * STRIDE
    street = rgb_to_lab(cv2.resize(read_image(photo), (w, h), interpolation=cv2.INTER_AREA))
    patch = rgb_to_lab(cv2.resize(read_image(patch_photo), (OBJECT_W, OBJECT_H), interpolation=cv2.INTER_AREA))[..., 0]
    band = street[h // 2 - OBJECT_H // 2:h // 2 + OBJECT_H // 2, :, 0]  # where it drives
    patch = np.clip(patch - patch.mean() + band.mean() + l_offset, 2, 98).astype(np.float32)
    return street[..., 0].copy(), street[..., 1:].copy(), patch


def run(street_l, street_ab, patch, speed: float, every: int) -> dict:
    h, w = street_l.shape
    y0 = h // 2 - OBJECT_H // 2
    smoother, schedule = TemporalSmoother(TemporalOptions(network_every=every)), NetworkSchedule(every)
    background_bad = object_bad = network = 0
    seconds = 0.0
    for t in range(FRAMES):
        x0 = int(round(8 + speed * STRIDE * t))  # render pixels
        if x0 + OBJECT_W > w:
            break
        l_full, ab_full = street_l.copy(), street_ab.copy()
        mask = np.zeros((h, w), np.float32)
        l_full[y0:y0 + OBJECT_H, x0:x0 + OBJECT_W] = patch
        ab_full[y0:y0 + OBJECT_H, x0:x0 + OBJECT_W] = OBJECT_AB
        mask[y0:y0 + OBJECT_H, x0:x0 + OBJECT_W] = 1.0
        l_small = cv2.resize(l_full, (AB_W, AB_H), interpolation=cv2.INTER_AREA)
        ab_true = cv2.resize(ab_full, (AB_W, AB_H), interpolation=cv2.INTER_AREA)
        cover = cv2.resize(mask, (AB_W, AB_H), interpolation=cv2.INTER_AREA)
        start = time.perf_counter()
        motion = smoother.analyzer(l_small)
        ran = schedule(motion)
        out = smoother.blend(motion, ab_true if ran else None)  # a perfect per-frame colouriser
        seconds += time.perf_counter() - start
        network += ran
        bad = np.linalg.norm(out - ab_true, axis=-1) > TRAIL_AB
        background = cv2.dilate((cover > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0  # edges aside
        background_bad += int((bad & background).sum())
        object_bad += int((bad & (cover >= 1)).sum())
    frames = t + (x0 + OBJECT_W <= w)
    return {"frames": frames, "network": network, "background": background_bad / frames,
            "object": object_bad / frames, "ms": 1000 * seconds / frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, nargs="*", default=[1, TemporalOptions().network_every],
                        help="--network-every values to compare")
    parser.add_argument("--speeds", type=float, nargs="*", default=[1.5, 3.0, 6.0], help="ab pixels a frame")
    parser.add_argument("--l-offsets", type=float, nargs="*", default=[25.0, -20.0, 0.0],
                        help="the object's mean L minus the street's")
    args = parser.parse_args()
    photos = sorted(PHOTOS.glob("*.jpg"))
    streets = [photos[i] for i in (0, 7, 21)]
    cv2.setNumThreads(1)
    print(f"perfect per-frame colouriser; {AB_H}x{AB_W} ab pixels, object {OBJECT_H // STRIDE}x"
          f"{OBJECT_W // STRIDE}; streets {', '.join(p.stem for p in streets)}; means over the streets")
    print("wrong: pixels more than 10 ab off the truth, per frame\n")
    print("| object L - street L | speed (ab px/frame) | network every | network frames | background wrong "
          "| object wrong | ms/frame |")
    print("|---|---|---|---|---|---|---|")
    for l_offset in args.l_offsets:
        for speed in args.speeds:
            for every in args.every:
                rows = [run(*scene(street, photos[-1], l_offset), speed, every) for street in streets]
                frames = sum(r["frames"] for r in rows)
                print(f"| {l_offset:+.0f} | {speed:g} | {every} | {sum(r['network'] for r in rows)}/{frames} "
                      f"| {np.mean([r['background'] for r in rows]):.1f} | {np.mean([r['object'] for r in rows]):.1f} "
                      f"| {np.mean([r['ms'] for r in rows]):.2f} |")


if __name__ == "__main__":
    main()
