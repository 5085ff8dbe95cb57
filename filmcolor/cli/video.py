"""`filmcolor video`: colour a whole film, keeping its audio, timing and size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from filmcolor.cli import build_options, console, dataclass_options, guarded, plain
from filmcolor.options import ModelSpec
from filmcolor.video.pipeline import VideoOptions, colorize_video


class _FpsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f} fps" if speed else "  -- fps", style="cyan")


@click.command("video", short_help="Colour a black-and-white film, its sound and timing kept.")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output video file (.mp4, .mkv, .mov...).")
@dataclass_options(ModelSpec, VideoOptions)
@click.option("--preview", type=click.Path(path_type=Path), default=None, metavar="FILE.png",
              help="Also write a before/after still of a few frames spread through the film.")
@click.option("--report", type=click.Path(path_type=Path), default=None, metavar="FILE.json",
              help="Write a JSON report: frames, fps, device, model, settings, timings, warnings, cuts, inserts.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no 'ok' line: warnings and errors only.")
@guarded
def video_command(input_path: Path, output: Path, preview: Path | None, report: Path | None, overwrite: bool,
                  quiet: bool, **values: Any) -> None:
    """Colour a black-and-white video: INPUT -> OUTPUT with the same frames, timing and audio.

    INPUT is a video file, or a folder of numbered frames (a film scan: scan_000001.dpx, ...; every number
    there, one name) read as a film at --frame-rate.

    \b
    Examples:
      filmcolor video old_movie.mp4 -o color.mp4
      filmcolor video old_movie.mp4 -o try.mp4 --start 00:10:00 --duration 20 --preview try.png
      filmcolor video reel1_scans/ -o reel1.mkv --frame-rate 24 --codec ffv1
    """
    spec, options = build_options(ModelSpec, values), build_options(VideoOptions, values)
    colorizer = spec.load()
    run = dict(overwrite=overwrite, preview_path=preview, report_path=report)
    if quiet:  # (its warnings still: a stream dropped, guidance unused, sound re-encoded)
        for warning in colorize_video(input_path, output, colorizer, options, **run).warnings:
            console.print(f"[yellow]warning:[/] {plain(warning)}", soft_wrap=True)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               _FpsColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"colouring {plain(input_path.name)}", total=None)

        def on_progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=max(total, done) if total else None)

        result = colorize_video(input_path, output, colorizer, options, on_progress, **run)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {plain(warning)}", soft_wrap=True)
    console.print(f"[green]ok[/] {plain(str(input_path))} -> {plain(str(output))}: {result.frames} frames, "
                  f"{result.duration:.2f} s of video in {result.elapsed:.1f} s ({result.fps:.1f} fps, "
                  f"{result.runtime} on {result.device}, render size {result.render_size})", soft_wrap=True)


COMMANDS = [video_command]
