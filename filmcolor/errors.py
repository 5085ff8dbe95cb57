"""Exceptions with one-line messages for the user; the CLI maps them to exit codes."""

from __future__ import annotations


class FilmcolorError(Exception):
    """Base class: ``str(err)`` is a complete one-line message for the user."""


class InputError(FilmcolorError):
    """An input file is missing, unreadable, corrupt or of the wrong kind."""


class NoPictureError(InputError):
    """A media file holds sound (or data) and no picture: nothing to colour."""


class OutputError(FilmcolorError):
    """An output cannot be written (exists, folder missing, disk full, same as input)."""


class WeightsError(FilmcolorError):
    """A weights file is missing, malformed or does not match its architecture."""


class ConfigError(FilmcolorError):
    """An option or combination of options is invalid."""


class FilmcolorWarning(UserWarning):
    """Something the user should know that stops nothing (the CLI prints it as one 'warning:' line)."""


def described(err: BaseException) -> str:
    """An error not of ours in one line: 'KeyError: 3', or 'MemoryError' when it says nothing more."""
    return type(err).__name__ + (f": {err}" if str(err) else "")
