"""`filmcolor data`: fetch the training data the seed used."""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from filmcolor.cli import console, guarded
from filmcolor.download import COCO_SAMPLE_SHA256, COCO_SAMPLE_URL, archive_name, download, extract, image_folder
from filmcolor.errors import InputError, OutputError


def _sha256_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise click.BadParameter("expected 64 hexadecimal digits")
    return value.lower() if value else None


def _bar(description: str) -> Progress:
    return Progress(TextColumn(description), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=console, transient=True,
                    disable=not console.is_terminal)  # (redirected: a blank line before the error; an audit)


def _track(progress: Progress) -> Callable[[int, int | None], None]:
    task = progress.add_task("", total=None)

    def update(done: int, total: int | None) -> None:
        progress.update(task, completed=done, total=total)

    return update


def train_command(folder: Path) -> str:
    return f"filmcolor train --data {shlex.quote(str(folder))} --out runs/coco-sample"


@click.group("data")
def data_group() -> None:
    """Download training data."""


@data_group.command("coco-sample")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default=COCO_SAMPLE_URL, show_default=True, help="Where to download the .tgz from.")
@click.option("--sha256", callback=_sha256_option, default=COCO_SAMPLE_SHA256, metavar="HEX",
              help="Expected sha256 of the archive; a mismatch is an error (the digest is always printed).")
@click.option("--keep-archive", is_flag=True, help="Keep the .tgz after unpacking.")
@guarded
def coco_sample_command(folder: Path, url: str, sha256: str | None, keep_archive: bool) -> None:
    """Download and unpack fast.ai's COCO sample (about 21,800 images, 3.2 GB) into DIR.

    An interrupted download resumes where it stopped when the same command is run again. Then train
    on it with the command printed at the end.

    \b
    Example:
      filmcolor data coco-sample COCO/
    """
    name = archive_name(url)
    unpacked = folder / name.split(".")[0]  # fast.ai archives unpack to a folder named like the file
    if unpacked.is_dir() and any(unpacked.iterdir()):
        console.print(f"{escape(str(unpacked))} is already there")
        _show_train(image_folder([unpacked]) or unpacked)
        return
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]  # the deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{folder}: cannot create the folder ({err.strerror or err})") from err
    archive = folder / name
    try:
        with _bar(f"download {escape(name)}") as bar:
            got = download(url, archive, expected_sha256=sha256, progress=_track(bar))
    except BaseException:
        for made_folder in made:  # (a failed connection left an empty DIR, and its parents; two audits)
            with contextlib.suppress(OSError):
                made_folder.rmdir()  # only when nothing (a resumable part) is in it
        raise
    resumed = f", resumed at byte {got.resumed_from}" if 0 < got.resumed_from < got.size else ""
    console.print(f"[green]ok[/] {escape(str(archive))}: {got.size} bytes{resumed}")
    console.print(f"sha256 {got.sha256}" + (" (matches --sha256)" if sha256 else ""))
    try:
        with _bar(f"unpack {escape(name)}") as bar:
            created = extract(archive, folder, progress=_track(bar))
    except InputError as err:  # (kept, it failed the same way on every run, without a word of why; an audit)
        raise InputError(f"{' '.join(str(err).split())}; delete it to download it again") from err
    if not keep_archive:
        archive.unlink(missing_ok=True)
    console.print(f"[green]ok[/] unpacked {', '.join(escape(str(p)) for p in created)}")
    _show_train(image_folder(created) or folder)


def _show_train(images: Path) -> None:
    console.print("train on it with:")
    click.echo(train_command(images))  # stdout: the one line a script may want to capture


COMMANDS = [data_group]
