"""Films with held frames (each picture shown for 2 or 3 frames): flicker, colour error, network frames and
speed of `filmcolor video` end to end, this tree beside another checkout; prints a table.

    python scripts/bench_held.py --against ../base41        # git worktree add ../base41 REV

A film transferred at a higher rate than it was shot repeats frames: a silent film's 16-18 pictures a second
at 25 fps repeat every third frame, animation on twos and CCTV recorders hold every picture for 2 frames.
Here the three real colour clips of ../shared/data/videos are re-timed so (--holds: each picture held for
2, 1, 2, 1, ... frames, and for 2 frames each), encoded at 25 fps (libx264 crf 18, so the held frames carry
the encoder's noise, as in a real transfer), coloured from their gray, and scored with `filmcolor eval-video
--original` against the held colour clip: flicker as a ratio of the original's, mean ab error. The real silent
film (no colour original) gives the speed and the network frames. Each tree runs the same clips, alternating.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import av
from bench_video import filmcolor_cmd, run_filmcolor, tree_env

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = ("davis_dance_twirl.mp4", "scene_cuts.mp4", "cctv_pedestrians.avi")
FILM = VIDEOS / "bw_film_excerpt.mp4"
HOLDS = {"2,1": (2, 1), "2": (2,)}  # frames each picture is held for, in turn


def make_held(src: Path, dst: Path, holds: tuple[int, ...], rate: int = 25) -> int:
    """``src`` re-timed: picture k shown for holds[k % len(holds)] frames at ``rate``; colour, yuv420p."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"crf": "18", "preset": "veryfast"}
        pts = 0
        for k, frame in enumerate(inp.decode(vin)):
            picture = frame.reformat(format="yuv420p")
            for _ in range(holds[k % len(holds)]):
                copy = av.VideoFrame.from_ndarray(picture.to_ndarray(), format="yuv420p")
                copy.pts = pts
                pts += 1
                out.mux(vout.encode(copy))
        out.mux(vout.encode(None))
    return pts


def score(out: Path, original: Path, tree: Path | None) -> dict:
    cmd = [*filmcolor_cmd(tree), "eval-video", str(out), "--original", str(original)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=tree_env(tree))
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, metavar="DIR", help="another checkout to run beside this one")
    parser.add_argument("--holds", nargs="*", default=list(HOLDS), choices=list(HOLDS))
    args = parser.parse_args()
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.against:
        trees.append((str(args.against), args.against.resolve()))
    with tempfile.TemporaryDirectory(prefix="filmcolor-held-") as name:
        tmp = Path(name)
        print("| clip | holds | tree | frames | network frames | fps | flicker ratio | ab error |")
        print("|---|---|---|---|---|---|---|---|")
        for clip in CLIPS:
            for holds in args.holds:
                held = tmp / f"{Path(clip).stem}-held{holds.replace(',', '')}.mp4"
                make_held(VIDEOS / clip, held, HOLDS[holds])
                for label, tree in trees:
                    run = run_filmcolor(held, [], tmp, tree=tree)  # (into tmp/out.mp4)
                    scores = score(tmp / "out.mp4", held, tree)
                    print(f"| {clip} | {holds} | {label} | {run['frames']} | {run['network_frames']} "
                          f"| {run['fps']:.1f} | {scores['flicker_ratio']:.2f} | {scores['ab_error']:.2f} |",
                          flush=True)
        for label, tree in trees:
            run = run_filmcolor(FILM, [], tmp, tree=tree)
            print(f"| {FILM.name} | (its own) | {label} | {run['frames']} | {run['network_frames']} | {run['fps']:.1f} "
                  "| | |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
