"""Whole-process speed of `filmcolor video` per clip size, beside the bare decode+encode floor; prints a table.

    python scripts/bench_video.py                       # 480p and 1080p gray clips made from scene_cuts.mp4
    python scripts/bench_video.py --sizes 480,1080,2160 --repeat 3
    python scripts/bench_video.py --video-args "--network-every 1"     # adds an every-frame row per clip
    python scripts/bench_video.py my_clip.mp4 other.mkv --loops 1
    python scripts/bench_video.py --against ../base --repeat 3  # this tree and another checkout, alternating

Each row spawns the installed CLI, `filmcolor video IN -o OUT --report R.json` with default settings (plus any
--video-args), and times it from spawn to exit: "fps" is frames / wall seconds, process start included. Beside
it: the floor, a fresh process that only decodes the clip and re-encodes its luma with the encoder settings the
tool picks for that size (same codec, --preset auto resolved per resolution, crf, audio copied), timed around
its loop; the pipeline's own fps from the report (which excludes process start); "start+exit", the wall time
outside the pipeline's clock (interpreter, imports, model load, ONNX session and graph cache, opening the
files, exit); the report's busy milliseconds per frame of each stage's thread; and the peak RSS of that child
process alone (os.wait4). One short untimed warm-up run per row (the whole clip with --keyframe) first builds
the ONNX graph cache for its shape, so the timings measure a normal start. --repeat N keeps each row's best run.

--against DIR times another checkout of filmcolor (a `git worktree add DIR REV`) beside this one: each row is
run from both trees (`python -m filmcolor` with PYTHONPATH set to the tree), alternating run by run so that
the machine's moods fall on both alike, and the table gets a row per tree and the ratio of their fps.

Clips: without paths, gray copies of ../shared/data/videos/scene_cuts.mp4 rescaled to each --sizes height
(16:9) and played --loops times (2: 388 frames, 16 s), made once by scripts/make_gray_clip.py into
--cache-dir; a missing source is an error (it was replaced by a synthetic clip of the same length without a
word, 2-2.5x quicker to encode: an audit), and `--synthetic` asks for that clip. Nothing here is
asserted: the numbers are only as quiet as the machine (run it alone, or under `nice` beside other work).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor, in the floor's child too)

ROOT = Path(__file__).resolve().parents[1]
SOURCE_CLIP = ROOT.parent / "shared" / "data" / "videos" / "scene_cuts.mp4"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "filmcolor-bench"


def make_clip(path: Path, width: int = 854, height: int = 480, frames: int = 388, rate: int = 24) -> Path:
    """A gray clip with motion and an AAC track, for machines without the shared data."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        audio = container.add_stream("aac", rate=48000)
        audio.layout = "mono"
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        scale = 480 / height
        for i in range(frames):
            gray = 128 + 60 * np.sin((xx * scale + 4 * i) / 37.0) * np.cos((yy * scale - 3 * i) / 23.0)
            frame = av.VideoFrame.from_ndarray(gray.astype(np.uint8), format="gray").reformat(format="yuv420p")
            frame.pts = i
            container.mux(stream.encode(frame))
        samples = 48000 * frames // rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 48000, start
            container.mux(audio.encode(chunk))
        container.mux(stream.encode(None))
        container.mux(audio.encode(None))
    return path


def bench_clip(height: int, loops: int, cache_dir: Path, source: Path | None = SOURCE_CLIP) -> Path:
    """The gray benchmark clip for this height (16:9, even sides) made from ``source`` (None: a synthetic
    one), made once and kept in ``cache_dir``."""
    width = round(height * 16 / 9 / 2) * 2
    cache_dir.mkdir(parents=True, exist_ok=True)
    if source is not None and not source.exists():
        raise SystemExit(f"--source {source}: not found (--synthetic times a made-up clip instead)")
    name = f"{source.stem if source else 'synthetic'}-gray-{width}x{height}-x{loops}.mp4"
    path = cache_dir / name
    if path.exists():
        return path
    tmp = path.with_name("partial-" + name)
    print(f"making {path} ...", flush=True)
    if source:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_gray_clip.py"), str(source), str(tmp),
                        "--size", f"{width}x{height}", "--loops", str(loops)], check=True, stdout=subprocess.DEVNULL)
    else:
        make_clip(tmp, width, height, frames=194 * loops)
    tmp.replace(path)
    return path


# ---- the floor, in its own child process -------------------------------------------------------------------


def measure_floor(clip: Path, out: Path, preset: str, crf: int | None) -> dict:
    """Decode the clip's luma and re-encode it with the writer's settings, audio copied; no model."""
    import av

    from filmcolor.video.reader import LumaFrame, VideoReader
    from filmcolor.video.writer import EncoderOptions, VideoWriter, auto_preset

    reader = VideoReader(clip)
    info = reader.info
    options = EncoderOptions(preset=preset, crf=crf)
    writer = VideoWriter(out, info, options, reader.passthrough)
    frames = 0
    start = time.perf_counter()
    for item in reader:
        if isinstance(item, LumaFrame):
            frame = av.VideoFrame.from_ndarray(item.gray, format="gray")
            writer.write_frame(frame.reformat(format=writer.pix_fmt, dst_color_range="MPEG"), item.pts)
            frames += 1
        else:
            writer.mux(item)
    writer.close()
    elapsed = time.perf_counter() - start
    reader.close()
    resolved = auto_preset(info.width, info.height) if preset == "auto" else preset
    return {"frames": frames, "elapsed": elapsed, "fps": frames / elapsed, "preset": resolved, "crf": crf,
            "size": f"{info.width}x{info.height}"}


# ---- the parent: spawn each run, time it, read its report --------------------------------------------------


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run ``cmd``; (wall seconds from spawn to exit, peak RSS MB of that child alone, exit status)."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def failed(what: str, log: Path) -> SystemExit:
    return SystemExit(f"{what} failed:\n{log.read_text(errors='replace')[-3000:]}")


def filmcolor_cmd(tree: Path | None = None) -> list[str]:
    """The installed CLI, or with ``tree`` the interpreter running that checkout's package (see tree_env)."""
    entry = Path(sys.executable).with_name("filmcolor")
    # -P: `python -m` puts the working folder first on sys.path, before PYTHONPATH, so run from a checkout every
    # --against tree imported that checkout (stop 39's rows timed one tree twice)
    return [str(entry)] if entry.exists() and tree is None else [sys.executable, "-P", "-m", "filmcolor"]


def tree_env(tree: Path | None) -> dict[str, str] | None:
    """The environment that makes ``python -m filmcolor`` import the checkout ``tree`` (None: inherited)."""
    if tree is None:
        return None
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{inherited}" if inherited else str(tree)}


def run_filmcolor(clip: Path, extra: list[str], tmp: Path, duration: float | None = None,
                  tree: Path | None = None) -> dict:
    out, report, log = tmp / "out.mp4", tmp / "report.json", tmp / "filmcolor.log"
    cmd = [*filmcolor_cmd(tree), "video", str(clip), "-o", str(out), "--report", str(report), "--overwrite",
           *extra]
    if duration is not None:
        cmd += ["--duration", str(duration)]
    wall, rss, status = spawn(cmd, log, tree_env(tree))
    if status != 0:
        raise failed(shlex.join(cmd), log)
    rep = json.loads(report.read_text())
    return {"wall": wall, "rss_mb": rss, "frames": rep["frames"], "network_frames": rep["network_frames"],
            "fps": rep["frames"] / wall, "pipeline_fps": rep["fps"], "start_exit": wall - rep["elapsed"],
            "stages": rep["stage_ms_per_frame"], "runtime": rep["runtime"], "model": rep["model"]}


def run_floor(clip: Path, preset: str, crf: int | None, tmp: Path) -> dict:
    log, result = tmp / "floor.log", tmp / "floor.json"
    cmd = [sys.executable, __file__, "--floor-child", str(clip), str(tmp / "floor.mp4"), str(result),
           "--preset", preset, "--crf", str(crf)]
    wall, rss, status = spawn(cmd, log)
    if status != 0:
        raise failed("floor", log)
    return {**json.loads(result.read_text()), "wall": wall, "rss_mb": rss}


def encoder_args(extra: list[str]) -> tuple[str, int | None]:
    """The --preset and --crf a filmcolor command line ends up with (the floor must match them)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--preset", default="auto")
    parser.add_argument("--crf", type=int, default=18)
    known, _ = parser.parse_known_args(extra)
    return known.preset, known.crf


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["fps"])


def table(rows: list[dict]) -> str:
    stages = [s for s in rows[0]["stages"] if any(r["stages"].get(s) for r in rows)]  # the report's order
    head = ["clip", "run", "frames", "network frames", "wall s", "fps (whole process)", "floor fps", "x floor",
            "pipeline fps", "start+exit s", "peak RSS MB", *[f"{s} ms/f" for s in stages]]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|"]
    for r in rows:
        f = r["floor"]
        cells = [r["clip"], r["run"], str(r["frames"]), str(r["network_frames"]), f"{r['wall']:.1f}",
                 f"{r['fps']:.1f}",
                 f"{f['fps']:.1f} ({f['preset']} crf {f['crf']})", f"{r['fps'] / f['fps']:.2f}",
                 f"{r['pipeline_fps']:.1f}", f"{r['start_exit']:.2f}", f"{r['rss_mb']:.0f}",
                 *[f"{r['stages'].get(s, 0):.1f}" for s in stages]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="*", type=Path, help="clips to time (default: made for each of --sizes)")
    parser.add_argument("--sizes", default="480,1080", help="heights of the made clips, e.g. 480,1080,2160")
    parser.add_argument("--source", type=Path, default=SOURCE_CLIP,
                        help="colour clip the made clips are grayed from (default: the shared scene_cuts.mp4)")
    parser.add_argument("--synthetic", action="store_true", help="time a synthetic gray clip, not --source")
    parser.add_argument("--loops", type=int, default=2, help="times the source plays in a made clip")
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR, help="where made clips are kept")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the best is kept")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another filmcolor checkout to time beside this one, run by run (a row each)")
    parser.add_argument("--video-args", action="append", default=[], metavar="ARGS",
                        help='extra `filmcolor video` arguments for one more row per clip, e.g. "--network-every 1"'
                        " (repeatable; the default-settings row is always run)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--floor-child"]:
        clip, out, result = (Path(a) for a in argv[1:4])
        preset, crf = encoder_args(argv[4:])
        result.write_text(json.dumps(measure_floor(clip, out, preset, crf)))
        return
    args = parse_args(argv)
    if args.against is not None and not (args.against / "filmcolor" / "__init__.py").is_file():
        raise SystemExit(f"--against {args.against}: not a filmcolor checkout (no filmcolor/__init__.py)")
    # this checkout's package, by PYTHONPATH (the installed command, or a script's folder first on sys.path,
    # may be another checkout's: an audit)
    trees: list[Path] = [ROOT] if args.against is None else [ROOT, args.against.resolve()]
    source = None if args.synthetic else args.source.resolve()
    clips = args.clips or [bench_clip(int(h), args.loops, args.cache_dir, source) for h in args.sizes.split(",")]
    variants = [("default", [])] + [(text, shlex.split(text)) for text in args.video_args]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp_name:
        tmp = Path(tmp_name)
        for clip in clips:
            floors: dict[tuple[str, int | None], dict] = {}
            for label, extra in variants:
                print(f"{clip.name} {label}: warm-up", flush=True)
                for tree in trees:  # builds (or loads) the ONNX graph for this shape; the whole clip with
                    # keyframes (most would be past the end of a second's slice: an error)
                    run_filmcolor(clip, extra, tmp, duration=None if "--keyframe" in extra else 1, tree=tree)
                settings = encoder_args(extra)
                if settings not in floors:
                    floors[settings] = best([run_floor(clip, *settings, tmp) for _ in range(args.repeat)])
                    f = floors[settings]
                    print(f"  floor {f['size']} {f['preset']} crf {f['crf']}: {f['fps']:.1f} fps", flush=True)
                runs: dict[Path | None, list[dict]] = {tree: [] for tree in trees}
                for _ in range(args.repeat):  # the trees alternate, run by run
                    for tree in trees:
                        runs[tree].append(run_filmcolor(clip, extra, tmp, tree=tree))
                kept = [best(runs[tree]) for tree in trees]
                for tree, run in zip(trees, kept, strict=True):
                    name = label if args.against is None else f"{label} @ {tree.name}"
                    rows.append({**run, "clip": clip.name, "run": name, "floor": floors[settings]})
                    print(f"  filmcolor {name}: {run['fps']:.1f} fps whole process, "
                          f"{run['pipeline_fps']:.1f} in the pipeline", flush=True)
                if args.against is not None:
                    this, other = kept
                    print(f"  {trees[0].name} / {trees[1].name}: whole process x{this['fps'] / other['fps']:.3f}, "
                          f"pipeline x{this['pipeline_fps'] / other['pipeline_fps']:.3f}", flush=True)
    print()
    print(table(rows))
    command = shlex.join(filmcolor_cmd(trees[0])) + f" (PYTHONPATH: {'each tree' if args.against else ROOT})"
    made = "given" if args.clips else f"made from {'a synthetic pattern' if source is None else source}"
    print(f"\nmachine: nproc {len(os.sched_getaffinity(0))}; {command} video, model "
          f"{Path(rows[0]['model']).name}, runtime {rows[0]['runtime']}, best of {args.repeat} run(s) per row; "
          f"clips {made}.")
    print("fps = frames / wall seconds from spawn to exit; the floor (bare decode+encode, same encoder settings) "
          "is timed around its loop, without process start. Stage columns are busy ms per frame in each stage's "
          "thread: the stages overlap, so they add up to more than 1000 / pipeline fps.")


if __name__ == "__main__":
    main(sys.argv[1:])
