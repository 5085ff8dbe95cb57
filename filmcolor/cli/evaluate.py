"""`filmcolor eval`: score weights on colour photos against the gray baseline, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import Progress

from filmcolor.cli import console, guarded, model_options
from filmcolor.colorize import DEFAULT_RENDER_SIZE, Colorizer
from filmcolor.errors import InputError
from filmcolor.evaluate import evaluate_images, list_images
from filmcolor.fsutil import write_bytes_atomic


@click.command("eval")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", "data", multiple=True, type=click.Path(path_type=Path),
              help="Folder of colour photos (the same as FOLDERS); repeatable.")
@model_options
@click.option("--render-size", default=DEFAULT_RENDER_SIZE, show_default=True,
              help="Short side (pixels) the network sees.")
@click.option("--ab-gain", type=float, default=None,
              help="Multiply predicted ab by this (default: the gain stored in the weights, else 1).")
@click.option("--limit", type=int, default=0, help="Score only the first N images (sorted by path).")
@click.option("--by-source", is_flag=True, help="Include the per-source breakdown in the JSON.")
@click.option("--json-out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@guarded
def eval_command(folders: tuple[Path, ...], data: tuple[Path, ...], model: str, device: str, runtime: str,
                 render_size: int, ab_gain: float | None, limit: int, by_source: bool, json_out: Path | None,
                 quiet: bool) -> None:
    """Score a model on colour photos in FOLDERS (e.g. ../shared/data/photos/val).

    Each photo's 8-bit luma (BT.601, what a B&W scan gives) is coloured and compared with the
    original: mean RGB PSNR (dB, 8-bit) and Hasler-Suesstrunk colourfulness, beside the gray
    baseline (the luma picture itself) and the originals' colourfulness. Prints JSON.
    """
    folders = (*folders, *data)
    if not folders:
        raise click.UsageError("give the photo folder(s): FOLDERS or --data DIR")
    for folder in folders:
        if not folder.exists():
            raise InputError(f"{folder}: not found")
    paths = list_images(folders)
    if limit:
        paths = paths[:limit]
    if not paths:
        raise InputError(f"no images found in {', '.join(map(str, folders))}")
    colorizer = Colorizer.from_pretrained(model, device=device, render_size=render_size, runtime=runtime)
    if ab_gain is not None:
        colorizer.ab_gain = ab_gain
    with Progress(console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task("scoring", total=len(paths))
        summary = evaluate_images(colorizer, paths, progress=lambda done, total: bar.update(task, completed=done))
    if not by_source:
        summary.pop("by_source", None)
    result = {"model": colorizer.model_name, "render_size": render_size, "runtime": colorizer.runtime,
              "ab_gain": colorizer.ab_gain, "folders": [str(f) for f in folders], **summary}
    text = json.dumps(result, indent=2)
    click.echo(text)
    if json_out is not None:
        write_bytes_atomic(json_out, (text + "\n").encode())


COMMANDS = [eval_command]
