"""Make a black-and-white copy of a colour clip (its luma, chroma neutral), keeping timestamps and audio.

Usage: python scripts/make_gray_clip.py COLOUR_CLIP GRAY_OUT.mp4
The gray clips are what the benchmarks and temporal measurements colour; the original is the reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av


def make_gray(src: Path, dst: Path) -> int:
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate or 25)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.time_base = vin.time_base
        vout.options = {"crf": "16", "preset": "veryfast"}
        vout.codec_context.color_range = 1  # MPEG (limited): what sws writes for yuv420p from gray
        frames = 0
        for frame in inp.decode(vin):
            gray = frame.to_ndarray(format="gray")  # full-range luma
            yuv = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
            yuv.pts, yuv.time_base = frame.pts, frame.time_base
            out.mux(vout.encode(yuv))
            frames += 1
        out.mux(vout.encode(None))
    return frames


if __name__ == "__main__":
    n = make_gray(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]} ({n} frames)")
