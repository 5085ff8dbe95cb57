"""`filmcolor eval`: score weights on colour photos against the gray baseline, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.progress import Progress

from filmcolor.cli import console, guarded, model_options, plain, ranged_option, render_size_option
from filmcolor.colorize import DEFAULT_RENDER_SIZE, Colorizer
from filmcolor.errors import ConfigError, InputError, OutputError
from filmcolor.evaluate import (
    ContactSheet,
    ImageSink,
    PredictionWriter,
    evaluate_hints,
    evaluate_images,
    evaluate_references,
)
from filmcolor.fsutil import check_output_path, write_bytes_atomic
from filmcolor.guide import MAX_POINTS, guidance_file
from filmcolor.imageio import IMAGE_INPUT_EXTENSIONS, is_image_path, list_images


@click.command("eval", short_help="Score a model on colour photos: PSNR, colourfulness, hints, references.")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option("--data", "data", multiple=True, type=click.Path(path_type=Path),
              help="Folder of colour photos (the same as FOLDERS); repeatable.")
@model_options
@render_size_option(DEFAULT_RENDER_SIZE)
@ranged_option("--ab-gain", base=float, at_least=0, default=None,
               help="Multiply predicted ab by this (default: the gain stored in the weights, else 1).")
@ranged_option("--limit", base=int, at_least=0, default=0, show_default=True,
               help="Score only the first N images (sorted by path; 0: all).")
@click.option("--by-source", is_flag=True,
              help="Include a breakdown by source in the JSON (the file name's prefix before '_': coco, ade20k).")
@click.option("--json-out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
@click.option("--save", "save_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the colourised images in this folder (names mirror the inputs').")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a contact sheet (rows of gray | prediction | original) to this .png/.jpg.")
@ranged_option("--sheet-rows", base=int, at_least=1, default=12, show_default=True,
               help="Images (rows) on the contact sheet: the first N scored.")
@ranged_option("--hints", "hints", base=int, at_least=0, at_most=MAX_POINTS, default=None, metavar="N",
               help="Also score with N random hints per photo (a count, where `image --hints` takes a file; "
                    "3x3 mean colour of the original, Zhang et al. 2017's "
                    f"protocol), beside the naive propagation of the same hints with no network (at most "
                    f"{MAX_POINTS}: the network takes that many hint cells).")
@click.option("--hints-seed", type=int, default=0, show_default=True, help="Seed of the --hints points.")
@click.option("--reference-dir", "--reference", "reference_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Also score each photo coloured from the colour reference of the same name in this folder "
                   "(NAME.*), beside the naive transfer (the reference's mean ab per L bin). A folder, where "
                   "`image --reference` also takes one photo.")
@click.option("--overwrite", is_flag=True, help="Replace the --json-out, --sheet and --save files of an earlier run.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@guarded
def eval_command(folders: tuple[Path, ...], data: tuple[Path, ...], model: str, device: str, runtime: str,
                 render_size: int, ab_gain: float | None, limit: int, by_source: bool, json_out: Path | None,
                 save_dir: Path | None, sheet: Path | None, sheet_rows: int, hints: int | None, hints_seed: int,
                 reference_dir: Path | None, overwrite: bool, quiet: bool) -> None:
    """Score a model on colour photos in FOLDERS (e.g. ../shared/data/photos/val).

    Each photo's 8-bit luma (BT.601, what a B&W scan gives) is coloured and compared with the
    original, beside the gray baseline (the luma picture itself, ab = 0): mean RGB PSNR (dB, 8-bit),
    SSIM, ab error (Lab units) and its AuC over thresholds 0..150 (Zhang et al. 2016), and
    Hasler-Suesstrunk colourfulness of prediction and originals. Prints JSON: the means over the photos
    (psnr, ssim, ab_error, auc, colorfulness; gray_* the baseline's; psnr_gain, colorfulness_ratio),
    images, skipped_unreadable and skipped_gray, and with --by-source the same per source.

    A photo that cannot be read, and a gray one (nothing to score against), is skipped and named (a
    toned print, sepia or cyanotype, is a colour photo here: its tint is scored); one over 12 megapixels
    is scored shrunk to 12 (said). A reference that cannot be read skips its pair. Exit code 0 when
    every photo was scored, 1 when any was skipped (the JSON of the others is still printed).

    \b
    Guided colour (models that take hints):
      --hints 10            10 random hints per photo  -> "hints" section
      --reference-dir DIR   a colour reference per photo -> "reference" section
    Each beside its naive floor (the same guidance, no network): naive_gain, over_naive.

    \b
    Examples:
      filmcolor eval ../shared/data/photos/val
      filmcolor eval ../shared/data/photos/val --hints 10 --json-out val.json --sheet val.png
    """
    folders = (*folders, *data)
    if not folders:
        raise click.UsageError("give the photo folder(s): FOLDERS or --data DIR")
    if hints is None and hints_seed != 0:  # (an audit: taken, and nothing scored with hints)
        raise ConfigError(f"--hints-seed {hints_seed} takes effect with --hints N only; add --hints or leave it out")
    for folder in folders:
        if not folder.exists():
            raise InputError(f"{folder}: not found")
    paths = list_images(folders)
    if limit:
        paths = paths[:limit]
    if not paths:
        raise InputError(f"no images found in {', '.join(map(str, folders))}")
    if reference_dir is not None and not reference_dir.is_dir():
        raise InputError(f"{reference_dir}: reference folder not found")
    if sheet is not None and not is_image_path(sheet):
        raise click.BadParameter(f"{sheet}: give a .png or .jpg file name", param_hint="--sheet")
    for output in (json_out, sheet):  # never a photo being scored, nor an earlier file without --overwrite
        if output is not None:
            check_output_path(output, paths, overwrite=overwrite)
    if json_out is not None and sheet is not None and json_out.resolve() == sheet.resolve():
        raise OutputError(f"{sheet}: --json-out and --sheet name the same file")
    sinks: list[ImageSink] = []
    if save_dir is not None:
        writer = PredictionWriter(save_dir, folders)
        writer.check(paths, overwrite)
        sinks.append(writer)
    contact_sheet = ContactSheet(sheet_rows) if sheet is not None else None
    if contact_sheet is not None:
        sinks.append(contact_sheet)

    def keep(*images) -> None:
        for sink in sinks:
            sink(*images)

    colorizer = Colorizer.from_pretrained(model, device=device, render_size=render_size, runtime=runtime)
    if ab_gain is not None:
        colorizer.ab_gain = ab_gain
    with Progress(console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task("scoring", total=len(paths))
        unreadable: list[tuple[Path, str]] = []
        notes: list[str] = []
        summary = evaluate_images(colorizer, paths, progress=lambda done, total: bar.update(task, completed=done),
                                  on_image=keep if sinks else None, unreadable=unreadable, notes=notes)
        if unreadable:
            if len(unreadable) == len(paths):
                raise InputError(f"no colour photo to score ({len(paths)} unreadable or gray; first: "
                                 f"{unreadable[0][1]})")
            skipped = {path for path, _ in unreadable}
            paths = [p for p in paths if p not in skipped]
        guided = {}
        if hints is not None:
            task = bar.add_task(f"{hints} hints", total=len(paths))
            guided["hints"] = evaluate_hints(colorizer, paths, hints, hints_seed,
                                             progress=lambda done, total: bar.update(task, completed=done))
        if reference_dir is not None:
            pairs = [(p, ref) for p in paths
                     if (ref := guidance_file(reference_dir, p, folders, IMAGE_INPUT_EXTENSIONS))]
            if not pairs:
                raise InputError(f"{reference_dir}: no reference named like any of the photos")
            task = bar.add_task("references", total=len(pairs))
            guided["reference"] = evaluate_references(colorizer, pairs,
                                                      progress=lambda done, total: bar.update(task, completed=done),
                                                      unreadable=unreadable)
            guided["reference"]["without_reference"] = len(paths) - len(pairs)
            notes += _reference_notes(guided["reference"], reference_dir)
    if contact_sheet is not None:
        contact_sheet.write(sheet)
    if not by_source:
        summary.pop("by_source", None)
    result = {"model": colorizer.model_name, "render_size": render_size, "runtime": colorizer.runtime,
              "ab_gain": colorizer.ab_gain, "folders": [str(f) for f in folders], **summary}
    result.update(guided)
    if save_dir is not None:
        result["saved_to"] = str(save_dir)
    if sheet is not None:
        result["sheet"] = str(sheet)
    text = json.dumps(result, indent=2)
    for _, why in unreadable:  # one line each, as `filmcolor image` reports them
        console.print(f"[yellow]skipped[/] {plain(why)}", soft_wrap=True)
    for note in notes:
        console.print(f"[yellow]warning:[/] {plain(note)}", soft_wrap=True)
    if unreadable:
        console.print(f"[yellow]warning:[/] {len(unreadable)} file(s) skipped (unreadable, or a photo with no "
                      "colour); the scores are the others'", soft_wrap=True)
    click.echo(text)
    if json_out is not None:
        write_bytes_atomic(json_out, (text + "\n").encode())
    if unreadable:  # the scores stand for the readable photos; the run as a whole did not succeed
        raise SystemExit(1)


def _reference_notes(scores: dict, reference_dir: Path) -> list[str]:
    """What a user should know of the reference scores: photos without a reference, references not used (an
    audit: both went unsaid, and the section read as reference colouring throughout)."""
    notes = []
    if missing := scores.get("without_reference", 0):
        notes.append(f"{missing} photo(s) have no reference named like them in {reference_dir}: not in the "
                     "reference scores")
    scored = scores.get("images", 0)
    if scored and (unused := round(scored * (1.0 - scores.get("used_guide", 1.0)))):
        notes.append(f"{unused} of {scored} reference(s) show too little of their photo's content to be used "
                     "(as `filmcolor image --reference` declines them): those photos are scored as coloured "
                     "automatically, beside the naive transfer of the reference")
    return notes


COMMANDS = [eval_command]
