"""Training throughput (images/s) on one device: filmcolor-fast with its encoder frozen and trained, and the
seed's pix2pix U-Net + PatchGAN in the L1 phase and the GAN phase, at 128 and 256 px.

The Trainer's own step functions run on random in-memory batches (no data loading, so this is the ceiling
the loader has to feed); a last table measures the loader side (decode + resize + Lab, one process) on
generated 640x480 JPEGs, to compare with. bf16 autocast and channels_last on CUDA follow --amp and
--channels-last, as in `filmcolor train`. The pix2pix U-Net uses log2(size) downs (8 at 256 px, as the seed).

    .venv/bin/python scripts/bench_train.py [--device cuda] [--quick] [--sizes 128 256] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np
import torch

from filmcolor.colorize import choose_device
from filmcolor.train.config import TrainConfig
from filmcolor.train.data import ColorImages
from filmcolor.train.loop import Trainer


@dataclass(frozen=True)
class Case:
    label: str
    arch: str
    phase: str  # "pretrain" (pixel loss, generator alone) or "gan"
    frozen: bool = False  # encoder frozen (filmcolor-fast's first stage)


CASES = (
    Case("filmcolor-fast, encoder frozen", "filmcolor-fast", "pretrain", frozen=True),
    Case("filmcolor-fast, encoder trained", "filmcolor-fast", "pretrain"),
    Case("pix2pix-unet, L1 phase", "pix2pix-unet", "pretrain"),
    Case("pix2pix-unet + patchgan, GAN phase", "pix2pix-unet", "gan"),
)


def write_photos(folder: Path, count: int, height: int = 480, width: int = 640) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        coarse = rng.integers(0, 256, size=(6, 8, 3)).astype(np.float32)
        rgb = np.clip(cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
                      + rng.normal(0, 8, (height, width, 3)), 0, 255).astype(np.uint8)
        path = folder / f"photo_{i:03d}.jpg"
        cv2.imwrite(str(path), rgb, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_case(case: Case, size: int, args: argparse.Namespace, data: Path, out: Path) -> dict:
    arch_kwargs = {"n_down": int(math.log2(size))} if case.arch == "pix2pix-unet" else {}
    cfg = TrainConfig(data=(str(data),), val_data=(str(data),), out=str(out), arch=case.arch,
                      arch_kwargs=arch_kwargs, pretrained_encoder=False, image_size=size,
                      batch_size=args.batch_size, pretrain_epochs=1, epochs=1, workers=0, device=args.device,
                      amp=args.amp, channels_last=args.channels_last, compile=args.compile,
                      threads=args.threads)
    trainer = Trainer(cfg)  # builds the nets and optimisers exactly as training does; run() is never called
    device = trainer.device
    trainer._train_mode(case.frozen)
    net = trainer._generator_for_step(case.frozen)
    step = trainer.pretrain_step if case.phase == "pretrain" else trainer.gan_step
    gen = torch.Generator().manual_seed(0)
    l_norm = (torch.rand(args.batch_size, 1, size, size, generator=gen) * 2 - 1).to(device)
    ab_norm = ((torch.rand(args.batch_size, 2, size, size, generator=gen) * 2 - 1) * 0.3).to(device)
    if cfg.channels_last:
        l_norm = l_norm.contiguous(memory_format=torch.channels_last)
    for _ in range(args.warmup):
        step(net, l_norm, ab_norm)
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step(net, l_norm, ab_norm)
    sync(device)
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    trainable = sum(p.numel() for p in trainer.generator.parameters() if p.requires_grad)
    return {"img_s": args.steps * args.batch_size / seconds, "ms_step": 1000 * seconds / args.steps,
            "peak_gib": peak, "trainable_m": trainable / 1e6, "device": str(device)}


def bench_loader(paths: list[Path], size: int, count: int) -> float:
    dataset = ColorImages(paths, size, train=True, crop_mode="resize", seed=0)
    t0 = time.perf_counter()
    for i in range(count):
        dataset[(0, i % len(paths))]
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2, cuda 5)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 3, cuda 20)")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True, help="bf16 on CUDA")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--compile", action="store_true", help="torch.compile the generator")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    parser.add_argument("--cases", nargs="*", default=None, help="substrings of case labels to run")
    parser.add_argument("--quick", action="store_true", help="batch 2, 1 warm-up step, 2 timed steps")
    args = parser.parse_args()
    on_cuda = choose_device(args.device).startswith("cuda")
    if args.quick:
        args.batch_size, args.warmup, args.steps = min(args.batch_size, 2), 1, 2
    args.warmup = args.warmup if args.warmup is not None else (5 if on_cuda else 2)
    args.steps = args.steps if args.steps is not None else (20 if on_cuda else 3)
    cases = [c for c in CASES if not args.cases or any(s in c.label for s in args.cases)]

    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        data = Path(tmp) / "photos"
        data.mkdir()
        paths = write_photos(data, max(args.batch_size + 2, 8))
        device_name = torch.cuda.get_device_name() if on_cuda else f"CPU ({torch.get_num_threads()} threads)"
        print(f"device: {device_name}; batch {args.batch_size}; "
              f"{args.warmup} warm-up + {args.steps} timed steps; "
              f"bf16: {args.amp and on_cuda}; channels_last: {args.channels_last}; compile: {args.compile}\n")
        print("| model / phase | size | img/s | ms/step | trainable params (M) | peak GPU mem (GiB) |")
        print("|---|---|---|---|---|---|")
        for size in args.sizes:
            for case in cases:
                r = bench_case(case, size, args, data, Path(tmp) / "run")
                peak = "" if math.isnan(r["peak_gib"]) else f"{r['peak_gib']:.2f}"
                print(f"| {case.label} | {size} | {r['img_s']:.1f} | {r['ms_step']:.0f} "
                      f"| {r['trainable_m']:.2f} | {peak} |", flush=True)
        count = 8 if args.quick else 32
        print("\n| loader side, one process: decode 640x480 JPEG + resize + flip + Lab | size | img/s |")
        print("|---|---|---|")
        for size in args.sizes:
            print(f"| per worker | {size} | {bench_loader(paths, size, count):.1f} |", flush=True)


if __name__ == "__main__":
    main()
