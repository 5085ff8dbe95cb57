"""Options declared once: a dataclass field carries its default, its help and its limits.

Every stage's configuration is a frozen dataclass built on ``Options``; a field made with ``option(...)``
is a command-line option too (the CLI reads the flags, help and limits off the fields), and is checked
here, once, when the dataclass is built. ``ModelSpec`` holds the options of every command that runs a model.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from filmcolor.colorize import (
    DEFAULT_RENDER_SIZE,
    DEFAULT_VIDEO_RENDER_SIZE,
    MAX_RENDER_SIZE,
    MIN_RENDER_SIZE,
    Colorizer,
)
from filmcolor.errors import ConfigError

_SPEC = "filmcolor.option"  # the metadata key of a field made by option()


@dataclass(frozen=True)
class OptionSpec:
    """How a field appears on the command line and what values it takes."""

    help: str
    flag: str | None = None  # None: --field-name
    choices: tuple[str, ...] | None = None
    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None  # with at_least only
    below: float | None = None  # with at_least only: at_least <= x < below (Adam's betas)
    parse: Callable[[str], Any] | None = None  # text -> value, raising ValueError with a one-line reason
    metavar: str | None = None
    default_text: str | None = None  # shown as the default instead of the value; "" shows none
    aliases: tuple[tuple[str, Any, str], ...] = ()  # (flag, value it sets, help): e.g. --no-audio = none

    def range_text(self) -> str | None:
        """The limits as click shows a range ("1<=x<=4", "x>=1", "x>1"), or None."""
        if self.at_least is not None and self.at_most is not None:
            return f"{self.at_least:g}<=x<={self.at_most:g}"
        if self.at_least is not None and self.below is not None:
            return f"{self.at_least:g}<=x<{self.below:g}"
        parts = [f"x>={self.at_least:g}"] if self.at_least is not None else []
        parts += [f"x>{self.above:g}"] if self.above is not None else []
        return "; ".join(parts) or None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if value is None:
            return None
        if isinstance(value, float) and not math.isfinite(value):  # (NaN passes every comparison; an audit)
            return "must be a finite number"
        if self.choices is not None and value not in self.choices:
            return f"expected one of {', '.join(self.choices)}"
        if self.at_least is not None and self.at_most is not None:
            if not self.at_least <= value <= self.at_most:
                return f"must be between {self.at_least:g} and {self.at_most:g}"
        elif self.at_least is not None and self.below is not None:
            if not self.at_least <= value < self.below:
                return f"must be at least {self.at_least:g} and below {self.below:g}"
        elif self.at_least is not None and value < self.at_least:
            return "must not be negative" if self.at_least == 0 else f"must be at least {self.at_least:g}"
        if self.above is not None and value <= self.above:
            return "must be positive" if self.above == 0 else f"must be above {self.above:g}"
        return None


def option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field that is also a command-line option (see ``OptionSpec`` for ``spec``)."""
    return field(default=default, metadata={_SPEC: OptionSpec(help, **spec)})


def spec_of(f: dataclasses.Field) -> OptionSpec | None:
    return f.metadata.get(_SPEC)


def flag_of(f: dataclasses.Field) -> str:
    spec = spec_of(f)
    return (spec.flag if spec is not None and spec.flag else None) or "--" + f.name.replace("_", "-")


def option_fields(options: type | object) -> Iterator[tuple[dataclasses.Field, OptionSpec]]:
    """The fields of a dataclass that are options, in declaration order (nested dataclasses not entered)."""
    for f in dataclasses.fields(options):  # type: ignore[arg-type]
        spec = spec_of(f)
        if spec is not None:
            yield f, spec


@dataclass(frozen=True)
class Options:
    """Base of the option dataclasses: every ``option`` field is checked when an instance is made."""

    def __post_init__(self) -> None:
        for f, spec in option_fields(self):
            value = getattr(self, f.name)
            problem = spec.problem(value)
            if problem is not None:
                shown = f"{value:g}" if isinstance(value, float) else str(value)
                raise ConfigError(f"{flag_of(f)} {shown}: {problem}")


_TIME = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float:
    """'90', '1.5', '01:30', '00:10:00.5' -> seconds."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a time; use seconds (90) or HH:MM:SS (00:01:30)")
    hours, minutes, secs = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)


MIN_RATE, MAX_RATE = Fraction(1, 100), Fraction(1000)  # frames a second: a time-lapse to a high-speed camera
_NTSC_RATES = tuple(Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120))  # what 23.976, 29.97... mean


def parse_rate(text: str) -> Fraction:
    """'24', '25', '24000/1001', '23.976' (read as 24000/1001, as video tools do) -> frames per second."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError, OverflowError):
        raise ValueError(f"'{text}' is not a frame rate; use a number (24, 25, 23.976) or a ratio "
                         "(24000/1001)") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"'{text}': a frame rate between {MIN_RATE} and {MAX_RATE} frames a second")
    return next((ntsc for ntsc in _NTSC_RATES if abs(rate - ntsc) < Fraction(1, 1000)), rate)


DEVICE_HELP = "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."  # (train's --device too)


@dataclass(frozen=True)
class ModelSpec(Options):
    """Which weights, on what, at which size: a value (not a model), so Ray workers can build their own."""

    model: str = option("default", "Shipped weights name ('default': filmcolor-guided; 'filmcolor models' lists "
                        "them) or a .safetensors file from 'filmcolor train'.", metavar="NAME|PATH")
    device: str = option("auto", DEVICE_HELP)
    runtime: str = option("auto", "Inference engine: auto = ONNX Runtime on CPU, torch on GPU.",
                          choices=("auto", "torch", "onnx"))
    render_size: int | None = option(None, "Short side (pixels) the network sees, to the nearest multiple of 32; "
                                     "colour is upsampled to full size and the original full-resolution "
                                     "brightness is kept.",
                                     at_least=MIN_RENDER_SIZE, at_most=MAX_RENDER_SIZE,
                                     default_text=f"{DEFAULT_VIDEO_RENDER_SIZE} for videos, {DEFAULT_RENDER_SIZE} "
                                                  "for photos, as 'filmcolor image'")

    def load(self) -> Colorizer:
        """The colouriser at the video render size; its ``for_photos()`` at the photo one (a batch has both)."""
        return Colorizer.from_pretrained(self.model, device=self.device, runtime=self.runtime,
                                         render_size=self.render_size or DEFAULT_VIDEO_RENDER_SIZE,
                                         photo_render_size=self.render_size or DEFAULT_RENDER_SIZE)
