"""The `filmcolor` command: a click group; each subcommand lives in its own module.

Only this package talks to the terminal and chooses exit codes: 0 success; 1 failure, bad input included
(a file, or an option's value: `--keyframe -1=k.png`, `--crf 100`); 2 a command line that cannot be read (an
unknown option or command, a missing argument); 130 interrupted (Ctrl-C, or SIGTERM or SIGHUP, which take
the same path).
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import signal
import sys
import typing
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from filmcolor import __version__
from filmcolor.errors import ConfigError, FilmcolorError, FilmcolorWarning, described
from filmcolor.options import ModelSpec, OptionSpec, flag_of, spec_of

F = TypeVar("F", bound=Callable[..., Any])
D = TypeVar("D")

console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # one message, one line; names as given
EXIT_FAILURE, EXIT_INTERRUPTED = 1, 130
DEBUG_ENV = "FILMCOLOR_DEBUG"  # set to 1 to see tracebacks of unexpected errors
# OSErrors that are the user's file system saying no to a path of theirs, not a bug of ours
USER_ERRNOS = {errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ELOOP,
               errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EXDEV, errno.EIO}


_CONTROL_ESCAPES = {code: repr(chr(code))[1:-1] for code in (*range(32), 127)}


def plain(text: object) -> str:
    """A name or message shown as it is, on one line: no rich markup, and control characters (a newline in a
    file's name) written as escapes."""
    return escape(str(text).translate(_CONTROL_ESCAPES))


def error_line(message: str) -> None:
    """Print one error line to stderr."""
    console.print(f"[bold red]error:[/] {plain(message)}", soft_wrap=True)


def guarded(func: F) -> F:
    """Turn FilmcolorError, KeyboardInterrupt and unexpected errors into one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with terminate_as_interrupt(), warnings_as_lines():
                return func(*args, **kwargs)
        except FilmcolorError as err:
            error_line(str(err))
            sys.exit(EXIT_FAILURE)
        except KeyboardInterrupt as stop:  # (a command may say more of what it left: train's last.pt)
            error_line(str(stop.args[0]) if stop.args else "interrupted; nothing half-written was left under a "
                       "final name")
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as err:
            if os.environ.get(DEBUG_ENV):  # the traceback, whatever it is (an OSError too: it may be a bug of ours)
                raise
            if isinstance(err, OSError) and err.errno in USER_ERRNOS and err.filename is not None:
                # the file system refusing a path of the user's (an audit: a 300-byte name was an "unexpected
                # OSError" from a check that only asked whether it existed)
                error_line(f"{err.filename}: {err.strerror}")
                sys.exit(EXIT_FAILURE)
            # a bug of ours: still one line unless debugging
            error_line(f"{unexpected(err)} (set {DEBUG_ENV}=1 for a traceback)")
            sys.exit(EXIT_FAILURE)

    return wrapper  # type: ignore[return-value]


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """The library's FilmcolorWarnings as one 'warning:' line each (once per message); other warnings as
    Python shows them."""
    with warnings.catch_warnings():
        python_shows = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, FilmcolorWarning):
                console.print(f"[yellow]warning:[/] {plain(message)}", soft_wrap=True)
            else:
                python_shows(message, category, *args, **kwargs)

        warnings.showwarning = show
        warnings.filterwarnings("once", category=FilmcolorWarning)
        yield


def unexpected(err: BaseException) -> str:
    """'unexpected KeyError: 3', or 'unexpected MemoryError' for an error that says nothing more."""
    return f"unexpected {described(err)}"


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (timeout, docker stop, systemd stop, kill) and SIGHUP (the terminal closed) take the same clean
    path as Ctrl-C.

    Library code removes its partial outputs on KeyboardInterrupt; a signal left to its default would end
    the process on the spot and leave a hidden partial file beside the output. A SIGHUP that `nohup` set to
    be ignored stays ignored.
    """
    previous: dict[int, object] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            previous[sig] = signal.signal(sig, signal.default_int_handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def dataclass_options(*classes: type, exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Click options read off the ``option`` fields of option dataclasses (nested ones included), in order.

    The command gets each value under the flag's name (``--temporal-strength`` -> ``temporal_strength``);
    ``build_options`` turns them back into the dataclass.
    """
    params = [param for cls in classes for param in _click_params(cls, exclude)]

    def decorate(func: F) -> F:
        for param in reversed(params):  # click lists options in the order their decorators run, last first
            func = param(func)
        return func

    return decorate


def build_options(cls: type[D], values: dict[str, Any]) -> D:
    """The dataclass ``cls`` from a command's values (those of its options are taken out of ``values``)."""
    kwargs: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec = spec_of(f)
        if dataclasses.is_dataclass(hints[f.name]):
            kwargs[f.name] = build_options(hints[f.name], values)
        elif spec is not None and _param_name(flag_of(f)) in values:
            value = values.pop(_param_name(flag_of(f)))
            for alias, alias_value, _ in spec.aliases:
                if values.pop(_param_name(alias)):
                    if value not in (f.default, alias_value):  # (--audio reencode --no-audio dropped the sound)
                        raise ConfigError(f"{alias} with {flag_of(f)} {value}: give one or the other")
                    value = alias_value
            kwargs[f.name] = value
    return cls(**kwargs)


def _param_name(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _click_params(cls: type, exclude: tuple[str, ...]) -> Iterator[Callable[[F], F]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from _click_params(kind, exclude)
            continue
        spec = spec_of(f)
        if spec is None or f.name in exclude:
            continue
        flag = flag_of(f)
        base = next((t for t in typing.get_args(kind) if t is not type(None)), kind)  # X | None -> X
        help_text, shown = spec.help, spec.default_text is None and f.default not in (None, False, ())
        if spec.default_text:
            help_text += f"  [default: {spec.default_text}]"
        if spec.range_text():
            help_text += f"  [{spec.range_text()}]"
        extra: dict[str, Any] = {}
        if base is bool:
            extra["is_flag"] = True
        elif typing.get_origin(kind) is tuple:
            extra.update(multiple=True, type=_FieldType(spec, str))
        elif spec.choices is not None:
            extra["type"] = click.Choice(spec.choices)
        elif base is Path:
            extra["type"] = click.Path(path_type=Path)
        else:
            extra["type"] = _FieldType(spec, base)
        yield click.option(flag, _param_name(flag), default=f.default, show_default=shown, help=help_text,
                           metavar=spec.metavar, **extra)
        for alias, _, alias_help in spec.aliases:
            yield click.option(alias, _param_name(alias), is_flag=True, help=alias_help)


class _FieldType(click.ParamType):
    """Converts with the field's parser (or its type) and rejects what the field's limits reject."""

    def __init__(self, spec: OptionSpec, base: type):
        self.spec = spec
        self.base = {int: click.INT, float: click.FLOAT}.get(base, click.STRING)
        self.name = self.base.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default, already a value
            return value
        if self.spec.parse is not None:
            try:
                parsed = self.spec.parse(value)
            except ValueError as err:
                self.fail(str(err), param, ctx)
        else:
            parsed = self.base.convert(value, param, ctx)
        problem = self.spec.problem(parsed)
        if problem is not None:
            self.fail(f"{value}: {problem}", param, ctx)
        return parsed


# --model, --device and --runtime: every command that runs a model (video and batch take --render-size too).
model_options = dataclass_options(ModelSpec, exclude=("render_size",))


def render_size_option(default: int, why: str = "") -> Callable[[F], F]:
    """--render-size of a command with one kind of picture: ModelSpec's help, limits and messages (which
    `video` and `batch` take whole), with this command's ``default`` (and ``why``, said after the help)."""
    return field_option(ModelSpec, "render_size", default, why)


def field_option(cls: type, name: str, default: Any, why: str = "", help: str | None = None) -> Callable[[F], F]:
    """One option dataclass field's option alone, with this command's ``default``: its flag, help, limits and
    messages, as the commands that take the whole dataclass have them (``why`` is said after the help;
    ``help`` says it instead, where the field's own would be wrong for this command)."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    spec = spec_of(f)
    assert spec is not None
    base = type(default) if default is not None else float
    limits = f"  [{spec.range_text()}]" if spec.range_text() else ""
    return click.option(flag_of(f), type=_FieldType(spec, base), default=default, show_default=True,
                        help=f"{help or spec.help}{' ' + why if why else ''}{limits}")


def ranged_option(*decls: str, base: type, help: str, at_least: float | None = None,
                  at_most: float | None = None, **kwargs: Any) -> Callable[[F], F]:
    """A number option with limits, checked and worded as the option dataclasses' are ("-1: must not be
    negative", NaN refused), its range shown in its help as theirs is."""
    spec = OptionSpec(help, at_least=at_least, at_most=at_most)
    return click.option(*decls, type=_FieldType(spec, base), help=f"{help}  [{spec.range_text()}]", **kwargs)


# command -> the module under filmcolor.cli that defines it (in its COMMANDS)
COMMAND_MODULES = {"batch": "batch", "data": "data", "demo": "demo", "eval": "evaluate",
                   "eval-video": "evaluate_video", "image": "image", "models": "models", "studio": "studio",
                   "train": "train", "video": "video"}


@contextmanager
def usage_as_one_line(command_path: str) -> Iterator[None]:
    """A usage error (an unknown option, a value out of range) as one line, like every other error, instead of
    click's usage block ("Usage: ... Try ... Error: ...", four lines). An option's bad value is bad input,
    exit code 1; a command line that cannot be read (unknown option, missing argument) keeps click's 2."""
    try:
        yield
    except click.UsageError as err:
        if isinstance(err, OneLineUsageError) or type(err).__name__ == "NoArgsIsHelpError":  # click >= 8.2: help
            raise
        path = err.ctx.command_path if err.ctx is not None else command_path
        short = OneLineUsageError(f"{err.format_message()} (see '{path} --help')")
        if isinstance(err, click.BadParameter) and not isinstance(err, click.MissingParameter):
            short.exit_code = EXIT_FAILURE
        raise short from err


class OneLineUsageError(click.UsageError):
    def show(self, file: Any = None) -> None:
        error_line(self.format_message())


class LazyGroup(click.Group):
    """Loads a command's module only when that command runs (or help lists them all): `filmcolor video`
    then never imports the trainer, the evaluator or torch, and starts in half a second instead of 1.5.
    Its usage errors, and its commands', are one line (usage_as_one_line)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        path = " ".join(filter(None, [parent.command_path if parent else None, info_name]))
        with usage_as_one_line(path):
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        words = [*getattr(ctx, "_protected_args", ()), *ctx.args]  # the command's name comes first
        path = ctx.command_path + (f" {words[0]}" if words and words[0] in COMMAND_MODULES else "")
        with usage_as_one_line(path):  # its options' parsing errors carry no context of their own
            return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMAND_MODULES:
            return None
        if name not in self.commands:
            import importlib

            for cmd in importlib.import_module(f"filmcolor.cli.{COMMAND_MODULES[name]}").COMMANDS:
                self.add_command(cmd)
        return self.commands.get(name)

    def preload(self, args: list[str]) -> None:
        """Load the module of the command these arguments name (filmcolor.__main__ does it while a Ctrl-C is
        only noted: an interrupt inside an extension's initialisation can abort the process)."""
        name = next((a for a in args if not a.startswith("-")), None)
        if name is not None:
            self.get_command(click.Context(self), name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
