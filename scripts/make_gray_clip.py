"""Make a black-and-white copy of a colour clip (its luma, chroma neutral), keeping timestamps and audio.

Usage: python scripts/make_gray_clip.py COLOUR_CLIP GRAY_OUT.mp4 [--size WxH] [--loops N]

The gray clips are what the benchmarks and temporal measurements colour; the original is the reference.
``--size`` rescales (bicubic) to make e.g. a 1080p clip from a 480p one for the speed benchmark; ``--loops``
plays the clip N times in a row (timestamps continue), so that process start is a small part of a timing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2


def make_gray(src: Path, dst: Path, size: tuple[int, int] | None = None, loops: int = 1) -> int:
    with av.open(str(dst), "w") as out:
        vout = None
        frames, offset = 0, 0
        for _ in range(loops):
            with av.open(str(src)) as inp:
                vin = inp.streams.video[0]
                if vout is None:
                    width, height = size or (vin.codec_context.width, vin.codec_context.height)
                    vout = out.add_stream("libx264", rate=vin.average_rate or 25)
                    vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
                    vout.time_base = vin.time_base
                    vout.options = {"crf": "16", "preset": "veryfast"}
                    vout.codec_context.color_range = 1  # MPEG (limited): what sws writes for yuv420p from gray
                last = offset
                for frame in inp.decode(vin):
                    gray = frame.to_ndarray(format="gray")  # full-range luma
                    if gray.shape[::-1] != (vout.width, vout.height):
                        gray = cv2.resize(gray, (vout.width, vout.height), interpolation=cv2.INTER_CUBIC)
                    yuv = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
                    yuv.pts, yuv.time_base = offset + frame.pts, frame.time_base
                    last = yuv.pts
                    out.mux(vout.encode(yuv))
                    frames += 1
                step = int(1 / (vin.average_rate or 25) / vin.time_base) if vin.time_base else 1
                offset = last + max(1, step)
        out.mux(vout.encode(None))
    return frames


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--size", type=parse_size, default=None, help="WxH, e.g. 1920x1080")
    parser.add_argument("--loops", type=int, default=1)
    args = parser.parse_args()
    n = make_gray(args.src, args.dst, args.size, args.loops)
    print(f"wrote {args.dst} ({n} frames)")
