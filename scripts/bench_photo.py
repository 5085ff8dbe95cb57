"""Time `filmcolor image`'s reading and whole run on a large scan, with and without an ICC profile, in one run.

    python scripts/bench_photo.py [--size 6000x4000] [--repeat 3]

Writes 8-bit RGB and 16-bit gray TIFF scans of the given size (a smooth gradient with noise) into a temporary
folder, each plain and with a profile other than sRGB (RGB: sRGB's primaries with a 2.2 power curve; gray:
Gray Gamma 1.8), and prints the best of --repeat times of `imageio.read_image` and of the whole
`filmcolor image` process, as a table; the ratios are what to read (this machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _checkout  # this checkout's filmcolor
import numpy as np
import tifffile

from filmcolor import iccprofile
from filmcolor.imageio import read_image


def _curve(gamma: float) -> bytes:
    return b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256))


def _profiles() -> dict[str, bytes]:
    srgb = iccprofile._tags(iccprofile.srgb_profile())
    rgb_tags = {sig: srgb[sig] for sig in (b"wtpt", b"rXYZ", b"gXYZ", b"bXYZ")}
    rgb_tags |= {sig: _curve(2.2) for sig in (b"rTRC", b"gTRC", b"bTRC")}
    return {"rgb8": iccprofile.display_profile(b"RGB ", rgb_tags, "gamma 2.2"),
            "gray16": iccprofile.gray_profile(_curve(1.8), name="Gray Gamma 1.8")}


def _scan(kind: str, width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.05, 0.95, width, dtype=np.float32)[None, :] * np.linspace(0.6, 1.0, height)[:, None]
    noisy = np.clip(ramp + rng.normal(0, 0.02, (height, width)).astype(np.float32), 0, 1)
    if kind == "gray16":
        return (noisy * 65535).astype(np.uint16)
    return np.dstack([(noisy * 255).astype(np.uint8)] * 3)


def _best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))
    profiles = _profiles()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, icc in profiles.items():
            pixels = _scan(kind, width, height)
            times = {}
            for label, extra in (("plain", []), ("profiled", [(34675, "B", len(icc), icc, True)])):
                src = Path(tmp) / f"{kind}_{label}.tif"
                tifffile.imwrite(src, pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack",
                                 compression="zlib", compressionargs={"level": 1}, predictor=True, extratags=extra)
                read = _best(lambda src=src: read_image(src, deep=True), args.repeat)
                whole = _best(lambda src=src: subprocess.run(  # this checkout's, as read_image above (a review)
                    [sys.executable, "-P", "-m", "filmcolor", "image", str(src), "-o", str(Path(tmp) / "out.tif"),
                     "--overwrite", "-q"], check=True, env={**os.environ, "PYTHONPATH": str(_checkout.ROOT)}),
                    args.repeat)
                times[label] = (read, whole)
            rows.append((kind, times))
    print(f"| scan ({width}x{height}) | read plain | read profiled | added | whole run plain | whole run profiled "
          "| ratio |")
    print("|---|---|---|---|---|---|---|")
    for kind, times in rows:
        (read_plain, whole_plain), (read_icc, whole_icc) = times["plain"], times["profiled"]
        print(f"| {kind} | {read_plain:.2f} s | {read_icc:.2f} s | {read_icc - read_plain:+.2f} s | "
              f"{whole_plain:.2f} s | {whole_icc:.2f} s | {whole_icc / whole_plain:.2f} |")


if __name__ == "__main__":
    main()
