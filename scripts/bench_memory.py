"""Peak memory of `filmcolor video` on a short and a long clip of the same format: it must not grow.

Usage: python scripts/bench_memory.py [--short 10] [--long 600] [--size 320x240] [--fps 10]
Each clip (gray, moving pattern, AAC track) is coloured in its own process with the default settings
(ONNX Runtime, temporal flow); the table gives frames, fps and peak RSS (MB) of each, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor, in the child too)


def make_clip(path: Path, seconds: float, width: int, height: int, fps: int) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        audio = container.add_stream("aac", rate=22050, layout="mono")
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(int(seconds * fps)):
            gray = (128 + 90 * np.sin((xx + 3 * i) / 17.0) * np.cos((yy + i) / 29.0)).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        tone = (0.1 * np.sin(np.arange(int(seconds * 22050)) * 0.05)).astype(np.float32)[None]
        for start in range(0, tone.shape[1], 1024):
            block = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="fltp",
                                               layout="mono")
            block.sample_rate, block.pts = 22050, start
            container.mux(audio.encode(block))
        container.mux(audio.encode(None))
        container.mux(video.encode(None))


def child(clip: Path, model: str) -> None:
    from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
    from filmcolor.video import VideoOptions, colorize_video
    from filmcolor.video.temporal import TemporalOptions

    colorizer = Colorizer.from_pretrained(model, render_size=DEFAULT_VIDEO_RENDER_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        report = colorize_video(clip, Path(tmp) / "out.mp4", colorizer,
                                VideoOptions(temporal=TemporalOptions(mode="flow")))
    print("RESULT " + json.dumps({"frames": report.frames, "fps": report.fps, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak RSS. On Linux getrusage's ru_maxrss survives execve, so a child would report
    the parent's size at fork (hundreds of MB after making a long clip): VmHWM starts afresh at exec."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=10.0)
    parser.add_argument("--long", type=float, default=600.0)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--model", default="default")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.model)
    width, height = map(int, args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (args.short, args.long):
            clip = Path(tmp) / f"clip_{int(seconds)}s.mp4"
            make_clip(clip, seconds, width, height, args.fps)
            proc = subprocess.run([sys.executable, __file__, "--child", str(clip), "--model", args.model],
                                  capture_output=True, text=True)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(proc.stderr[-2000:])
            rows.append((seconds, json.loads(line[7:])))
    print("| clip | frames | fps | peak RSS MB |\n|---|---|---|---|")
    for seconds, r in rows:
        print(f"| {seconds:g} s {width}x{height} | {r['frames']} | {r['fps']:.1f} | {r['rss_mb']:.0f} |")
    print(f"\npeak RSS ratio long/short: {rows[1][1]['rss_mb'] / rows[0][1]['rss_mb']:.3f}")


if __name__ == "__main__":
    main()
