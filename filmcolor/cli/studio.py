"""`filmcolor studio`: a local web page to place colour hints on a photo or a film's frame and see the colour live."""

from __future__ import annotations

import importlib
import webbrowser
from pathlib import Path
from types import ModuleType

import click
from rich.markup import escape

from filmcolor.cli import console, guarded, model_options, plain, ranged_option, render_size_option
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
from filmcolor.errors import ConfigError, InputError

EXTRA_MODULES = ("starlette", "uvicorn")


@click.command("studio", short_help="Place colour hints on a photo or a film's frame in a local page.")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="The folder the page opens files from and saves to; nothing is written elsewhere.  "
                   "[default: the working folder]")
@ranged_option("--port", base=int, at_least=0, at_most=65535, default=0,
               help="Port on 127.0.0.1 (the page is never served to other machines; 0: a free one).")
@click.option("--no-browser", is_flag=True, help="Only print the page's address.")
@model_options
@render_size_option(DEFAULT_VIDEO_RENDER_SIZE, "The video command's default, for a fast page.")
@guarded
def studio_command(file: Path | None, folder: Path | None, port: int, no_browser: bool, model: str, device: str,
                   runtime: str, render_size: int) -> None:
    """Place colour hints on a photo or a film's frame in a local web page, and see the colour change.

    FILE (optional) is opened at once, and may lie outside --dir (its saves then go to --dir's top); the
    page opens the folder's other photos and films (listed from its subfolders too, the first 2000), or
    a photo you upload (up to 256 MiB). Saving writes NAME.png (for a film's frame: a keyframe) and
    NAME.json (the hints, as `filmcolor image --hints` reads them), and for a film shows the `filmcolor
    video ... --keyframe N=PATH` command that colours all of it. Needs the studio extra: pip install -e
    ".[studio]" in the filmcolor checkout.

    \b
      filmcolor studio old_photo.jpg
      filmcolor studio --dir films/ --no-browser
    """
    server_module = _server_module()
    from filmcolor.studio.session import Studio

    folder = Path.cwd() if folder is None else folder
    if not folder.is_dir():
        raise InputError(f"{folder}: --dir is not a folder")
    if file is not None and not file.exists():
        raise InputError(f"{file}: file not found")
    colorizer = Colorizer.from_pretrained(model, device=device, render_size=render_size, runtime=runtime)
    studio = Studio(colorizer, folder)
    opened = studio.open_file(file, keep=True) if file is not None else None

    def log(line: str) -> None:
        console.print(plain(line))

    server = server_module.StudioServer(server_module.create_app(studio, log, opened), port)
    click.echo(server.url)
    console.print(f"filmcolor studio: folder {escape(str(studio.folder))}, model {escape(colorizer.model_name)} "
                  f"at render size {colorizer.rendered_size} ({colorizer.runtime}); Ctrl-C stops it")
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        studio.close()
    console.print("studio stopped")


def _server_module() -> ModuleType:
    """filmcolor.studio.server, or a one-line ConfigError naming the extra when its libraries are missing."""
    try:
        server = importlib.import_module("filmcolor.studio.server")
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] in EXTRA_MODULES:
            raise ConfigError(f"filmcolor studio needs the studio extra ({err.name} is not installed): "
                              "pip install -e '.[studio]' in the filmcolor checkout") from err
        raise
    return server


COMMANDS = [studio_command]
