"""The studio's state, without HTTP: the pictures opened (photos, frames of films), coloured with hints, and saves.

Everything the page can name lies under one folder (the studio's folder): files are opened from it and
saves land in it, never elsewhere. Hints are the points of the hints JSON that `filmcolor image --hints`
reads, in pixels of the full picture. The page sees a preview (long side PREVIEW_LONG_SIDE) coloured by
the library's own ``Colorizer.colorize_image`` at the same render size as the full picture that is saved.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import itertools
import json
import math
import os
import secrets
import shlex
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from filmcolor import photometa
from filmcolor.batch.plan import KEPT_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, is_film_folder
from filmcolor.colorize import Colorizer
from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import PARTIAL_MARK, atomic_outputs, check_output_path
from filmcolor.guide import Hints, parse_point
from filmcolor.imageio import IMAGE_INPUT_EXTENSIONS, encode_image, read_image
from filmcolor.video.reader import LumaFrame, ReaderOptions, VideoReader, mirrored

# The page's picture: at 1024 px on the long side a hint costs 62 ms at render size 224 on 2 busy CPU cores
# (ONNX Runtime; ~30 ms is the network, the rest Lab conversions that grow with the pixels) and it still
# fills a laptop's window. The saved picture is coloured at full size.
PREVIEW_LONG_SIDE = 1024
MAX_PICTURES = 8  # pictures kept open (a film keeps a decoder); the least recently used is closed
FRAMES_KEPT = 16  # luma planes kept per film, so that stepping back a few frames decodes nothing
MARK_EVERY = 48  # a film's frames whose number and time are kept, to read again from (2 s at 24 fps)
TIMED_FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")  # FFmpeg's names of .mp4/.mov and .mkv/.webm
MAX_HINTS = 2000  # far more than a person places by hand: a bound on one request's work
MAX_LISTED = 2000  # media files listed from the folder


@dataclass(frozen=True)
class PictureInfo:
    """What the page needs to show a picture; sizes in pixels of the full picture."""

    id: str
    name: str  # its path under the folder (or as given on the command line), or the upload's name
    kind: str  # "photo" or "video"
    width: int
    height: int
    save_stem: str  # default save name under the folder, no extension; a film's frame adds its number
    frames: int | None = None  # films: the frame count as the container states it (None: unknown)
    frame_rate: float | None = None  # films: frames per second (average)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Rendered:
    """A coloured preview (RGB uint8, long side at most PREVIEW_LONG_SIDE) and, for a film, its frame's time."""

    rgb_hw3: np.ndarray
    time_s: float | None


@dataclass(frozen=True)
class Saved:
    """Files written (paths under the folder) and, for a film's frame, the command that colours the film."""

    written: list[str]
    command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_points(points: object, width: int, height: int) -> tuple[list[dict[str, Any]], Hints]:
    """The page's hints (the hints JSON's points, pixels of a W x H picture), checked: (points to save, Hints)."""
    if not isinstance(points, list):
        raise InputError('hints: expected a list of {"x": .., "y": .., "color": "#rrggbb", "radius": ..}')
    if len(points) > MAX_HINTS:
        raise InputError(f"hints: {len(points)} points, at most {MAX_HINTS}")
    kept: list[dict[str, Any]] = []
    parsed = []
    for i, point in enumerate(points):
        x, y, ab, radius = parse_point(point, width, height, f"hint {i}")
        kept.append({"x": _number(x), "y": _number(y), "color": "#" + str(point["color"]).strip().lstrip("#").lower(),
                     "radius": _number(radius, max(width, height))})
        parsed.append((x, y, ab, radius))
    return kept, Hints.of(parsed)


def hints_json(points: list[dict[str, Any]]) -> bytes:
    """The hints file that `filmcolor image --hints` reads (guide.load_hints): {"points": [...]}."""
    body = ",\n".join("  " + json.dumps(point) for point in points)  # one point a line
    return (f'{{"points": [\n{body}\n]}}\n' if points else '{"points": []}\n').encode()


def _moved(point: dict[str, Any], x: float, y: float) -> dict[str, Any]:
    """A saved hint at another place."""
    return {**point, "x": _number(x), "y": _number(y)}


def _number(value: float, limit: float | None = None) -> int | float:
    """A coordinate as the hints file keeps it: to 2 decimals, rounded down (x 255.999 in a 256-pixel picture
    was kept as 256.0, which `filmcolor image --hints` refuses as outside it; an audit), whole when it is."""
    kept = math.floor(value * 100) / 100
    if limit is not None:
        kept = min(kept, limit)
    return int(kept) if kept == int(kept) else kept


def video_command(video: str, output: str, keyframes: dict[int, str]) -> str:
    """The `filmcolor video` command line that colours ``video`` from its keyframes (frame -> PNG)."""
    args = ["filmcolor", "video", video, "-o", output]
    for index in sorted(keyframes):
        args += ["--keyframe", f"{index}={keyframes[index]}"]
    return shlex.join(args)


class FilmFrames:
    """Frame N of a film as its luma plane, N counted as `filmcolor video --keyframe N=PATH` counts (from 0).

    Frames are decoded in order, and every MARK_EVERY-th frame read is marked (its number, its time). Going
    back further than the FRAMES_KEPT kept ones, or far ahead to a part read before, reads a slice of the film
    from the last mark before the frame (as `--start` does), once its first frame is found where the mark
    says: the numbering of a read from the start (stand-ins for corrupt frames, timestamps that jump) is then
    the mark's. Otherwise, and ahead of all marks, it decodes from the start or on. (A studio audit: going back
    in an 8-minute film decoded it from the start, 38 s a step.)
    """

    def __init__(self, path: Path):
        self.path = path
        self._reader: VideoReader | None = None
        self._items: Iterator[object] | None = None
        self._next = 0
        self._kept: OrderedDict[int, tuple[np.ndarray, float]] = OrderedDict()
        self._seen: tuple[int, int, int] | None = None  # the file as first opened: (inode, size, mtime)
        self._marks: list[tuple[int, float]] = []  # (frame number, its time on the input's clock), ascending
        self._first_s = 0.0  # frame 0's time on the input's clock
        self._offset = 0  # the frame number of the open read's first frame
        self._stop = threading.Event()  # the studio is stopping: a decode on its way to a far frame ends
        self._stopped = ""
        self._open()
        assert self._reader is not None
        self.info = self._reader.info
        self._file_start_s = self._reader.file_start_s
        # marks only where every frame carries its own time (an AVI's are counted, an MPEG stream's can wrap or
        # jump: a slice of those could number its frames otherwise than a read from the start)
        self._marking = self._reader.container.format.name in TIMED_FORMATS and not self._reader.sequence
        self.frames = self.info.frames
        self._end_known = False
        # a phone's upright film is stored sideways, with a display rotation players apply: frames are shown
        # upright as players show them (an audit: they were shown sideways), quarter turns counterclockwise
        # (a mirrored one, whose matrix's angle means nothing alone, is shown as stored: it was turned upside down)
        self.quarters = 0 if mirrored(self.info.display_matrix) else round(self.info.rotation / 90) % 4
        self.width, self.height = ((self.info.height, self.info.width) if self.quarters % 2
                                   else (self.info.width, self.info.height))

    def stored_point(self, x: float, y: float) -> tuple[float, float]:
        """A point of a frame as shown (pixels) at its place in the frame as stored, inside it."""
        width, height = self.info.width, self.info.height  # as stored
        if self.quarters == 1:  # shown = the stored frame turned a quarter counterclockwise
            x, y = width - y, x
        elif self.quarters == 2:
            x, y = width - x, height - y
        elif self.quarters == 3:
            x, y = y, height - x
        return min(max(x, 0.0), width - 0.01), min(max(y, 0.0), height - 0.01)

    def stored(self, rgb: np.ndarray) -> np.ndarray:
        """A picture of a frame as shown (upright) turned back to the frames as stored, as `filmcolor video
        --keyframe` takes them whatever the turn (a half turn keeps the size, so a keyframe cannot tell it)."""
        return np.ascontiguousarray(np.rot90(rgb, k=-self.quarters)) if self.quarters else rgb

    def _open(self, at: tuple[int, float] | None = None) -> None:
        """Read from the start, or, ``at`` a mark (frame number, time), a slice from that frame on."""
        self.close()
        self.check_unchanged()  # (frames of another film, sizes of another picture: a save then failed with an
        if self._seen is None:  # IndexError; an audit)
            with contextlib.suppress(OSError):  # gone: the reader says so
                st = self.path.stat()
                self._seen = (st.st_ino, st.st_size, st.st_mtime_ns)
        if at is None:
            self._reader = VideoReader(self.path, copy_streams=False)
            self._items = iter(self._reader)
            self._next, self._offset = 0, 0
            return
        mark, mark_s = at
        quarter = 0.25 / float(self.info.frame_rate or 24)  # --start takes the first frame at or after it
        reader = VideoReader(self.path, ReaderOptions(start=max(0.0, mark_s - self._file_start_s - quarter)),
                             copy_streams=False)
        items = iter(reader)
        first = next((item for item in items if isinstance(item, LumaFrame)), None)
        if first is None or abs(reader.input_seconds(first) - mark_s) > 0.5 * float(self.info.time_base):
            # not the mark's frame (a frame of a variable rate less than a quarter frame before it): from the start
            reader.close()
            return self._open()
        self._reader, self._items = reader, itertools.chain([first], items)
        self._next, self._offset = mark, mark

    def _open_at(self, index: int) -> None:
        """Read on from the last mark at or before frame ``index`` past frame 0, else from the start."""
        at = bisect.bisect_right(self._marks, (index, math.inf)) - 1
        self._open(self._marks[at] if at > 0 else None)

    @property
    def identity(self) -> object:
        """The file as first opened (inode, size, modification time), or None."""
        return self._seen

    def check_unchanged(self) -> None:
        """Raise InputError when the film on disk is no longer the one opened (copied over in place, the same
        inode: its new frames were shown under the old numbering, and saved; an audit)."""
        try:
            st = self.path.stat()
        except OSError:
            return  # gone: the reader says so when it opens
        if self._seen is not None and (st.st_ino, st.st_size, st.st_mtime_ns) != self._seen:
            self._kept.clear()
            self.close()
            raise InputError(f"{self.path.name}: changed on disk since it was opened; open it again")

    def frame(self, index: int) -> tuple[np.ndarray, float]:
        """Frame ``index`` as shown: (luma (H, W) uint8, full range, upright; seconds from the film's first
        frame)."""
        self.check_unchanged()
        if index in self._kept:
            self._kept.move_to_end(index)
            return self._kept[index]
        if index < 0:
            raise InputError(f"{self.path.name}: frame {index}: frames are counted from 0")
        if self._end_known and index >= (self.frames or 0):
            raise self._past_end(index)
        ahead = self._marks and self._marks[-1][0] > self._next + MARK_EVERY and index > self._next + MARK_EVERY
        if self._items is None or index < self._next or ahead:
            self._open_at(index)
        assert self._items is not None and self._reader is not None
        try:
            for item in self._items:
                if self._stop.is_set():  # (Ctrl-C waited 12 s for a far seek to reach its frame; an audit)
                    raise InputError(self._stopped)
                if not isinstance(item, LumaFrame):
                    continue
                number = item.index + self._offset
                self._next = number + 1
                seconds = self._reader.input_seconds(item)
                if number == 0:  # times from the first frame's (a film starting at 5 s said 5.0 for it)
                    self._first_s = seconds
                if self._marking and number % MARK_EVERY == 0 and (not self._marks or number > self._marks[-1][0]):
                    self._marks.append((number, seconds))
                if number >= index - FRAMES_KEPT:
                    shown = np.ascontiguousarray(np.rot90(item.gray, k=self.quarters)) if self.quarters else item.gray
                    self._kept[number] = (shown, seconds - self._first_s)
                    while len(self._kept) > FRAMES_KEPT:
                        self._kept.popitem(last=False)
                if number == index:
                    return self._kept[index]
        except BaseException:  # a decode error mid-film: the next request decodes again from the start
            self.close()
            raise
        self.frames, self._end_known = self._next, True
        self.close()
        raise self._past_end(index)

    def _past_end(self, index: int) -> InputError:
        return InputError(f"{self.path.name}: frame {index} is past the end (the film has {self.frames} frames, "
                          f"0 to {(self.frames or 1) - 1})")

    def stop(self, reason: str = "the studio is stopping") -> None:
        """Make a decode under way end at its next frame, with an InputError saying ``reason`` (from any thread,
        without the picture's lock)."""
        self._stopped = reason
        self._stop.set()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._items = None, None


NO_LONGER_OPEN = ("that picture is no longer open (the studio was restarted or opened many others); open it "
                  "again")


@dataclass
class _Picture:
    info: PictureInfo
    source: Path | None  # the file read (None: an upload)
    photo: np.ndarray | None = None  # photos: uint8 gray, RGB or RGBA, full size
    preview: np.ndarray | None = None  # photos: the page's copy
    film: FilmFrames | None = None
    metadata: photometa.PhotoMetadata | None = None  # an upload's (a file's is read again when saved)
    # one request at a time reads this picture (a film's reader is one); others go on meanwhile: a frame far
    # into a long film took 38 s to decode, and every tab's renders waited behind it (an audit)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)
    closed: bool = False  # dropped from the list and its film closed: a request that got it before says so

    def full(self, frame: int) -> tuple[np.ndarray, float | None]:
        """The full-size picture (a film's frame as its luma plane) and, for a film, the frame's time; under
        ``lock``. A film closed meanwhile is not opened again (its reader would be left open; a review)."""
        if self.closed:
            raise InputError(NO_LONGER_OPEN)
        if self.film is not None:
            return self.film.frame(frame)
        assert self.photo is not None
        return self.photo, None


class Studio:
    """Pictures under one folder coloured with hints by a guided Colorizer. A lock guards the list of pictures
    open, one per picture its reading (a film's reader); the colouring and a save's writing run outside both."""

    def __init__(self, colorizer: Colorizer, folder: Path):
        colorizer.require_guided()
        self.colorizer = colorizer
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise InputError(f"{folder}: not a folder")
        self._lock = threading.Lock()
        try:
            self.name_max = os.pathconf(self.folder, "PC_NAME_MAX")  # a file name's longest, in bytes
        except (OSError, ValueError, AttributeError):
            self.name_max = 255
        self._pictures: OrderedDict[str, _Picture] = OrderedDict()
        self._keyframes: dict[Path, dict[int, str]] = {}  # film -> frame -> keyframe saved (under the folder)
        self._film_files: dict[Path, object] = {}  # film -> the file it was when opened (its keyframes are that
        # file's: replaced by another film, frame 150 of the old one was still printed for an 80-frame one)
        self._saving: set[Path] = set()  # pictures being coloured and written by a save, outside the lock
        self._kept: set[str] = set()  # pictures never closed for others (open_file's keep)

    # ---- the folder ----

    def inside(self, relative: str, error: type[InputError] | type[OutputError] = OutputError) -> Path:
        """``relative`` (a path under the folder) resolved, links included; an error when it leads elsewhere
        or is the folder itself."""
        if not isinstance(relative, str) or not relative.strip() or "\x00" in relative:
            raise error("no file name given")
        shown = _short(relative)
        try:
            os.fsencode(relative)
        except UnicodeEncodeError as err:  # a lone surrogate from the page (a 500; an audit)
            raise error(f"{ascii(shown)}: not a file name this system can hold") from err
        if Path(relative).is_absolute() or relative.startswith(("/", "\\")):
            raise error(f"{shown}: give a path under the studio's folder {self.folder}, not an absolute one")
        if any(len(os.fsencode(part)) > self.name_max for part in Path(relative).parts):
            raise error(f"{shown}: a name longer than this disk takes ({self.name_max} bytes)")
        try:
            resolved = (self.folder / relative).resolve()
        except (OSError, RuntimeError) as err:  # a link that loops
            raise error(f"{shown}: not a usable path ({getattr(err, 'strerror', None) or err})") from err
        if not resolved.is_relative_to(self.folder) or resolved == self.folder:
            raise error(f"{shown}: outside the studio's folder {self.folder}, the only one it reads and writes")
        return resolved

    def shown(self, path: Path) -> str:
        """A path as the page and the commands show it: under the folder relative to it, else absolute."""
        path = path.resolve()
        return path.relative_to(self.folder).as_posix() if path.is_relative_to(self.folder) else str(path)

    def files(self) -> tuple[list[str], int]:
        """Photos and films under the folder (paths relative to it, hidden folders skipped), sorted: the first
        MAX_LISTED, and how many there are."""
        found: list[str] = []
        count = 0
        media = IMAGE_INPUT_EXTENSIONS + VIDEO_EXTENSIONS
        for top, dirs, names in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if Path(top) != self.folder and is_film_folder(names):  # a film scanner's frames: one film, as
                count += 1  # `filmcolor batch` takes it (its frames were listed as photos; an audit)
                if len(found) < MAX_LISTED:
                    found.append(Path(top).relative_to(self.folder).as_posix() + "/")
                dirs[:] = []
                continue
            for name in sorted(names):
                if name.lower().endswith(media) and not name.startswith(".") and PARTIAL_MARK not in name:
                    count += 1
                    if len(found) < MAX_LISTED:
                        found.append(Path(top, name).relative_to(self.folder).as_posix())
        return found, count

    # ---- opening ----

    def open(self, relative: str) -> PictureInfo:
        """A photo or film under the folder."""
        return self.open_file(self.inside(relative, InputError))

    def open_file(self, path: Path, keep: bool = False) -> PictureInfo:
        """A photo or film by path (the command line's FILE may lie outside the folder: it is only read); with
        ``keep``, never closed for others (the command line's: the page could not open it again, and its
        hints could not be saved, once eight others had been opened; an audit).

        The file is read outside the lock (a 48 MP scan took 2 s, and every tab's renders waited)."""
        path = Path(path)
        if not (path.suffix.lower() in VIDEO_EXTENSIONS or path.is_dir()):  # (a folder: a scan's frames)
            image = read_image(path, deep=True)
            with self._lock:
                return self._add_photo(image, self.shown(path), path.resolve(), keep=keep)
        film = FilmFrames(path)
        try:
            source = path.resolve()
            info = film.info
            rate = float(info.frame_rate) if info.frame_rate else None
            with self._lock:
                film.check_unchanged()  # (replaced since it was read: an older open would drop the new one's
                # keyframes; a review)
                if self._film_files.get(source, film.identity) != film.identity:
                    self._keyframes.pop(source, None)
                self._film_files[source] = film.identity
                return self._add(_Picture(self._info("video", self.shown(path), film.width, film.height,
                                                     self._stem_for(path, "_key"), film.frames, rate),
                                          source, film=film), keep)
        except BaseException:
            film.close()
            raise

    def open_upload(self, data: bytes, name: str) -> PictureInfo:
        """A photo sent by the page (its bytes); nothing is written to the folder."""
        name = Path((name or "").replace("\x00", "")).name
        if name in ("", ".", ".."):
            name = "upload"
        if name.lower().endswith(VIDEO_EXTENSIONS):
            raise InputError(f"{name}: films are opened from the folder's list (put it under {self.folder}), "
                             "where `filmcolor video` can read it too")
        if not data:
            raise InputError(f"{name}: empty file (0 bytes)")
        image, metadata = decode_upload(data, name)
        with self._lock:
            return self._add_photo(image, name, None, metadata)

    def _add_photo(self, image: np.ndarray, name: str, source: Path | None,
                   metadata: photometa.PhotoMetadata | None = None, keep: bool = False) -> PictureInfo:
        height, width = image.shape[:2]
        stem = self._stem_for(source if source is not None else self.folder / name, "_color")
        picture = _Picture(self._info("photo", name, width, height, stem), source, photo=image,
                           preview=_preview(image), metadata=metadata)
        return self._add(picture, keep)

    def _info(self, kind: str, name: str, width: int, height: int, stem: str, frames: int | None = None,
              rate: float | None = None) -> PictureInfo:
        return PictureInfo(secrets.token_hex(6), name, kind, width, height, stem, frames, rate)

    def _stem_for(self, source: Path, suffix: str) -> str:
        """Default save name: beside the source when it lies under the folder, else at the folder's top."""
        source = source.resolve()
        where = source.parent if source.is_relative_to(self.folder) else self.folder
        return (where / (source.stem + suffix)).relative_to(self.folder).as_posix()

    def _add(self, picture: _Picture, keep: bool = False) -> PictureInfo:
        self._pictures[picture.info.id] = picture
        if keep:
            self._kept.add(picture.info.id)
        while len(self._pictures) > MAX_PICTURES + len(self._kept):
            oldest = next(key for key in self._pictures if key not in self._kept)
            old = self._pictures.pop(oldest)
            if old.film is not None:  # once a request still reading it is done (not waited for here), which
                old.film.stop(NO_LONGER_OPEN)  # a far seek now ends (a review: the process waited 14 s at exit)
                threading.Thread(target=_close_film, args=(old,), name="filmcolor-studio-close", daemon=True).start()
        return picture.info

    def _get(self, picture_id: object) -> _Picture:
        picture = self._pictures.get(picture_id) if isinstance(picture_id, str) else None
        if picture is None:
            raise InputError(NO_LONGER_OPEN)
        self._pictures.move_to_end(picture.info.id)
        return picture

    # ---- colouring and saving ----

    def render(self, picture_id: object, frame: int, points: object) -> Rendered:
        """The picture (a film's frame ``frame``) coloured with the hints, at the page's preview size."""
        with self._lock:
            picture = self._get(picture_id)
        _, hints = parse_points(points, picture.info.width, picture.info.height)
        with picture.lock:
            if picture.film is not None:
                gray, time_s = picture.full(_frame_number(frame))
                preview = _preview(gray)
            else:
                preview, time_s = picture.preview, None
        assert preview is not None
        sy, sx = preview.shape[0] / picture.info.height, preview.shape[1] / picture.info.width
        small = Hints(hints.x * sx, hints.y * sy, hints.ab, hints.radius * (sx + sy) / 2)
        rgb = self.colorizer.colorize_image(preview, hints=small if len(small) else None)
        return Rendered(rgb[..., :3], time_s)

    def save(self, picture_id: object, frame: int, points: object, name: str, overwrite: bool = False) -> Saved:
        """NAME.png (the full-size picture coloured; for a film's frame, a keyframe) and NAME.json (the hints).

        The colouring and the writing run outside the lock (a 48 MP photo took 23 s, and every render waited
        behind it); a second save to the same NAME meanwhile is refused.
        """
        with self._lock:
            picture = self._get(picture_id)
            kept, hints = parse_points(points, picture.info.width, picture.info.height)
            if not isinstance(name, str):  # (None was saved as None.png)
                raise OutputError(f"name {_short(repr(name))}: expected a file name")
            stem = name.strip()
            if any(unicodedata.category(c) == "Cc" for c in stem):  # (a newline made x\ny.png; an audit)
                raise OutputError(f"name {ascii(_short(stem))}: control characters are no part of a file name")
            for ext in (".png", ".json"):
                if stem.lower().endswith(ext):  # x.PNG -> x, not x.PNG.png
                    stem = stem[:-len(ext)]
            target = self.inside(stem)
            if len(os.fsencode(target.name + ".json")) > self.name_max:  # (a 500: File name too long; an audit)
                raise OutputError(f"{_short(stem)}: a name longer than this disk takes with .json after it "
                                  f"({self.name_max} bytes)")
            image_path, hints_path = (target.with_name(target.name + ext) for ext in (".png", ".json"))
            try:  # a new folder under the folder's own (its outputs cannot exist yet)
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise OutputError(f"{_short(self.shown(target.parent))}: cannot make the folder ({err.strerror})"
                                  ) from err
            inputs = [picture.source] if picture.source is not None else []
            for path in (image_path, hints_path):
                with _overwrite_box():
                    check_output_path(path, inputs, overwrite)
            index = _frame_number(frame) if picture.film is not None else 0
            if image_path in self._saving:
                raise OutputError(f"{self.shown(image_path)}: being saved by another request; wait for it to end")
            self._saving.add(image_path)
        try:
            with picture.lock:  # (a film's frame: its reader is the picture's one)
                full, _ = picture.full(index)
            metadata = (photometa.read_metadata(picture.source) if picture.film is None and picture.source
                        else picture.metadata)
            rgb = self.colorizer.colorize_image(full, hints=hints if len(hints) else None)
            if picture.film is not None and picture.film.quarters:  # the hints beside the keyframe, as it is
                kept = [_moved(point, *picture.film.stored_point(point["x"], point["y"])) for point in kept]
                # stored (they were the shown frame's: outside the keyframe, or mirrored; an audit)
            # a photo's caption, date and credits, as `filmcolor image` keeps them
            encoded, _ = encode_image(image_path, picture.film.stored(rgb) if picture.film is not None else rgb,
                                      metadata)
            # both or neither, and (replace=overwrite) not over a file that appeared while the picture was
            # coloured (an audit; a review: the picture was left when only its hints file had appeared)
            with _overwrite_box(), atomic_outputs([image_path, hints_path], replace=overwrite) as tmps:
                tmps[0].write_bytes(encoded)
                try:
                    tmps[1].write_bytes(hints_json(kept))
                except OSError as err:  # said of the hints file, not of the picture (atomic_outputs: the first)
                    raise OutputError(f"{self.shown(hints_path)}: cannot write output ({err.strerror or err})"
                                      ) from err
        finally:
            with self._lock:
                self._saving.discard(image_path)
        written = [self.shown(image_path), self.shown(hints_path)]
        with self._lock:
            shown = self.shown(image_path)
            for film_keys in self._keyframes.values():  # that file is this picture's now: not another frame's
                for other in [k for k, v in film_keys.items() if v == shown]:  # of this film (it kept its
                    del film_keys[other]  # earlier frame too; an audit), nor any of another film's (a second
                    # audit), nor a film's once a photo is saved over it (a third)
            if picture.film is None or picture.source is None:
                return Saved(written)
            keys = self._keyframes.setdefault(picture.source, {})
            for other in [k for k, v in keys.items() if not (self.folder / v).is_file()]:  # deleted since
                del keys[other]
            keys[index] = shown
            return Saved(written, video_command(self.shown(picture.source), self._film_output(picture.source),
                                                dict(keys)))

    def _film_output(self, film: Path) -> str:
        suffix = film.suffix if film.suffix.lower() in KEPT_VIDEO_EXTENSIONS else ".mkv"
        return self.shown(self.folder / (self._stem_for(film, "_color") + suffix))

    def close(self) -> None:
        with self._lock:
            pictures = list(self._pictures.values())
            self._pictures.clear()
        for picture in pictures:
            if picture.film is not None:
                picture.film.stop()  # a far seek under way ends at its next frame, so its lock comes free
        for picture in pictures:
            _close_film(picture)


@contextlib.contextmanager
def _overwrite_box() -> Iterator[None]:
    """An output error as the page says it: it has a box for overwriting, not an option."""
    try:
        yield
    except OutputError as err:
        raise OutputError(str(err).replace("pass --overwrite", "tick 'overwrite'")) from err


def _close_film(picture: _Picture) -> None:
    if picture.film is not None:
        with picture.lock:
            picture.closed = True
            picture.film.close()


def _frame_number(frame: object) -> int:
    if isinstance(frame, bool) or not isinstance(frame, int):
        raise InputError(f"frame {frame!r}: expected a whole number (frames are counted from 0)")
    return frame


def _short(text: str, limit: int = 120) -> str:
    """A value from a request as an error shows it: at most ``limit`` characters (one was 200 MB long)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _preview(image: np.ndarray) -> np.ndarray:
    """The picture shrunk to PREVIEW_LONG_SIDE on its long side (INTER_AREA), or itself if smaller; 8-bit
    (a 16-bit scan's preview is its top byte: the page shows 8 bits)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    height, width = image.shape[:2]
    scale = PREVIEW_LONG_SIDE / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def decode_upload(data: bytes, name: str) -> tuple[np.ndarray, photometa.PhotoMetadata]:
    """An uploaded image read by imageio.read_image (with all its checks; 16 bits kept), its errors naming the
    upload, and its metadata: a save keeps both, as for a file of the folder (an upload's were lost; an audit).

    The bytes go to an anonymous in-memory file where the system has them (Linux), so nothing is written
    to disk; elsewhere to a temporary file that is removed at once.
    """
    with _bytes_as_path(data) as path:
        try:
            return read_image(path, deep=True), photometa.read_metadata(path)
        except InputError as err:
            raise InputError(str(err).replace(str(path), name)) from err


@contextlib.contextmanager
def _bytes_as_path(data: bytes) -> Iterator[Path]:
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create("filmcolor-upload")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            yield Path(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="filmcolor-upload-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        yield path
