"""`filmcolor eval-video`: flicker of a colourised video, and ab error against its colour original."""

from __future__ import annotations

import json
from pathlib import Path

import click

from filmcolor.cli import console, field_option, guarded, plain
from filmcolor.video.quality import evaluate_video
from filmcolor.video.scenecut import DEFAULT_CUT_THRESHOLD
from filmcolor.video.temporal import TemporalOptions


@click.command("eval-video", short_help="Measure a coloured video's flicker and its error against the original.")
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--original", type=click.Path(path_type=Path), default=None,
              help="The colour original: adds ab error against it, its own flicker and the flicker ratio.")
@field_option(TemporalOptions, "cut_threshold", DEFAULT_CUT_THRESHOLD,
              help="Scene-cut sensitivity (lower finds more cuts); frame pairs across a cut are not measured.")
@guarded
def eval_video_command(output: Path, original: Path | None, cut_threshold: float) -> None:
    """Measure the flicker of a colourised video OUTPUT and print JSON.

    \b
    flicker: mean |ab_t - warp(ab_t-1)| over frame pairs, Lab units, where the flow from L is reliable.
    With --original: ab_error against it, original_flicker and flicker_ratio (1.0 is as steady as reality).
    Exit code 1 when the two differ in length: the first frames are compared and the JSON printed
    ("partial": true), but the film was not scored whole.

    \b
    Examples:
      filmcolor eval-video color.mp4
      filmcolor eval-video color.mp4 --original colour_original.mp4
    """
    result = evaluate_video(output, original, cut_threshold)
    for warning in result["warnings"]:  # (in the JSON too)
        console.print(f"[yellow]warning:[/] {plain(warning)}", soft_wrap=True)
    click.echo(json.dumps(result, indent=2))
    if result["partial"]:  # (an audit: exit 0 although part of the film went unscored)
        raise SystemExit(1)


COMMANDS = [eval_video_command]
