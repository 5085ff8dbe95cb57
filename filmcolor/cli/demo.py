"""`filmcolor demo`: see filmcolor work in seconds, with nothing but the install."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from filmcolor.cli import console, guarded, model_options
from filmcolor.demo import DEMO_PHOTOS, write_demo_clip
from filmcolor.fsutil import atomic_output, check_output_path, make_output_folder
from filmcolor.options import ModelSpec
from filmcolor.video.pipeline import colorize_video


@click.command("demo", short_help="Colour a built-in gray clip: a first run with nothing to download.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path), default=Path("filmcolor-demo"),
              show_default=True, help="Folder for the demo files (created if missing).")
@model_options
@click.option("--overwrite", is_flag=True, help="Replace demo files from an earlier run.")
@guarded
def demo_command(out_dir: Path, model: str, device: str, runtime: str, overwrite: bool) -> None:
    """Colour a built-in gray clip (scikit-image's sample photos, panned and zoomed, with sound).

    Writes OUT/demo_gray.mp4 (the input), OUT/demo_color.mp4 (the result, audio stream-copied) and
    OUT/demo_preview.png (before/after). No download, no data needed.
    """
    colorizer = ModelSpec(model, device, runtime).load()  # at the video render size; first: a bad --model or
    make_output_folder(out_dir)  # --device is said before the clip is made (an audit)
    gray, color, preview = out_dir / "demo_gray.mp4", out_dir / "demo_color.mp4", out_dir / "demo_preview.png"
    for path in (gray, color, preview):  # (a link was written through, and a folder found after the work; an
        check_output_path(path, [], overwrite)  # audit)
    with atomic_output(gray, replace=overwrite) as tmp:  # (Ctrl-C left a half clip under its name; an audit)
        frames = write_demo_clip(tmp)
    console.print(f"made {escape(str(gray))} ({frames} frames from scikit-image's {', '.join(DEMO_PHOTOS)} photos)")
    report = colorize_video(gray, color, colorizer, overwrite=overwrite, preview_path=preview)
    console.print(f"coloured {report.frames} frames at {report.fps:.1f} fps ({escape(report.runtime)}, "
                  f"{escape(report.device)})")
    console.print(f"wrote {escape(str(color))} and {escape(str(preview))}")


COMMANDS = [demo_command]
