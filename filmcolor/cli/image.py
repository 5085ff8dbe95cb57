"""`filmcolor image`: colour still photos, one file or whole folders."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import click

from filmcolor import photometa
from filmcolor.cli import (
    DEBUG_ENV,
    console,
    error_line,
    guarded,
    model_options,
    plain,
    render_size_option,
    unexpected,
)
from filmcolor.colorize import DEFAULT_RENDER_SIZE, Colorizer
from filmcolor.errors import ConfigError, FilmcolorError, InputError, OutputError
from filmcolor.fsutil import check_output_path, make_output_folder, not_a_file
from filmcolor.guide import GuidanceFiles
from filmcolor.imageio import IMAGE_INPUT_EXTENSIONS, copy_suffix, list_images, output_is_file, read_image, write_image

UNMATCHED_SHOWN = 3  # guidance files named in the warning about those no image takes


def plan_outputs(inputs: tuple[Path, ...], output: Path, ext: str | None,
                 guidance: tuple[Path, ...] = ()) -> list[tuple[Path, Path]]:
    """Pair each input image with its output path (a file, or mirrored names under a folder). Pictures in a
    ``guidance`` folder (scribbles, references) inside an input folder are no inputs."""
    if str(output) == "-":  # (it made a folder named '-'; an audit)
        raise ConfigError("-o -: pictures are written to files, not to standard output; give a file or folder name")
    single_file = output_is_file(output, inputs)
    if single_file:
        own = output.suffix.lower()
        if ext is not None and EXT_SPELLINGS.get(own, own) != ext:  # (a .jpg was written; an audit)
            raise ConfigError(f"--ext {ext} with -o {output}: --ext names folder outputs' format; a file's is "
                              "its own extension")
        return [(inputs[0], output)]
    pairs: list[tuple[Path, Path]] = []
    for src in inputs:
        if src.is_dir():
            _check_guidance_folders(src, guidance)
            # an output folder inside the input folder: what earlier runs wrote there is not input; nor are the
            # pictures of a guidance folder inside it (scribbles were coloured as photos; an audit)
            inside = [g.resolve() for g in guidance if g.resolve().is_relative_to(src.resolve())]
            listed = [p for p in list_images([src]) if not any(p.resolve().is_relative_to(g) for g in inside)]
            found = [p for p in listed if not p.resolve().is_relative_to(output.resolve())]
            if listed and not found:  # `-o` is the input folder, or holds it: each output would be an input
                raise OutputError(f"{output}: the output folder holds the images of {src}; give an output "
                                  "folder outside it")
            if not found:
                raise InputError(f"{src}: no images found (looked for {', '.join(IMAGE_INPUT_EXTENSIONS)})")
            pairs += [(p, output / p.relative_to(src)) for p in found]
        else:
            pairs.append((src, output / src.name))
    # a photo given twice (by one path, or a folder and a file in it) is coloured once; a link beside it is a
    # photo of its own, as batch takes it (and a link that loops fails alone, when it is read)
    once = {os.path.abspath(s): s for s, _ in reversed(pairs)}
    pairs = [(s, d.with_suffix(ext or copy_suffix(d.suffix))) for s, d in pairs if once[os.path.abspath(s)] is s]
    # the photo whose own name a copy has keeps it (scan.jp2; not scan.jpf, also copied as .jp2), else the first
    owner: dict[Path, Path] = {}
    for src, dst in sorted(pairs, key=lambda pair: pair[0].suffix.lower() != pair[1].suffix.lower()):
        owner.setdefault(dst, src)
    taken = {dst for _, dst in pairs}
    named: list[tuple[Path, Path]] = []
    for src, dst in pairs:
        other = owner[dst]
        if other is not src and other.parent == src.parent and other.stem == src.stem:
            # one photo in two formats (scan.jpf beside scan.jp2, or a .png and a .jpg with --ext): scan-2.jp2,
            # as batch names it, past any name another photo has
            dst = next(d for n in itertools.count(2) if (d := dst.with_stem(f"{dst.stem}-{n}")) not in taken
                       and not _a_photo_beside(d, src))
            taken.add(dst)
        elif other is not src:
            raise InputError(f"{dst}: both {other} and {src} would be written there; colour them into "
                             "separate output folders")
        named.append((src, dst))
    return named


def _check_guidance_folders(src: Path, guidance: tuple[Path, ...]) -> None:
    """A scribbles or references folder that is the input folder: its pictures would be coloured as photos and
    each photo taken as its own guidance (a colour photo's gray pixels all hints: it came out gray; an audit)."""
    for folder in guidance:
        if folder.resolve() == src.resolve():
            raise ConfigError(f"{folder}: the guidance folder is the input folder {src}: its pictures would be "
                              "coloured as photos and each photo taken as its own guidance; put them in a "
                              f"folder of their own (say {src / 'guides'})")


def _a_photo_beside(path: Path, src: Path) -> bool:
    """Whether ``path`` is a photo in ``src``'s own folder (output written beside the inputs): never a name to
    give a copy, though it is not among the photos given."""
    return os.path.abspath(path.parent) == os.path.abspath(src.parent) and path.exists()


OUTPUT_EXTS = [".png", ".jpg", ".tif", ".jp2", ".webp", ".bmp"]
EXT_SPELLINGS = {".jpeg": ".jpg", ".tiff": ".tif"}


def _ext(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--ext as written: '.PNG' and 'png' are .png, '.jpeg' is .jpg (click had refused them)."""
    if value is None:
        return None
    value = "." + value.lower().lstrip(".")
    value = EXT_SPELLINGS.get(value, value)
    if value not in OUTPUT_EXTS:
        raise click.BadParameter(f"{value}: expected one of {', '.join(OUTPUT_EXTS)}")
    return value


def _once(ctx: click.Context, param: click.Parameter, values: tuple[Path, ...]) -> Path | None:
    """A guidance option given once (a file, or a folder of NAME.*): click kept the last of several, the
    others dropped without a word, a missing one too (an audit)."""
    if len(values) > 1:
        raise click.BadParameter(f"given {len(values)} times ({', '.join(map(str, values))}): give one file, or "
                                 "a folder of files named like the images")
    if values and not values[0]:  # (it was the working folder, scanned whole; an audit)
        raise click.BadParameter("an empty path: give a file, or a folder of files named like the images")
    return Path(values[0]) if values else None


@click.command("image", short_help="Colour black-and-white photos (files or folders), their own lightness kept.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output file (one input) or folder (several inputs or a folder; created if missing).")
@model_options
@render_size_option(DEFAULT_RENDER_SIZE)
@click.option("--ext", default=None, callback=_ext, metavar="|".join(OUTPUT_EXTS).replace(".", ""),
              help="Output format for folder outputs (default: keep the input's extension; .png, .tif and "
                   ".jp2, lossless JPEG 2000, keep 16 bits).")
@click.option("--hints", type=click.Path(path_type=str), callback=_once, multiple=True, metavar="HINTS.json|DIR",
              help='Colour hints: {"points": [{"x": 120, "y": 48, "color": "#aa3311", "radius": 3}, ...]} in '
                   "pixels of the input as viewers show it (upright, its EXIF orientation applied; origin "
                   "top-left; radius optional). A hint colours what is near it, of "
                   "similar lightness and of the same kind (the network's features); where hints contradict "
                   "the automatic colour, that colour fades. "
                   "With folder inputs, a folder of NAME.json for the images NAME.*; images without one are "
                   "coloured automatically.")
@click.option("--hints-image", type=click.Path(path_type=str), callback=_once, multiple=True,
              metavar="SCRIBBLES.png|DIR",
              help="Colour hints painted in any editor: an RGBA image the size of the input as shown (upright) "
                   "whose opaque pixels are hints (or a folder of NAME.png, not the input folder itself).")
@click.option("--reference", type=click.Path(path_type=str), callback=_once, multiple=True, metavar="REF.jpg|DIR",
              help="A colour photo of similar content (same place, people, costumes): its colours are moved to "
                   "where the content matches (or a folder of NAME.*, not the input folder itself; an animated "
                   "or many-page picture gives its first).")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("-q", "--quiet", is_flag=True, help="No 'ok' lines: warnings and errors only.")
@guarded
def image_command(inputs: tuple[Path, ...], output: Path, model: str, device: str, runtime: str,
                  render_size: int, ext: str | None, hints: Path | None, hints_image: Path | None,
                  reference: Path | None, overwrite: bool, quiet: bool) -> None:
    """Colour black-and-white photos: INPUT... is one or more image files or folders.

    The full-resolution luminance of each photo is kept; only colour is added. A 16-bit scan stays 16-bit
    in a .png, .tif or .jp2 output. A photo's EXIF (caption, date, place, credits), XMP and IPTC go into
    a .jpg, .tif or .jp2 output (a .png holds no IPTC, a .bmp or .webp none of them); a sideways-stored
    photo (EXIF orientation) is written upright. A photo in a colour
    profile other than sRGB (a gray scan's "Dot Gain 20%", "Adobe RGB") is read through its ICC profile, and
    its copy is sRGB and says so. Files that fail are reported one line each and the others are still done
    (exit code 1 if any failed).

    \b
    Steer the colour where you know better:
      filmcolor image photo.jpg -o color.png --hints hints.json
      filmcolor image photo.jpg -o color.png --reference same_place_in_colour.jpg
    """
    guidance = GuidanceFiles(hints, hints_image, reference)
    guidance.check()
    missing = [src for src in inputs if not src.exists()]
    if len(missing) == len(inputs):  # nothing to do; the model is not even loaded
        raise InputError(f"{missing[0]}: file not found")
    pairs = plan_outputs(inputs, output, ext, guidance.picture_folders())
    if unmatched := guidance.unmatched([src for src, _ in pairs], inputs):
        shown = ", ".join(str(path) for path in unmatched[:UNMATCHED_SHOWN])
        more = f" and {len(unmatched) - UNMATCHED_SHOWN} more" if len(unmatched) > UNMATCHED_SHOWN else ""
        console.print(f"[yellow]warning:[/] {len(unmatched)} guidance file(s) named like no input image (names "
                      f"pair exactly, letter case too), not used: {plain(shown)}{more}", soft_wrap=True)
    if len(pairs) > 1 or inputs[0].is_dir():
        make_output_folder(output)
    colorizer = Colorizer.from_pretrained(model, device=device, render_size=render_size, runtime=runtime)
    if guidance:
        colorizer.require_guided()
    failed = 0
    said_before: set[str] = set()
    for src, dst in pairs:
        if why := not_a_file(src):  # a link that loops, a pipe: said, unopened
            failed += 1
            error_line(why)
            continue
        try:  # (its output folder is made as it is written: a photo that fails left an empty one; an audit)
            check_output_path(dst, [src, *filter(None, guidance.files_for(src, inputs))], overwrite)
            notes: list[str] = []
            image = read_image(src, notes, deep=True)  # a 16-bit scan stays 16-bit in a .png or .tif
            src_hints, ref_rgb = guidance.for_image(src, inputs, image.shape[1], image.shape[0], notes)
            if len(pairs) == 1:  # (in a folder, a photo without guidance of its own is coloured automatically)
                notes += [f"{src}: {folder} holds no file named like it: coloured without it"
                          for folder in guidance.folders_without(src, inputs)]
            refs = None if ref_rgb is None else [colorizer.reference(ref_rgb)]
            said: list[str] = []
            coloured = colorizer.colorize_image(image, hints=src_hints, references=refs, notes=said)
            notes += [f"{src}: {note}" for note in said]
            notes += write_image(dst, coloured, photometa.read_metadata(src), replace=overwrite)
            if not quiet:
                console.print(f"[green]ok[/] {plain(str(src))} -> {plain(str(dst))}")
            for note in notes:
                if note not in said_before:  # (one animated reference for all: said once, not per photo)
                    console.print(f"[yellow]warning:[/] {plain(note)}", soft_wrap=True)
                said_before.add(note)
        except (InputError, OutputError) as err:
            failed += 1
            error_line(str(err))
        except FilmcolorError:
            raise
        except Exception as err:  # a bug of ours met on one photo: the others are still coloured
            if os.environ.get(DEBUG_ENV):
                raise
            failed += 1
            error_line(f"{src}: {unexpected(err)} (set {DEBUG_ENV}=1 for a traceback)")
    if failed:
        raise SystemExit(1) if len(pairs) == 1 else _fail(failed, len(pairs))


def _fail(failed: int, total: int) -> SystemExit:
    error_line(f"{failed} of {total} images failed")
    return SystemExit(1)


COMMANDS = [image_command]
