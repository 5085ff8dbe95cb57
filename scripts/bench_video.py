"""Benchmark `filmcolor video` against the decode+encode floor on one clip; prints a table.

    python scripts/bench_video.py [CLIP] [--model PATH] [--render-sizes 256,192] [--runtimes torch,onnx]

Each row runs in a fresh process so that its peak RSS is its own. The floor decodes and re-encodes the
clip with the same encoder settings and no model. Without --model, random weights of the default
architecture are generated: speed does not depend on the weights' values, only on the architecture and
the shapes. ONNX graphs are built (or loaded from the cache) before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from filmcolor.video.pipeline import STAGES
from filmcolor.video.writer import EncoderOptions

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = ROOT.parent / "shared" / "data" / "videos" / "cctv_pedestrians.avi"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_weights(path: Path) -> Path:
    import torch

    from filmcolor.models import create_model
    from filmcolor.weights import save_weights

    torch.manual_seed(0)
    model = create_model("filmcolor-fast")
    save_weights(path, model, "filmcolor-fast", {}, {"note": "random weights for benchmarking speed"})
    return path


def make_clip(path: Path, width: int = 854, height: int = 480, frames: int = 150) -> Path:
    """A gray 480p clip with motion and an AAC track, for machines without the shared data."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        yy, xx = np.mgrid[0:height, 0:width]
        for i in range(frames):
            gray = (128 + 60 * np.sin((xx + 4 * i) / 37.0) * np.cos((yy - 3 * i) / 23.0)).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


# ---- the measurements, each run in a child process --------------------------------------------------


def measure_floor(clip: Path, out: Path, args: argparse.Namespace) -> dict:
    """Decode and re-encode with the writer's settings, audio copied; no model."""
    from filmcolor.video.reader import LumaFrame, ReaderOptions, VideoReader
    from filmcolor.video.writer import VideoWriter

    reader = VideoReader(clip, ReaderOptions(duration=args.duration))
    writer = VideoWriter(out, reader.info, EncoderOptions(preset=args.preset, crf=args.crf), reader.passthrough)
    import av

    frames = 0
    start = time.perf_counter()
    for item in reader:
        if isinstance(item, LumaFrame):
            frame = av.VideoFrame.from_ndarray(item.gray, format="gray")
            frame = frame.reformat(format=writer.pix_fmt)
            frame.pts = item.pts
            frame.time_base = reader.info.time_base
            writer._mux_all(writer.stream.encode(frame))
            frames += 1
        else:
            writer.mux(item)
    writer.close()
    elapsed = time.perf_counter() - start
    reader.close()
    return {"frames": frames, "elapsed": elapsed, "fps": frames / elapsed, "rss_mb": peak_rss_mb()}


def measure_filmcolor(clip: Path, out: Path, args: argparse.Namespace, runtime: str, size: int) -> dict:
    import numpy as np

    from filmcolor.colorize import Colorizer
    from filmcolor.video import VideoOptions, colorize_video
    from filmcolor.video.pipeline import default_batch_size
    from filmcolor.video.reader import VideoReader
    from filmcolor.video.temporal import TemporalOptions

    colorizer = Colorizer.from_pretrained(args.model, device="cpu", render_size=size, runtime=runtime)
    batch = args.batch_size or default_batch_size(colorizer)
    with VideoReader(clip) as reader:
        height, width = reader.info.height, reader.info.width
    colorizer.predict_ab(np.zeros((batch, height, width), np.float32))  # build/load the graph, warm up
    options = VideoOptions(preset=args.preset, crf=args.crf, batch_size=batch, duration=args.duration,
                           temporal=TemporalOptions(mode=args.temporal))
    report = colorize_video(clip, out, colorizer, options, overwrite=True)
    return {"frames": report.frames, "elapsed": report.elapsed, "fps": report.fps, "rss_mb": peak_rss_mb(),
            "stages": report.to_dict()["stage_ms_per_frame"], "shape": report.network_shape,
            "batch": report.batch_size}


def child(argv: list[str]) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        if args.child == "floor":
            result = measure_floor(args.clip, out, args)
        else:
            runtime, size = args.child.split(":")
            result = measure_filmcolor(args.clip, out, args, runtime, int(size))
    print("RESULT " + json.dumps(result))


# ---- the parent: run each row in its own process, print the table ---------------------------------


def run_child(argv: list[str], what: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *argv, "--child", what], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", nargs="?", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None, help="weights (default: random, same speed)")
    parser.add_argument("--render-sizes", default="256,192")
    parser.add_argument("--runtimes", default="torch,onnx")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--temporal", default="off", choices=["off", "ema", "flow"])
    parser.add_argument("--preset", default=EncoderOptions().preset)
    parser.add_argument("--crf", type=int, default=EncoderOptions().crf)
    parser.add_argument("--duration", type=float, default=None, help="seconds of the clip to use")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the best is kept")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.child:
        return child(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or (DEFAULT_CLIP if DEFAULT_CLIP.exists() else make_clip(Path(tmp) / "clip.mp4"))
        model = args.model or make_weights(Path(tmp) / "random.safetensors")
        base = [str(clip), "--model", str(model), "--preset", args.preset, "--crf", str(args.crf),
                "--temporal", args.temporal]
        if args.batch_size:
            base += ["--batch-size", str(args.batch_size)]
        if args.duration:
            base += ["--duration", str(args.duration)]
        rows = [("floor (decode+encode)", "floor")]
        rows += [(f"filmcolor {rt} S={s}", f"{rt}:{s}") for s in args.render_sizes.split(",")
                 for rt in args.runtimes.split(",")]
        print(f"clip: {clip}  preset={args.preset} crf={args.crf} temporal={args.temporal}", flush=True)
        results = {}
        for label, what in rows:
            runs = [run_child(base, what) for _ in range(args.repeat)]
            results[label] = max(runs, key=lambda r: r["fps"])
            print(f"  {label}: {results[label]['fps']:.1f} fps", flush=True)
    floor = results["floor (decode+encode)"]["fps"]
    head = f"| {'run':24} | frames | fps   | x floor | peak RSS MB | " + " | ".join(STAGES) + " |"
    print("\n" + head + "\n|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for label, r in results.items():
        stages = r.get("stages", {})
        split = " | ".join(f"{stages.get(s, 0):.1f}" if stages else "-" for s in STAGES)
        print(f"| {label:24} | {r['frames']:6d} | {r['fps']:5.1f} | {r['fps'] / floor:7.2f} | "
              f"{r['rss_mb']:11.0f} | {split} |")
    print("\nstage columns: busy ms per frame in each stage's thread "
          "(stages overlap, so they add up to more than 1000/fps)")


if __name__ == "__main__":
    main(sys.argv[1:])
