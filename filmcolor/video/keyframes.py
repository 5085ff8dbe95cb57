"""Keyframes and reference photos for a film: which colour guide each frame takes, shot by shot.

A decode-only scan finds the shots with the same cut detector, on the same L, as the temporal stage, so
that a keyframe's colours reach back to the first frame of its shot as well as on to its last, and never
across a cut (past an insert of a frame or two, the shot goes on: temporal.MAX_INSERT). Each frame
of a shot with keyframes is guided by them, matched onto the frame by the network encoder's features
(guide.transfer) and blended by their distance in frames and, cell by cell, by how well each matches; the
network fills what they do not show and the temporal stage (flow) keeps the result steady. A shot without
keyframes takes the reference photo that matches its first frame best, if any matches. Keyframe pictures are
read when their shot comes and dropped after it (those of the last three shots are kept, for an insert to
end in): memory stays flat in the film's length. The scan runs on a thread of its own beside the colouring,
ahead of it (it only decodes and finds the motion: several times quicker): a frame waits for it only until
its shot's keyframes are known, where a whole pre-pass made every film wait for its whole decode.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from filmcolor import imageio, lab
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, InputError
from filmcolor.video.temporal import MAX_INSERT, MotionAnalyzer, TemporalOptions

if TYPE_CHECKING:  # guide.py needs torch: it loads with the first keyframe or reference (pipeline imports us)
    import torch

    from filmcolor import guide as guidance


# A shot whose first frame matches no reference tries again on each of its next frames up to this many (an
# audit: a shot fading in from black matched nothing on its dark first frame, and took no reference at all)
REMATCH_FRAMES = 24


@dataclass(frozen=True)
class Keyframe:
    """A colour version of frame ``index`` (0-based, decode order of the frames coloured) of the film."""

    index: int
    path: Path


def parse_keyframe(text: str) -> Keyframe:
    """'N=PATH' -> Keyframe; a ValueError with a one-line reason otherwise."""
    number, sep, path = text.partition("=")
    if not sep or not number.strip().isdigit() or not path:
        raise ValueError(f"'{text}' is not N=PATH (N the 0-based frame number, PATH a colour image)")
    return Keyframe(int(number), Path(path).expanduser())  # the shell leaves N=~/key.png as it is


def parse_reference(text: str) -> Path:
    """--reference PATH; a ValueError for an empty one (it was the working folder: ". is a folder"; an audit)."""
    if not text:
        raise ValueError("an empty path: give a colour photo")
    return Path(text).expanduser()


@dataclass(frozen=True)
class FrameShape:
    """The film's frames as stored (what the network sees), and the display rotation players apply to them
    (degrees counterclockwise, as PyAV reads the display matrix)."""

    width: int
    height: int
    rotation: float = 0.0


def read_keyframe(key: Keyframe, shape: FrameShape) -> np.ndarray:
    """A keyframe's RGB as the film's frames are stored. One made from the film as players show it (a phone's
    upright film is stored sideways) is turned back: a quarter-turned film's keyframe of its shown size was
    refused, with no word of the rotation (an audit). A half turn keeps the size, so it cannot be told."""
    quarters = round(shape.rotation / 90) % 4
    shown = (f" ({shape.height}x{shape.width} as players show it, turned {shape.rotation % 360:g} degrees)"
             if quarters in (1, 3) else "")

    def wrong_size(width: int, height: int) -> InputError:
        return InputError(f"{key.path}: keyframe {key.index} is {width}x{height}, the video "
                          f"{shape.width}x{shape.height}{shown}")

    declared = imageio.declared_size_of(key.path)  # (a 12000x12000 one was decoded first: 3 GB; an audit)
    if declared is not None and sorted(declared) != sorted((shape.width, shape.height)):
        raise wrong_size(*declared)
    rgb = imageio.read_colour_image(key.path, f"keyframe {key.index}")
    if rgb.shape[:2] == (shape.height, shape.width):
        return rgb
    if quarters in (1, 3) and rgb.shape[:2] == (shape.width, shape.height):
        return np.ascontiguousarray(np.rot90(rgb, k=-quarters))  # shown = stored turned by the rotation
    raise wrong_size(rgb.shape[1], rgb.shape[0])


def check_guide_pictures(keyframes: Iterable[Keyframe], references: Iterable[Path], shape: FrameShape) -> None:
    """Every keyframe reads as a colour picture of the video's size, once, and every reference as a colour
    picture: said before the shots' scan starts."""
    for path in references:
        imageio.read_colour_image(path, "reference")
    seen: dict[int, Path] = {}
    for key in keyframes:
        if key.index in seen:
            raise ConfigError(f"--keyframe {key.index} given twice ({seen[key.index]} and {key.path})")
        seen[key.index] = key.path
        read_keyframe(key, shape)


def check_keyframes_within(keyframes: Iterable[Keyframe], frames: int, sliced: bool = False) -> None:
    """Every keyframe names a frame that exists (of the slice, with --start or --duration)."""
    whole = "the slice coloured has" if sliced else "the video has"
    for key in keyframes:
        if key.index >= frames:
            raise InputError(f"{key.path}: keyframe {key.index} is past the end ({whole} {frames} frames: "
                             f"0-{frames - 1})")


def network_l(gray: np.ndarray, shape: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """An 8-bit luma plane (H, W) -> L (h, w) in [0, 100] at the network's input size (into ``out``)."""
    rh, rw = shape
    if gray.shape != (rh, rw):  # shrink the 8-bit plane first: the lookup then touches few pixels
        gray = imageio.shrink(gray, rh, rw)
    return cv2.LUT(gray, lab.GRAY_TO_L, dst=out)


def ab_size_l(l_net: np.ndarray, ab_shape: tuple[int, int]) -> np.ndarray:
    """L at the network's input size -> L at its output (ab) size, as the temporal stage sees it."""
    return cv2.resize(l_net, (ab_shape[1], ab_shape[0]), interpolation=cv2.INTER_AREA)


class ShotMap:
    """Which shot each frame is of, as the shots' scan finds them. The scan (a thread of its own, running ahead
    of the colouring) adds frames in order; the colouring asks only about frames the scan has passed, and
    waits for it otherwise. A shot is a stretch from one cut to the next, or more than one stretch where an
    insert of a frame or two interrupts it (temporal.MAX_INSERT)."""

    def __init__(self) -> None:
        self.starts = [0]  # each stretch's first frame
        self._shot_of_stretch = [0]
        self.first_frames = [0]  # each shot's
        self._last_frames = [-1]  # each shot's last frame scanned so far
        self.frames = 0  # frames scanned
        self.done = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    @classmethod
    def of(cls, cuts: Iterable[int], resumed: dict[int, int] | None = None, frames: int | None = None) -> ShotMap:
        """A whole film's map from its cuts (the frames after each) and ``resumed`` (the cuts that end an
        insert -> the frame before it); ``frames``: its length (None: every frame after the last cut is of the
        last shot, however many there are)."""
        cuts = sorted(cuts)
        shots = cls()
        for index in range(frames if frames is not None else (cuts[-1] + 1 if cuts else 1)):
            shots.add(index, index in cuts, (resumed or {}).get(index))
        if frames is None:
            shots.frames = sys.maxsize
        shots.finish()
        return shots

    def add(self, index: int, cut: bool, resumed_from: int | None = None) -> None:
        """Frame ``index`` (the next) scanned; ``cut``: it follows a cut; ``resumed_from``: and it ends an
        insert, its shot that of that earlier frame."""
        with self._changed:
            if cut:
                if resumed_from is not None and resumed_from < index:
                    shot = self._shot_of_stretch[bisect.bisect_right(self.starts, resumed_from) - 1]
                else:
                    shot = len(self.first_frames)
                    self.first_frames.append(index)
                    self._last_frames.append(index)
                self.starts.append(index)
                self._shot_of_stretch.append(shot)
            self._last_frames[self._shot_of_stretch[-1]] = index
            self.frames = index + 1
            self._changed.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        """The scan is over (``error``: it failed, or found a keyframe past the end: said to whoever waits)."""
        with self._changed:
            if not self.done:  # the first word stands
                self.done, self._error = True, error
                self._changed.notify_all()

    def stop(self) -> None:
        """The colouring stopped (its waits end; a scan over already is left as it ended)."""
        self.finish(ScanStopped())

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self._changed:
            while not ready() and not self.done:
                self._changed.wait()
            if self._error is not None:
                raise self._error

    def wait_done(self) -> None:
        """Until the scan is over; its error, if any."""
        self._wait(lambda: False)

    @property
    def shots(self) -> int:
        return len(self.first_frames)

    def shot_of(self, index: int) -> int:
        """Frame ``index``'s shot (waits for the scan to pass it)."""
        self._wait(lambda: index < self.frames)
        return self._shot_of_stretch[bisect.bisect_right(self.starts, index) - 1]

    def keyframes_of(self, shot: int, keyframes: list[Keyframe]) -> list[Keyframe]:
        """The keyframes of ``shot``, one of the shots scanned: waits until the scan has passed them all or
        left the shot for good (MAX_INSERT + 1 frames past its last, too far for an insert to return to it)."""
        last_key = max((k.index for k in keyframes), default=-1)
        self._wait(lambda: self.frames > last_key or self.frames > self._last_frames[shot] + MAX_INSERT + 1)
        return [k for k in keyframes if k.index < self.frames and self.shot_of(k.index) == shot]


class ScanStopped(Exception):
    """The colouring stopped before the scan was over."""


def scan_shots(grays: Iterable[np.ndarray], colorizer: Colorizer, temporal: TemporalOptions, shots: ShotMap,
               stopped: Callable[[], bool] = lambda: False) -> None:
    """The decode-only scan over a film's luma planes, into ``shots`` frame by frame (until ``stopped``)."""
    analyzer = MotionAnalyzer(temporal.cut_threshold)
    for gray in grays:
        if stopped():
            return
        shape = colorizer.network_shape(*gray.shape)
        motion = analyzer(ab_size_l(network_l(gray, shape), colorizer.ab_shape(shape)))
        shots.add(motion.index, motion.cut, analyzer.resumed.get(motion.index))


class ShotGuides:
    """The guide of each frame (in order of index) from keyframes and references, or None (automatic).

    A shot is the frames from one cut to the next, and on after an insert (ShotMap): a keyframe before
    a frame or two of another shot guides the frames after them too, and a shot's reference is kept there."""

    def __init__(self, colorizer: Colorizer, keyframes: list[Keyframe], reference_paths: list[Path],
                 shots: ShotMap, shape: FrameShape):
        """``shots``: the film's shots, as the scan fills them in (or ShotMap.of a known film's cuts)."""
        self.colorizer = colorizer
        self.shape = shape
        self.map = shots
        self.keyframes = sorted(keyframes, key=lambda k: k.index)
        self.references = [colorizer.reference(imageio.read_colour_image(p, "reference"), name=str(p))
                           for p in reference_paths]
        self._shot = -1
        self._shot_keys: list[tuple[int, guidance.Reference]] = []
        # the shots left last and their keys (MAX_INSERT + 1: an insert of two shots ends in the third back)
        self._left: OrderedDict[int, list[tuple[int, guidance.Reference]]] = OrderedDict()
        self._shot_reference: guidance.Reference | None = None
        self._references_taken: dict[int, guidance.Reference | None] = {}  # shot -> its reference, once matched
        self.used_references: dict[str, int] = {}  # reference -> shots it coloured (for the report)
        self.best_scores = [0.0] * len(self.references)  # each reference's best match with a shot's first frame
        self.matched_shots = 0  # shots without keyframes, which took a reference if one matched
        self.key_frames = frozenset(k.index for k in self.keyframes)
        # the keyframes read, by frame: their own colour, kept until their frame comes (each is a network frame)
        self._own: dict[int, np.ndarray] = {}

    @property
    def shots(self) -> int:
        return self.map.shots

    def shot_of(self, index: int) -> int:
        return self.map.shot_of(index)

    def _enter(self, shot: int, features: torch.Tensor) -> None:
        self._left[self._shot] = self._shot_keys  # an insert may end in it again; else it is dropped soon
        while len(self._left) > MAX_INSERT + 1:
            self._left.popitem(last=False)
        self._shot = shot
        if shot in self._left:  # back after an insert: its keyframes as read (1.3 s each at 480p; a review)
            self._shot_keys = self._left.pop(shot)
        else:
            self._shot_keys = [(k.index, self._read(k)) for k in self.map.keyframes_of(shot, self.keyframes)]
        self._shot_reference = None
        if self._shot_keys or not self.references:
            return
        if shot in self._references_taken:  # back after an insert
            self._shot_reference = self._references_taken[shot]
            return
        self.matched_shots += 1
        self._match_reference(features)

    def _read(self, key: Keyframe) -> guidance.Reference:
        """A keyframe read when its shot comes: prepared for matching, and its ab at the network's output size
        kept for its own frame (own_colour)."""
        rgb = read_keyframe(key, self.shape)
        reference = self.colorizer.reference(rgb, name=str(key.path))
        h, w = self.colorizer.ab_shape(self.colorizer.network_shape(*rgb.shape[:2]))
        # a guided model matches at stride 8 and predicts at stride 4: the reference's quarter cells are the
        # output's grid (resized only for a model with other strides)
        ab = np.ascontiguousarray(reference.ab_cells.permute(1, 2, 0).numpy(), dtype=np.float32)
        self._own[key.index] = ab if ab.shape[:2] == (h, w) else cv2.resize(ab, (w, h), interpolation=cv2.INTER_AREA)
        return reference

    def own_colour(self, index: int) -> np.ndarray | None:
        """The ab (h, w, 2) at the network's output size that frame ``index`` takes instead of the network's, if it
        is a keyframe: the keyframe's own colour, not the network's rendering of it through the matching's 8x8
        cells (on the keyframe's own frame that rendering is 4 dB short of the keyframe, 6.4 against 10.8 dB
        over gray on the dance clip). The temporal stage takes it as the frame's prediction: a keyframe that
        starts its shot is its frame's colour, and the frames after carry it on; in the middle of a shot it is
        blended in as any prediction is (taken whole, the frame's colour jumped: 15 times the clip's mean change
        from one frame to the next on the CCTV clip). Asked once per frame, after its guide."""
        return self._own.pop(index, None)

    def _match_reference(self, features: torch.Tensor) -> None:
        """The reference that shows this frame's content, if one does, for the rest of the shot."""
        from filmcolor import guide as guidance

        scores = [guidance.match_score(features, ref) for ref in self.references]
        self.best_scores = [max(a, b) for a, b in zip(self.best_scores, scores, strict=True)]
        self._shot_reference = guidance.best_reference(features, self.references, scores)[0]
        self._references_taken[self._shot] = self._shot_reference
        if self._shot_reference is not None:
            name = self._shot_reference.name
            self.used_references[name] = self.used_references.get(name, 0) + 1

    def unused_notes(self) -> list[str]:
        """A line for each reference no shot took, and why."""
        from filmcolor import guide as guidance

        notes = []
        for ref, best in zip(self.references, self.best_scores, strict=True):
            if ref.name in self.used_references:
                continue
            if not self.matched_shots:
                notes.append(f"{ref.name}: --reference not used: every shot has a keyframe")
            else:
                notes.append(f"{ref.name}: --reference not used: it shows no shot's content well enough (its best "
                             f"match {best:.2f}, {guidance.REFERENCE_MIN_SCORE} is needed)")
        return notes

    def __call__(self, index: int, features: torch.Tensor, l_cells: torch.Tensor,
                 shape: tuple[int, int]) -> np.ndarray | None:
        """The guide (3, h, w) at render size ``shape`` for frame ``index``, from its unit encoder features
        and L per cell."""
        from filmcolor import guide as guidance

        shot = self.shot_of(index)
        if shot != self._shot:
            self._enter(shot, features)
        elif (self.references and not self._shot_keys and self._shot_reference is None
              and index - self.map.first_frames[shot] < REMATCH_FRAMES):
            self._match_reference(features)  # a shot that fades in from black shows its content later
        rh, rw = shape
        if self._shot_keys:
            guides = [guidance.guide_from_transfer(*guidance.transfer(features, ref, l_cells), rh, rw)
                      for _, ref in self._shot_keys]
            weights = [1.0 / (1.0 + abs(index - k)) for k, _ in self._shot_keys]
            return guidance.blend_guides(guides, weights)
        if self._shot_reference is not None:
            return guidance.guide_from_transfer(*guidance.transfer(features, self._shot_reference, l_cells),
                                               rh, rw)
        return None
