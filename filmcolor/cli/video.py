"""`filmcolor video`: colour a whole film, keeping its audio, timing and size."""

from __future__ import annotations

import json
import re
from pathlib import Path

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

from filmcolor.cli import console, guarded, model_options
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
from filmcolor.errors import InputError
from filmcolor.fsutil import check_output_path, write_bytes_atomic
from filmcolor.video.pipeline import VideoOptions, colorize_video
from filmcolor.video.temporal import TEMPORAL_MODES, TemporalOptions
from filmcolor.video.writer import DEFAULT_PRESET

_TIME = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)$")


def parse_time(text: str | None, name: str) -> float | None:
    """'90', '1.5', '01:30', '00:10:00.5' -> seconds."""
    if text is None:
        return None
    match = _TIME.match(text.strip())
    if not match:
        raise click.BadParameter(f"'{text}' is not a time; use seconds (90) or HH:MM:SS (00:01:30)",
                                 param_hint=name)
    hours, minutes, secs = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)


def video_options_from_cli(*, batch_size: int | None, temporal: str, temporal_strength: float,
                           cut_threshold: float | None, codec: str, crf: int, preset: str, audio: str,
                           no_audio: bool, start: str | None, duration: str | None, overwrite: bool,
                           on_error: str, preview: Path | None = None) -> VideoOptions:
    """Validated VideoOptions from this command's option values (`filmcolor batch` shares them)."""
    temporal_kwargs = {} if cut_threshold is None else {"cut_threshold": cut_threshold}
    options = VideoOptions(
        codec=codec, crf=crf, preset=preset, batch_size=batch_size, audio="none" if no_audio else audio,
        start=parse_time(start, "--start") or 0.0, duration=parse_time(duration, "--duration"),
        overwrite=overwrite, on_error=on_error, preview=preview,
        temporal=TemporalOptions(mode=temporal, strength=temporal_strength, **temporal_kwargs))
    options.validate()
    return options


class _FpsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f} fps" if speed else "  -- fps", style="cyan")


@click.command("video")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output video file (.mp4, .mkv, .mov...).")
@model_options
@click.option("--render-size", type=int, default=None,
              help=f"Short side (pixels) the network sees [default: {DEFAULT_VIDEO_RENDER_SIZE}]; colour is "
                   "upsampled to full size and the original full-resolution brightness is kept.")
@click.option("--batch-size", type=int, default=None,
              help="Frames per network call [default: 1 with ONNX Runtime, 4 with torch on CPU, 16 on GPU].")
@click.option("--temporal", type=click.Choice(TEMPORAL_MODES), default=TemporalOptions().mode, show_default=True,
              help="Smooth colour over time to stop flicker: motion-compensated (flow), plain average (ema).")
@click.option("--temporal-strength", type=click.FloatRange(0.0, 1.0), default=TemporalOptions().strength,
              show_default=True,
              help="How much of the previous frames' colour is kept (0 = none).")
@click.option("--cut-threshold", type=float, default=None,
              help="Scene-cut sensitivity; smoothing restarts at each cut (lower finds more cuts).")
@click.option("--codec", default="libx264", show_default=True, help="Video encoder (libx264, libx265, ...).")
@click.option("--crf", type=int, default=18, show_default=True, help="Encoder quality (lower is better).")
@click.option("--preset", default=DEFAULT_PRESET, show_default=True,
              help="Encoder speed preset (libx264/libx265): slower presets make smaller files, "
                   "not better colour.")
@click.option("--audio", type=click.Choice(["copy", "reencode"]), default="copy", show_default=True,
              help="copy: audio packets untouched (re-encoded, with a warning, only where the output "
                   "container cannot hold the codec); reencode: always re-encode.")
@click.option("--no-audio", is_flag=True, help="Drop audio and subtitle streams.")
@click.option("--start", default=None, metavar="TIME", help="Start at TIME (seconds or HH:MM:SS).")
@click.option("--duration", default=None, metavar="TIME", help="Colour only this long (seconds or HH:MM:SS).")
@click.option("--preview", type=click.Path(path_type=Path), default=None, metavar="FILE.png",
              help="Also write a before/after still of a few frames spread through the film.")
@click.option("--report", type=click.Path(path_type=Path), default=None, metavar="FILE.json",
              help="Write a JSON report: frames, fps, device, model, settings, timings, warnings, cuts.")
@click.option("--on-error", type=click.Choice(["repeat", "fail"]), default="repeat", show_default=True,
              help="On a corrupt frame: repeat the last good one (and warn), or stop.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@guarded
def video_command(input_path: Path, output: Path, model: str, device: str, runtime: str,
                  render_size: int | None, batch_size: int | None, temporal: str, temporal_strength: float,
                  cut_threshold: float | None, codec: str, crf: int, preset: str, audio: str, no_audio: bool,
                  start: str | None, duration: str | None, preview: Path | None, report: Path | None,
                  on_error: str, overwrite: bool, quiet: bool) -> None:
    """Colour a black-and-white video: INPUT -> OUTPUT with the same frames, timing and audio.

    \b
    Examples:
      filmcolor video old_movie.mp4 -o color.mp4
      filmcolor video old_movie.mp4 -o try.mp4 --start 00:10:00 --duration 20 --preview try.png
    """
    options = video_options_from_cli(
        batch_size=batch_size, temporal=temporal, temporal_strength=temporal_strength,
        cut_threshold=cut_threshold, codec=codec, crf=crf, preset=preset, audio=audio, no_audio=no_audio,
        start=start, duration=duration, overwrite=overwrite, on_error=on_error, preview=preview)
    if not input_path.exists():
        raise InputError(f"{input_path}: file not found")
    if report is not None:
        check_output_path(report, [input_path, output], overwrite)
    check_output_path(output, [input_path], overwrite)
    colorizer = Colorizer.from_pretrained(model, device=device, runtime=runtime,
                                          render_size=render_size or DEFAULT_VIDEO_RENDER_SIZE)
    if quiet:
        result = colorize_video(input_path, output, colorizer, options)
    else:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   _FpsColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"colouring {input_path.name}", total=None)

            def on_progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=max(total, done) if total else None)

            result = colorize_video(input_path, output, colorizer, options, on_progress)
    if report is not None:
        write_bytes_atomic(report, json.dumps(result.to_dict(), indent=2).encode() + b"\n")
    if quiet:
        return
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    console.print(f"[green]ok[/] {input_path} -> {output}: {result.frames} frames, "
                  f"{result.duration:.2f} s of video in {result.elapsed:.1f} s ({result.fps:.1f} fps, "
                  f"{result.runtime} on {result.device}, render size {result.render_size})", soft_wrap=True)


COMMANDS = [video_command]
