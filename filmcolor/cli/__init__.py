"""The `filmcolor` command: a click group; each subcommand lives in its own module.

Only this package talks to the terminal and chooses exit codes: 0 success, 1 failure, 2 usage error,
130 interrupted.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from filmcolor import __version__
from filmcolor.errors import FilmcolorError

F = TypeVar("F", bound=Callable[..., Any])

console = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line
EXIT_FAILURE, EXIT_INTERRUPTED = 1, 130
DEBUG_ENV = "FILMCOLOR_DEBUG"  # set to 1 to see tracebacks of unexpected errors


def error_line(message: str) -> None:
    """Print one error line to stderr."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def guarded(func: F) -> F:
    """Turn FilmcolorError, KeyboardInterrupt and unexpected errors into one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FilmcolorError as err:
            error_line(str(err))
            sys.exit(EXIT_FAILURE)
        except KeyboardInterrupt:
            error_line("interrupted; nothing half-written was left under a final name")
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as err:  # a bug of ours: still one line unless debugging
            if os.environ.get(DEBUG_ENV):
                raise
            error_line(f"unexpected {type(err).__name__}: {err} (set {DEBUG_ENV}=1 for a traceback)")
            sys.exit(EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]


# Options shared by the commands that run a model.
def model_options(func: F) -> F:
    func = click.option("--runtime", type=click.Choice(["auto", "torch", "onnx"]), default="auto",
                        show_default=True,
                        help="Inference engine: auto = ONNX Runtime on CPU, torch on GPU.")(func)
    func = click.option("--device", default="auto", show_default=True,
                        help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")(func)
    func = click.option("--model", "model", default="default", show_default=True, metavar="NAME|PATH",
                        help="Shipped weights name or a .safetensors file from 'filmcolor train'.")(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="filmcolor")
def main() -> None:
    """Give colour back to black-and-white films, CCTV footage and old photos.

    \b
    Quick start:
      filmcolor demo                         # see it work on a built-in clip
      filmcolor video old_movie.mp4 -o color.mp4
      filmcolor image old_photo.jpg -o color.png
      filmcolor batch CCTV_DIR -o OUT_DIR    # whole folders, resumable
    """


def _register() -> None:
    import importlib

    for name in ("image", "models", "video", "batch", "train", "evaluate", "evaluate_video", "demo", "data"):
        for cmd in importlib.import_module(f"filmcolor.cli.{name}").COMMANDS:
            main.add_command(cmd)


_register()
