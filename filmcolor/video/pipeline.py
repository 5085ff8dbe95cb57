"""The loop that joins reader -> colourisation -> writer: three threads and two bounded queues.

    reader thread:     demux + decode + luma plane           -> queue of LumaFrame / passthrough packets
    inference thread:  L lookup at network size, batched network -> queue of (frame, L, ab at network size)
    calling thread:    temporal smoothing, chroma (Lab -> Cb/Cr beside the input's own luma), encode, mux,
                       progress

PyAV, OpenCV and the runtimes release the GIL in their heavy calls, so the stages overlap on separate
cores; memory is bounded by the queue sizes, whatever the film's length.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, FilmcolorError, OutputError
from filmcolor.fsutil import atomic_outputs, check_output_path
from filmcolor.options import option
from filmcolor.video.compose import YuvComposer, composed_layout
from filmcolor.video.keyframes import (
    FrameShape,
    Keyframe,
    ScanStopped,
    ShotGuides,
    ShotMap,
    ab_size_l,
    check_guide_pictures,
    check_keyframes_within,
    network_l,
    parse_keyframe,
    parse_reference,
    scan_shots,
)
from filmcolor.video.reader import LumaFrame, ReaderOptions, VideoReader
from filmcolor.video.sequence import DEFAULT_FRAME_RATE
from filmcolor.video.sound import SoundTrack
from filmcolor.video.temporal import Motion, NetworkSchedule, TemporalOptions, TemporalSmoother
from filmcolor.video.writer import EncoderOptions, VideoWriter

Progress = Callable[[int, "int | None"], None]  # (frames written, expected total or None)


@dataclass(frozen=True)
class VideoOptions(ReaderOptions, EncoderOptions):
    """Everything `filmcolor video` (and `filmcolor batch`, for each file) can be told about colouring a film:
    the reader's options, the encoder's, and the pipeline's own. Each stage is handed the whole of it."""

    batch_size: int | None = option(None, "Frames per network call.", at_least=1,
                                    default_text="1 with ONNX Runtime, 4 with torch on CPU, 16 on GPU")
    temporal: TemporalOptions = field(default_factory=TemporalOptions)
    keyframes: tuple[Keyframe, ...] = option(
        (), "A colour version of frame N of the film (0-based, counted from --start), e.g. made with 'filmcolor "
        "image --hints': N=PATH, repeatable. Its colours reach every frame of its shot (on past an insert of "
        "1-2 frames), never across a cut; two keyframes in one shot blend.", parse=parse_keyframe,
        metavar="N=PATH", flag="--keyframe")
    references: tuple[Path, ...] = option(
        (), "A colour photo of similar content (same place, people, costumes), repeatable: each shot without "
        "keyframes takes its colours from the one that matches it best, if any matches.", parse=parse_reference,
        metavar="PATH", flag="--reference")
    preview_frames: int = 4  # frames on the --preview still
    queue_frames: int = 8  # per queue; bounds memory


# chroma: Lab -> Cb/Cr; scan: the decode-only scan that finds the shots for keyframes and references (its
# thread's wall time, beside the colouring: not in the run's elapsed time)
STAGES = ("scan", "decode", "luma", "inference", "temporal", "chroma", "encode")


@dataclass(frozen=True)
class VideoReport:
    """What a run did; ``to_dict()`` is the --report JSON. Stage times are busy seconds per thread."""

    input: str
    output: str
    frames: int
    network_frames: int  # frames the network ran on; the others' colour was carried (--network-every)
    repeated_frames: int
    duration: float  # seconds of video written
    elapsed: float  # wall seconds
    fps: float
    device: str
    runtime: str
    encoder: str  # codec and the preset and crf (or quantiser) it was given: "libx264 preset superfast crf 18"
    model: str
    render_size: int
    network_shape: tuple[int, int]
    batch_size: int
    settings: dict[str, Any]
    stage_seconds: dict[str, float]
    warnings: list[str]
    cuts: list[int]  # the frames after each scene cut
    inserts: list[tuple[int, int]]  # first and last frame of each insert: a shot's colour goes on after it
    guidance: dict[str, Any]  # keyframes used, the shots each reference coloured; empty when automatic

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (paths in the settings as strings)."""
        out = json.loads(json.dumps(dataclasses.asdict(self), default=str))
        out["stage_ms_per_frame"] = {k: round(1000 * v / max(1, self.frames), 2)
                                     for k, v in self.stage_seconds.items()}
        return out


def default_batch_size(colorizer: Colorizer) -> int:
    """ONNX Runtime on CPU is as fast frame by frame; torch wants batches, GPUs bigger ones."""
    if colorizer.device_type != "cpu":
        return 16
    return 1 if colorizer.runtime == "onnx" else 4


class _Stop(Exception):
    """Raised inside a stage when another stage failed or the run was interrupted."""


_END = object()


class _Channel:
    """A bounded queue whose put/get give up when ``stop`` is set, so no thread waits forever."""

    def __init__(self, size: int, stop: threading.Event):
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=size)
        self.stop = stop

    def put(self, item: Any) -> None:
        self._until_stopped(lambda: self.queue.put(item, timeout=0.05), queue.Full)

    def get(self) -> Any:
        return self._until_stopped(lambda: self.queue.get(timeout=0.05), queue.Empty)

    def _until_stopped(self, attempt: Callable[[], Any], busy: type[Exception]) -> Any:
        while not self.stop.is_set():
            try:
                return attempt()
            except busy:
                continue
        raise _Stop


@dataclass
class _Colored:
    frame: LumaFrame
    motion: Motion  # L at the network's output size and the motion from the previous frame
    l_net: np.ndarray | None  # L at the network's input size when the network runs on this frame
    ab_small: np.ndarray | None = None  # (h, w, 2) ab at the network's output size; None: carried


def colorize_video(input_path: Path, output_path: Path, colorizer: Colorizer,
                   options: VideoOptions = VideoOptions(), progress: Progress | None = None, *,
                   overwrite: bool = False, preview_path: Path | None = None,
                   report_path: Path | None = None) -> VideoReport:
    """Colourise a whole film (or its --start/--duration slice) into ``output_path``, atomically.

    ``colorizer`` renders at its own size: `filmcolor video`'s is ModelSpec().load()'s, 224, where
    Colorizer.from_pretrained() gives the photos' 256 (slower, no better on film; MODEL_CARD.md).

    ``preview_path`` gets a before/after still of a few frames, ``report_path`` the report as JSON; every
    path is checked before the first frame is read (none may be an input: the film, a keyframe, a
    reference). All are written under temporary names and renamed into place together at the end: a failure
    leaves none of them (fsutil.atomic_outputs; with ``overwrite``, one renamed before the failure stays, the
    file it replaced gone). Without ``overwrite``, a file that appears at one of them meanwhile (another
    run's) is an error, not replaced.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if options.sound is not None and options.audio == "none":
        raise ConfigError(f"--sound {options.sound} with --no-audio: give one or the other")
    inputs = [input_path, *guide_files(options),
              *([options.sound] if options.sound is not None else [])]
    with VideoReader(input_path, options, copy_streams=options.audio != "none",
                     not_frames=guide_files(options)) as reader, contextlib.ExitStack() as stack:
        check_output_path(output_path, inputs, overwrite)
        written = {output_path.resolve(): "the video's output"}
        for extra, what in ((preview_path, "the preview"), (report_path, "the report")):
            if extra is None:
                continue
            if (other := written.get(Path(extra).resolve())) is not None:  # (a preview then overwritten by
                raise OutputError(f"{extra}: the same file as {other}; give it a name of its own")  # the report)
            written[Path(extra).resolve()] = what
            check_output_path(Path(extra), [*inputs, output_path], overwrite)
        sound = None
        if options.sound is not None:
            sound = stack.enter_context(contextlib.closing(SoundTrack(
                options.sound, options.start, options.duration, strict=options.on_error == "fail")))
        shape = FrameShape(reader.info.width, reader.info.height, reader.info.rotation)
        guides, scan, setup_seconds = _shot_guides(input_path, shape, colorizer, options, stack)
        # The film, its preview and its report under temporary names, renamed into place together once all are
        # written and the input closed: a failure at any point leaves none of them (a preview was left, and the
        # rerun refused; an audit, then a review)
        extras = [Path(path) for path in (preview_path, report_path) if path is not None]
        with atomic_outputs([output_path, *extras], replace=overwrite) as (tmp, *extra_tmps):
            writer = VideoWriter(tmp, reader.info, options, reader.passthrough + (sound.streams if sound else []),
                                 display_path=output_path, attached=reader.attached_pictures())
            try:
                preview, report = _run(reader, writer, colorizer, options, progress, preview_path is not None,
                                       guides, scan, setup_seconds, sound)
            except BaseException:
                writer.abort()
                raise
            contents = ([preview.encode(Path(preview_path))] if preview is not None else []) + \
                ([json.dumps(report.to_dict(), indent=2).encode() + b"\n"] if report_path is not None else [])
            for path, extra_tmp, data in zip(extras, extra_tmps, contents, strict=True):
                try:
                    extra_tmp.write_bytes(data)
                except OSError as err:  # (said of the film, whose temporary file was open around it; a review)
                    raise OutputError(f"{path}: cannot write output ({err.strerror or err})") from err
            if sound is not None:
                sound.close()
            reader.close()  # (one that fails to close fails the run before any rename)
    return report


def _match_in_one_thread(stack: contextlib.ExitStack) -> None:
    """torch, which only matches keyframes and references here (ONNX Runtime runs the network), in one thread
    while guided runs last: the decoder, the network's threads and the encoder already share the cores, and
    torch's idle threads spin where ONNX Runtime's sleep (runtime.OnnxRunner). 480p with a keyframe a shot,
    on two cores: 12.1-12.8 s -> 10.2-10.9 s a clip (four runs each, alternating). torch's setting is the
    process's: the last of the runs at once gives back what the first found."""
    import torch

    with _torch_threads["lock"]:
        if _torch_threads["runs"] == 0:
            _torch_threads["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_threads["runs"] += 1

    def give_back() -> None:
        with _torch_threads["lock"]:
            _torch_threads["runs"] -= 1
            if _torch_threads["runs"] == 0:
                torch.set_num_threads(_torch_threads["before"])
    stack.callback(give_back)


_torch_threads: dict[str, Any] = {"lock": threading.Lock(), "runs": 0, "before": 1}


def guide_files(options: VideoOptions) -> list[Path]:
    """The keyframes' and references' files: none of a scan's frames, even kept in its folder (an audit)."""
    return [key.path for key in options.keyframes] + list(options.references)


def _shot_guides(input_path: Path, shape: FrameShape, colorizer: Colorizer, options: VideoOptions,
                 stack: contextlib.ExitStack) -> tuple[ShotGuides | None, _ShotScan | None, float]:
    """With keyframes or references: check them, and start the scan that finds the shots (a thread, ahead of
    the colouring, closed by ``stack``); the seconds this took."""
    if not options.keyframes and not options.references:
        return None, None, 0.0
    colorizer.require_guided()
    t0 = time.perf_counter()
    # torch (the matching needs it: ~1.2 s to import) and the encoder's and decoder's graphs load while the
    # scan decodes: it waits on FFmpeg and OpenCV, which let other threads run
    batch_size = options.batch_size or default_batch_size(colorizer)
    warm = threading.Thread(target=colorizer.prepare_matched,
                            args=(batch_size, *colorizer.network_shape(shape.height, shape.width)),
                            name="filmcolor-warm", daemon=True)
    warm.start()
    try:
        check_guide_pictures(options.keyframes, options.references, shape)
        scan = _ShotScan(input_path, colorizer, options)
        stack.callback(scan.close)
    finally:  # also after a bad keyframe: a process that exits while torch exports a graph aborts (exit 134)
        warm.join()
    if colorizer.runtime == "onnx":
        _match_in_one_thread(stack)
    guides = ShotGuides(colorizer, list(options.keyframes), list(options.references), scan.shots, shape)
    return guides, scan, time.perf_counter() - t0


class _ShotScan:
    """The shots' scan of a film on a thread of its own, into a ShotMap (``shots``): started at once, stopped
    and joined by ``close``. It ends by checking that every keyframe names a frame of the film."""

    def __init__(self, input_path: Path, colorizer: Colorizer, options: VideoOptions):
        self.shots = ShotMap()
        self.seconds = 0.0  # its thread's wall time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scan, args=(input_path, colorizer, options),
                                        name="filmcolor-scan", daemon=True)
        self._thread.start()

    def _scan(self, input_path: Path, colorizer: Colorizer, options: VideoOptions) -> None:
        t0 = time.perf_counter()
        error = None
        try:
            with VideoReader(input_path, options, copy_streams=False, not_frames=guide_files(options)) as reader:
                scan_shots((item.gray for item in reader if isinstance(item, LumaFrame)), colorizer,
                           options.temporal, self.shots, self._stop.is_set)
            if not self._stop.is_set():
                check_keyframes_within(options.keyframes, self.shots.frames,
                                       sliced=bool(options.start or options.duration))
        except BaseException as err:  # said to the colouring, which waits on the map
            error = err
        self.seconds = time.perf_counter() - t0
        self.shots.finish(error)

    def close(self) -> None:
        self._stop.set()
        self.shots.stop()
        self._thread.join()


def _run(reader: VideoReader, writer: VideoWriter, colorizer: Colorizer, options: VideoOptions,
         progress: Progress | None, want_preview: bool, guides: ShotGuides | None, scan: _ShotScan | None,
         setup_seconds: float, sound: SoundTrack | None = None) -> tuple[_PreviewSampler | None, VideoReport]:
    info = reader.info
    batch_size = options.batch_size or default_batch_size(colorizer)
    # its analyser (motion, scene cuts: in every mode) runs on the network's thread, its blend on this one
    smoother = TemporalSmoother(options.temporal)
    stop = threading.Event()
    frames_in = _Channel(max(options.queue_frames, batch_size), stop)
    colored = _Channel(max(options.queue_frames, batch_size), stop)
    errors: list[BaseException] = []
    seconds = dict.fromkeys(STAGES, 0.0)
    counts = {"network": 0}

    def guard(body: Callable[[], None], out: _Channel) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
                out.put(_END)
            except (_Stop, ScanStopped):
                pass
            except BaseException as err:  # handed to the calling thread, which re-raises it
                errors.append(err)
                stop.set()
        return run

    def read() -> None:
        items: Iterator[Any] = iter(reader)
        if sound is not None:
            items = sound.merge(items, info.time_base, lambda: reader.seconds_in)
        while True:
            t0 = time.perf_counter()
            item = next(items, _END)
            seconds["decode"] += time.perf_counter() - t0
            if item is _END:
                return
            frames_in.put(item)

    def infer() -> None:
        # Each frame: L at the network's size, its motion from the previous frame (and the cuts), and the
        # schedule's word on whether the network runs on it. Frames wait here, in order, until a batch of
        # network frames is full; the frames carried in between go on with them.
        pending: list[_Colored] = []
        runs = 0
        analyzer, schedule = smoother.analyzer, NetworkSchedule(options.temporal.network_every)
        key_frames = frozenset() if guides is None else guides.key_frames
        while True:
            item = frames_in.get()
            if isinstance(item, LumaFrame):
                t0 = time.perf_counter()
                shape = colorizer.network_shape(*item.gray.shape)
                l_net = network_l(item.gray, shape)
                t1 = time.perf_counter()
                motion = analyzer(ab_size_l(l_net, colorizer.ab_shape(shape)))
                run = schedule(motion, must=item.index in key_frames)  # a keyframe's own colour goes there
                seconds["luma"] += t1 - t0
                seconds["temporal"] += time.perf_counter() - t1
                pending.append(_Colored(item, motion, l_net if run else None))
                runs += run
                counts["network"] += run
            if runs == batch_size or (item is _END and runs):
                _infer_batch([c for c in pending if c.l_net is not None], batch_size, colorizer, seconds, guides)
                runs = 0
            if runs == 0:
                for done_item in pending:
                    colored.put(done_item)
                pending = []
            if item is _END:
                return
            if not isinstance(item, LumaFrame):
                colored.put(item)  # a passthrough packet: on to the muxer

    threads = [threading.Thread(target=guard(read, frames_in), name="filmcolor-read", daemon=True),
               threading.Thread(target=guard(infer, colored), name="filmcolor-infer", daemon=True)]
    preview = _PreviewSampler(info.frames, options.preview_frames) if want_preview else None
    composer = (YuvComposer(info.width, info.height, writer.pix_fmt, writer.colorspace,
                            keep_levels=info.full_range and info.bit_depth == 8)
                if composed_layout(writer.pix_fmt) else None)
    started = time.perf_counter()
    done = 0
    finished = False  # every frame through
    for thread in threads:
        thread.start()
    try:
        while True:
            try:
                item = colored.get()
            except _Stop:
                break
            if item is _END:
                finished = True
                break
            if isinstance(item, av.Packet):
                t0 = time.perf_counter()
                writer.mux(item)
                seconds["encode"] += time.perf_counter() - t0
                continue
            # The smoother runs here, in frame order, on the thread with the most room (the network's
            # thread is the busiest).
            t0 = time.perf_counter()
            item.ab_small = smoother.blend(item.motion, item.ab_small)
            seconds["temporal"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            if composer is not None:  # the input's luma plane + chroma computed at chroma resolution
                frame = composer.compose(item.frame.gray, item.ab_small, item.frame.deep)
                t1 = time.perf_counter()
                writer.write_frame(frame, item.frame.pts)
            else:  # other pixel formats: full-resolution RGB, converted by the encoder's scaler
                rgb = YuvComposer.full_rgb(item.frame.gray, item.ab_small)
                t1 = time.perf_counter()
                writer.write(rgb, item.frame.pts)
            t2 = time.perf_counter()
            seconds["chroma"] += t1 - t0
            seconds["encode"] += t2 - t1
            if preview is not None:
                preview.offer(item.frame.index, item.frame.gray,
                              lambda it=item: YuvComposer.full_rgb(it.frame.gray, it.ab_small))
            done += 1
            if progress is not None:
                progress(done, info.frames)
    finally:
        stop.set()
        if scan is not None and not finished:  # a thread waiting on it goes on
            scan.shots.stop()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    if scan is not None:  # the frames are all coloured; the scan's last word (a keyframe past the end)
        scan.shots.wait_done()
        seconds["scan"] = scan.seconds
    t0 = time.perf_counter()
    writer.close()  # flush the encoder's tail here, so that it counts in the timings
    seconds["encode"] += time.perf_counter() - t0
    elapsed = time.perf_counter() - started + setup_seconds  # end to end: checking the guidance counts
    seconds["decode"] = max(0.0, seconds["decode"] - reader.luma_seconds)
    seconds["luma"] += reader.luma_seconds
    return preview, VideoReport(
        input=str(reader.path), output=str(writer.shown), frames=done, network_frames=counts["network"],
        repeated_frames=reader.repeated_frames,
        duration=writer.duration_seconds, elapsed=elapsed, fps=done / elapsed if elapsed > 0 else 0.0,
        device=colorizer.device_name, runtime=colorizer.runtime, encoder=writer.encoder,
        model=colorizer.model_name,
        render_size=colorizer.rendered_size, network_shape=colorizer.network_shape(info.height, info.width),
        batch_size=batch_size, settings=dataclasses.asdict(options),
        stage_seconds={k: round(v, 4) for k, v in seconds.items()},
        warnings=reader.warnings + writer.warnings + _counted_warnings(reader, writer)
        + (_sound_warnings(sound, reader, writer, done, options) if sound is not None else [])
        + (guides.unused_notes() if guides is not None else []),
        cuts=list(smoother.cuts),
        inserts=[(before + 1, back - 1) for back, before in smoother.analyzer.resumed.items()],
        guidance={} if guides is None else {"keyframes": [k.index for k in options.keyframes],
                                            "shots": guides.shots, "reference_shots": guides.used_references})


def _sound_warnings(sound: SoundTrack, reader: VideoReader, writer: VideoWriter, frames: int,
                    options: VideoOptions) -> list[str]:
    """The --sound file's own warnings, and a line when it runs longer or shorter than the picture."""
    rate = (options.frame_rate or DEFAULT_FRAME_RATE) if reader.sequence is not None else None
    note = sound.length_note(writer.duration_seconds, frames, rate)
    return sound.warnings + ([note] if note else [])


def _counted_warnings(reader: VideoReader, writer: VideoWriter) -> list[str]:
    counts = [(reader.repeated_frames, "corrupt frame(s) replaced by the last good frame"),
              (writer.bad_audio_packets, "undecodable audio packet(s) skipped"),
              (writer.bad_subtitle_cues, "subtitle cue(s) that would not convert left out"),
              (writer.fixed_pts, "frame(s) had non-increasing timestamps; nudged forward"),
              (writer.gridded, f"frame(s) moved onto {writer.grid_name} (a variable-rate film; "
                               f"the picture strays up to {writer.grid_drift:.2f} s from its sound; "
                               ".mkv with libx264 keeps every timestamp)"),
              (writer.filled, "frame(s) repeated to fill the input's pauses (MPEG video in this file counts its "
                              "frames and cannot skip time; .ts, .mkv and .mp4 keep the pauses)")]
    return [f"{count} {what}" for count, what in counts if count]


def _infer_batch(batch: list[_Colored], batch_size: int, colorizer: Colorizer, seconds: dict[str, float],
                 guides: ShotGuides | None = None) -> None:
    """Predict ab for the frames the network runs on, into each item's ``ab_small``."""
    t0 = time.perf_counter()
    l_net = np.stack([batch[min(i, len(batch) - 1)].l_net for i in range(batch_size)])  # a short last batch
    # is padded so fixed-shape graphs are reused
    if guides is None:
        ab_nhw2 = colorizer.predict_ab(l_net)  # (N, h, w, 2) at the network's output size
    else:  # one encoder pass: each frame's guide is matched on its own features
        indices = [batch[min(i, len(batch) - 1)].frame.index for i in range(batch_size)]
        rh, rw = l_net.shape[1:]
        ab_nhw2 = colorizer.predict_ab_matched(
            l_net, lambda i, features, l_cells: guides(indices[i], features, l_cells, (rh, rw)))
    seconds["inference"] += time.perf_counter() - t0
    for i, item in enumerate(batch):
        own = None if guides is None else guides.own_colour(item.frame.index)
        item.ab_small = ab_nhw2[i] if own is None else own


class _PreviewSampler:
    """Keeps a few (gray, colour) frame pairs spread through the film for a side-by-side still."""

    TILE_WIDTH = 480

    def __init__(self, total: int | None, count: int):
        self.count = max(1, count)
        self.wanted = (set(np.linspace(0, total - 1, self.count + 2)[1:-1].round().astype(int).tolist())
                       if total else None)
        self.samples: list[tuple[int, np.ndarray, np.ndarray]] = []

    def offer(self, index: int, gray: np.ndarray, make_rgb: Callable[[], np.ndarray]) -> None:
        """Keep this frame when it is one of the wanted ones; ``make_rgb`` is called only then."""
        if self.wanted is not None:
            keep = index in self.wanted
        else:  # unknown length: keep frames at 0, 1, 2, 4, 8, ... and use the last few
            keep = index & (index - 1) == 0
        if keep:
            before = self._small(np.repeat(gray[..., None], 3, axis=2))
            self.samples.append((index, before, self._small(make_rgb())))
            self.samples = self.samples[-self.count:]

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if w <= self.TILE_WIDTH:
            return image.copy()
        return cv2.resize(image, (self.TILE_WIDTH, max(1, round(h * self.TILE_WIDTH / w))),
                          interpolation=cv2.INTER_AREA)

    def encode(self, path: Path) -> bytes:
        """The still, encoded as ``path``'s extension says (written by the caller, under a temporary name: a
        second atomic write took its lock from it; a review)."""
        from filmcolor.imageio import encode_image

        if not self.samples:
            raise FilmcolorError(f"{path}: no frames to preview")
        rows = [np.concatenate([before, after], axis=1) for _, before, after in self.samples]
        return encode_image(path, np.concatenate(rows, axis=0))[0]
