"""A folder of numbered frames (a film scanner's DPX or TIFF, an export's PNG) read as one video.

Film archives scan reels to one picture per frame (`reel1/scan_000001.dpx`, ...). FFmpeg's image2 demuxer
reads such a folder as a video stream given a printf pattern, the first number and a frame rate; this finds
those in the folder and refuses what it cannot read as one film without losing or reordering frames:
pictures of several names, numbers padded unevenly, or a missing frame (image2 would stop there, or, with
a glob, close the gap and shift every later frame in time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from filmcolor.errors import InputError

# what FFmpeg decodes as single pictures (film scans: DPX, Cineon, OpenEXR; exports: TIFF, PNG, JPEG...)
SCAN_FORMATS = {".dpx": "DPX", ".cin": "Cineon", ".exr": "OpenEXR"}  # frames of a film scan, never photos
SCAN_EXTENSIONS = tuple(SCAN_FORMATS)
FRAME_EXTENSIONS = (*SCAN_EXTENSIONS, ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".jp2", ".bmp", ".webp")
DEFAULT_FRAME_RATE = Fraction(24)  # sound film; pass --frame-rate for anything else
NUMBERED = re.compile(r"^(.*?)(\d+)$")  # the name's stem: a prefix, then the frame number at its end
SHOWN = 3  # names shown in a message
MAX_NUMBER = 2**31 - 1  # image2 counts frames in a C int


@dataclass(frozen=True)
class FrameSequence:
    folder: Path
    pattern: str  # printf pattern for image2, e.g. "reel1/scan_%06d.dpx"
    first: int  # the first frame's number
    count: int

    def demuxer_options(self, rate: Fraction) -> dict[str, str]:
        return {"framerate": str(rate), "start_number": str(self.first)}


def frame_names(names: list[str]) -> list[str]:
    """The names of ``names`` that could be frames of a sequence (a frame picture's extension, not hidden: a
    Mac writes "._scan_000001.dpx" beside each frame on a non-Mac disk)."""
    return [n for n in names if Path(n).suffix.lower() in FRAME_EXTENSIONS and not n.startswith(".")]


def one_numbered_name(names: list[str]) -> bool:
    """Whether these pictures are all numbered under one name (``prefix`` + number + extension), as a film's
    frames are; checked by name only (find_sequence checks the rest: gaps, padding, empty files)."""
    stems = {(m.group(1), Path(n).suffix) if (m := NUMBERED.match(Path(n).stem)) else None for n in names}
    return len(stems) == 1 and None not in stems


def find_sequence(folder: Path, ignore: Iterable[Path] = ()) -> FrameSequence:
    """The numbered frames of ``folder`` (files ``ignore`` names left out); an InputError naming the folder
    and the problem otherwise."""
    left_out = {Path(p).resolve() for p in ignore}
    names = [p.name for p in folder.iterdir() if p.is_file() and p.resolve() not in left_out]
    pictures = sorted(folder / n for n in frame_names(names))
    if not pictures:
        raise InputError(f"{folder}: a folder with no frames in it ({', '.join(FRAME_EXTENSIONS)}); give a video "
                         "file, or a folder of numbered frames")
    names: dict[tuple[str, str], list[tuple[int, str, Path]]] = {}
    unnumbered = []
    for path in pictures:
        match = NUMBERED.match(path.stem)
        if not match:
            unnumbered.append(path.name)
            continue
        prefix, digits = match.groups()
        names.setdefault((prefix, path.suffix), []).append((int(digits), digits, path))
    if not names:
        raise InputError(f"{folder}: no numbered frames ({', '.join(unnumbered[:SHOWN])}"
                         f"{' ...' if len(unnumbered) > SHOWN else ''}); frames are named like scan_000001.dpx")
    if unnumbered or len(names) > 1:
        kinds = [f"{prefix}N{ext}" for prefix, ext in names] + unnumbered
        raise InputError(f"{folder}: holds pictures of more than one name ({', '.join(kinds[:SHOWN])}"
                         f"{' ...' if len(kinds) > SHOWN else ''}); a folder of frames holds one numbered sequence")
    (prefix, ext), frames = next(iter(names.items()))
    frames.sort()
    if frames[-1][0] > MAX_NUMBER:
        raise InputError(f"{folder}: frame number {frames[-1][0]} ({frames[-1][2].name}) is past FFmpeg's limit "
                         f"({MAX_NUMBER}); renumber the frames")
    # zero-padded to one width W (FFmpeg's %0Wd, which writes wider numbers unpadded past 10^W - 1), or not at all
    padded_widths = {len(digits) for _, digits, _ in frames if _padded(digits)}
    width = min(padded_widths, default=0)
    uneven = [path for _, digits, path in frames if len(digits) < width or (len(digits) > width and _padded(digits))]
    if uneven:  # (two padded widths make the wider ones uneven too)
        usual = next(path for _, _, path in frames if path not in uneven)
        raise InputError(f"{folder}: frame numbers padded unevenly ({usual.name}, {uneven[0].name}); number "
                         "them all to one width")
    if empty := [path for _, _, path in frames if path.stat().st_size == 0]:
        more = f" and {len(empty) - 1} more" if len(empty) > 1 else ""
        raise InputError(f"{empty[0]}: empty frame file (0 bytes){more}; FFmpeg would end the film there: put the "
                         "frame back (or a copy of the one before)")
    missing = [(a, b) for (a, _, _), (b, _, _) in zip(frames, frames[1:], strict=False) if b != a + 1]
    if missing:
        a, b = missing[0]
        gap = f"frame {a + 1}" if b == a + 2 else f"frames {a + 1}-{b - 1}"
        more = f" and {len(missing) - 1} more gaps" if len(missing) > 1 else ""
        after = next(path.name for n, _, path in frames if n == a)
        raise InputError(f"{folder}: {gap} missing (after {after}){more}; every frame must be there, or the film "
                         "would jump")
    number = f"%0{width}d" if width else "%d"
    pattern = str(folder).replace("%", "%%") + "/" + prefix.replace("%", "%%") + number + ext
    return FrameSequence(folder, pattern, frames[0][0], len(frames))


def _padded(digits: str) -> bool:
    return len(digits) > 1 and digits.startswith("0")
