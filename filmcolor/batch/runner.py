"""Colour a folder tree into a mirrored tree, resumably: discover -> plan against the manifest -> run.

The driver (``BatchRunner``) is the only manifest writer. It hands files to an executor: local
threads sharing one model (``ThreadExecutor``) or Ray tasks (``filmcolor.batch.ray_runner``), and
records each result as it comes back. Both executors run the same ``process_file``, so the outputs and
the manifest are the same whichever does the work.

Crash safety: outputs are written under a hidden partial name and renamed when complete
(``fsutil.atomic_output``); a killed run leaves partials, removed at the next start; a file whose last
record is not ``done`` (or whose input changed, or whose output vanished) is redone.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from filmcolor.batch.manifest import FileRecord, Manifest
from filmcolor.colorize import DEFAULT_VIDEO_RENDER_SIZE, Colorizer
from filmcolor.errors import ConfigError, FilmcolorError, InputError, WeightsError
from filmcolor.fsutil import PARTIAL_MARK, remove_stale_partials
from filmcolor.imageio import IMAGE_EXTENSIONS, read_image, write_image
from filmcolor.video.pipeline import VideoOptions, colorize_video

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv",
                    ".webm")
KEPT_VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov")  # other containers become .mkv, which holds any stream
PERMANENT_ERRORS = (InputError, ConfigError, WeightsError)  # retrying cannot help; the rest may be transient

# (event, record, frames done, frames expected or None); events: queued, frames, retry, done, failed,
# interrupted, skipped. "frames" and "retry" come from worker threads, the rest from the driver.
BatchEvent = Callable[[str, FileRecord, int, "int | None"], None]


@dataclass(frozen=True)
class ModelSpec:
    """How to build the Colorizer; a value (not a model) so Ray workers can build their own."""

    name_or_path: str = "default"
    device: str = "auto"
    runtime: str = "auto"
    render_size: int = DEFAULT_VIDEO_RENDER_SIZE  # one model serves videos and stills alike

    def load(self) -> Colorizer:
        return Colorizer.from_pretrained(self.name_or_path, device=self.device, runtime=self.runtime,
                                         render_size=self.render_size)


@dataclass(frozen=True)
class BatchOptions:
    """What `filmcolor batch` adds to the video options. Times in seconds."""

    patterns: tuple[str, ...] = ()  # globs on the file name or the path under IN_DIR; () = known extensions
    force: bool = False  # redo every file
    overwrite: bool = False  # replace outputs this batch did not write
    retries: int = 1  # extra attempts after a transient error
    retry_delay: float = 2.0
    jobs: int | None = None  # files in flight; None: 1 locally, the cluster's slots on Ray
    watch: bool = False
    poll_interval: float = 10.0
    settle: float = 30.0  # a file is ready once unchanged for this long

    def validate(self) -> None:
        if self.retries < 0:
            raise ConfigError(f"--retries {self.retries}: must not be negative")
        if self.jobs is not None and self.jobs < 1:
            raise ConfigError(f"--jobs {self.jobs}: must be at least 1")
        if self.poll_interval <= 0:
            raise ConfigError(f"--poll-interval {self.poll_interval:g}: must be positive")
        if self.settle < 0:
            raise ConfigError(f"--settle {self.settle:g}: must not be negative")


@dataclass(frozen=True)
class FileJob:
    """One input to colour: absolute paths plus the identity recorded in the manifest."""

    rel: str  # POSIX path under IN_DIR
    source: Path
    output_rel: str  # POSIX path under OUT_DIR
    output: Path
    kind: str  # video | image
    size: int
    mtime_ns: int

    def record(self, status: str, **values: Any) -> FileRecord:
        return FileRecord(path=self.rel, size=self.size, mtime_ns=self.mtime_ns, status=status,
                          output=self.output_rel, kind=self.kind, **values)


@dataclass(frozen=True)
class Found:
    rel: str
    path: Path
    size: int
    mtime_ns: int


# ---- discovery and planning -----------------------------------------------------------------------


def file_kind(path: str | Path) -> str:
    return "image" if Path(path).suffix.lower() in IMAGE_EXTENSIONS else "video"


def output_rel(rel: str) -> str:
    """Mirrored output path: images and .mp4/.mkv/.mov keep their name; other videos become .mkv."""
    pure = PurePosixPath(rel)
    if file_kind(rel) == "image" or pure.suffix.lower() in KEPT_VIDEO_EXTENSIONS:
        return rel
    return str(pure.with_suffix(".mkv"))


def discover(in_dir: Path, patterns: Iterable[str] = (), exclude: Path | None = None) -> list[Found]:
    """Files under ``in_dir`` to colour, sorted; hidden files and folders (and ``exclude``) are skipped."""
    patterns = tuple(patterns)
    wanted = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
    exclude_resolved = exclude.resolve() if exclude is not None else None
    found: list[Found] = []
    for root, dirs, files in os.walk(in_dir):
        root_path = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (exclude_resolved is None or (root_path / d).resolve() != exclude_resolved))
        for name in sorted(files):
            if name.startswith(".") or PARTIAL_MARK in name:
                continue
            path = root_path / name
            rel = path.relative_to(in_dir).as_posix()
            if patterns:
                if not any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in patterns):
                    continue
            elif path.suffix.lower() not in wanted:
                continue
            try:
                st = path.stat()
            except OSError:  # vanished or a dangling link: nothing to colour
                continue
            if not os.path.isfile(path):
                continue
            found.append(Found(rel, path, st.st_size, st.st_mtime_ns))
    return found


def is_finished(record: FileRecord | None, found: Found, out_dir: Path) -> bool:
    """Done before, input unchanged (size and mtime), and the output still there."""
    return (record is not None and record.status == "done" and record.size == found.size
            and record.mtime_ns == found.mtime_ns and (out_dir / record.output).exists())


# ---- doing one file (shared by the local and the Ray executors) -----------------------------------


class Cancelled(BaseException):
    """Raised from the progress callback to stop a file mid-way; its partial output is removed on the way."""


def process_file(job: FileJob, colorizer: Colorizer, video_options: VideoOptions, retries: int = 0,
                 retry_delay: float = 0.0, cancel: threading.Event | None = None,
                 on_event: BatchEvent | None = None) -> FileRecord:
    """Colour one file, retrying transient errors; never raises: the outcome is the returned record."""
    options = dataclasses.replace(video_options, overwrite=True, preview=None)  # the driver checked ownership
    error = ""
    attempt = 0
    for attempt in range(1, retries + 2):
        if cancel is not None and cancel.is_set():
            return job.record("interrupted", attempts=attempt - 1, error="interrupted")
        started = time.perf_counter()
        try:
            job.output.parent.mkdir(parents=True, exist_ok=True)
            if job.kind == "image":
                write_image(job.output, colorizer.colorize_image(read_image(job.source)))
                elapsed = time.perf_counter() - started
                return job.record("done", frames=1, elapsed=round(elapsed, 4), attempts=attempt,
                                  fps=round(1 / elapsed, 3) if elapsed > 0 else 0.0)
            report = colorize_video(job.source, job.output, colorizer, options,
                                    _frame_callback(job, cancel, on_event))
            return job.record("done", frames=report.frames, seconds=round(report.duration, 4),
                              elapsed=round(report.elapsed, 4), fps=round(report.fps, 3),
                              warnings=list(report.warnings), attempts=attempt)
        except (Cancelled, KeyboardInterrupt):
            return job.record("interrupted", attempts=attempt, error="interrupted")
        except PERMANENT_ERRORS as err:
            return job.record("failed", attempts=attempt, error=str(err))
        except Exception as err:  # possibly transient: I/O, out of memory, a flaky network share
            error = str(err) if isinstance(err, FilmcolorError) else f"{type(err).__name__}: {err}"
            if attempt <= retries:
                if on_event is not None:
                    on_event("retry", job.record("running", attempts=attempt, error=error), 0, None)
                if cancel is not None and cancel.wait(retry_delay):
                    return job.record("interrupted", attempts=attempt, error="interrupted")
                if cancel is None:
                    time.sleep(retry_delay)
    return job.record("failed", attempts=attempt, error=error)


def _frame_callback(job: FileJob, cancel: threading.Event | None,
                    on_event: BatchEvent | None) -> Callable[[int, int | None], None]:
    record = job.record("running")

    def progress(done: int, total: int | None) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if on_event is not None:
            on_event("frames", record, done, total)

    return progress


class SharedColorizer:
    """One model serving several files' pipelines: network calls take turns, decode/encode overlap."""

    def __init__(self, colorizer: Colorizer):
        self._colorizer = colorizer
        self._lock = threading.Lock()

    def predict_ab(self, l_nhw: Any) -> Any:
        with self._lock:
            return self._colorizer.predict_ab(l_nhw)

    def colorize_image(self, image: Any) -> Any:
        with self._lock:
            return self._colorizer.colorize_image(image)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._colorizer, name)


# ---- executors ------------------------------------------------------------------------------------


class Executor(Protocol):
    capacity: int  # files in flight at most
    inflight: int

    def submit(self, job: FileJob) -> None: ...

    def collect(self, timeout: float) -> list[FileRecord]: ...

    def cancel(self) -> None: ...

    def shutdown(self) -> None: ...


class ThreadExecutor:
    """``jobs`` worker threads, each running a whole file's pipeline, all sharing one model."""

    def __init__(self, colorizer: Colorizer, video_options: VideoOptions, options: BatchOptions,
                 on_event: BatchEvent | None = None):
        self.capacity = options.jobs or 1
        self.inflight = 0
        self._cancel = threading.Event()
        self._work: queue.Queue[FileJob | None] = queue.Queue()
        self._results: queue.Queue[FileRecord] = queue.Queue()
        model = SharedColorizer(colorizer) if self.capacity > 1 else colorizer

        def work() -> None:
            while (job := self._work.get()) is not None:
                try:
                    record = process_file(job, model, video_options, options.retries,  # type: ignore[arg-type]
                                          options.retry_delay, self._cancel, on_event)
                except BaseException as err:  # process_file does not raise; this is a last resort
                    record = job.record("failed", error=f"{type(err).__name__}: {err}")
                self._results.put(record)

        # daemon threads: a second Ctrl-C must be able to end the process at once
        self._threads = [threading.Thread(target=work, name=f"filmcolor-batch-{i}", daemon=True)
                         for i in range(self.capacity)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: FileJob) -> None:
        self.inflight += 1
        self._work.put(job)

    def collect(self, timeout: float) -> list[FileRecord]:
        out: list[FileRecord] = []
        try:
            out.append(self._results.get(timeout=timeout))
            while True:
                out.append(self._results.get_nowait())
        except queue.Empty:
            pass
        self.inflight -= len(out)
        return out

    def cancel(self) -> None:
        self._cancel.set()

    def shutdown(self) -> None:
        for _ in self._threads:
            self._work.put(None)


# ---- the driver -----------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What one `filmcolor batch` run did; ``to_dict()`` is the --report JSON."""

    in_dir: str
    out_dir: str
    done: list[FileRecord] = field(default_factory=list)
    skipped: list[FileRecord] = field(default_factory=list)
    failed: list[FileRecord] = field(default_factory=list)
    interrupted: list[FileRecord] = field(default_factory=list)
    stale_partials_removed: int = 0
    was_interrupted: bool = False
    elapsed: float = 0.0  # wall seconds

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.done if r.kind == "video")

    @property
    def footage_seconds(self) -> float:
        return sum(r.seconds for r in self.done)

    @property
    def mean_fps(self) -> float:
        """Frames per second of colouring per video, weighted by frames."""
        busy = sum(r.elapsed for r in self.done if r.kind == "video")
        return self.frames / busy if busy > 0 else 0.0

    @property
    def throughput_fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "in_dir": self.in_dir, "out_dir": self.out_dir,
            "counts": {"done": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed),
                       "interrupted": len(self.interrupted)},
            "frames": self.frames, "footage_hours": round(self.footage_seconds / 3600, 6),
            "mean_fps": round(self.mean_fps, 3), "throughput_fps": round(self.throughput_fps, 3),
            "elapsed": round(self.elapsed, 3), "interrupted": self.was_interrupted,
            "stale_partials_removed": self.stale_partials_removed,
            "files": {name: [dataclasses.asdict(r) for r in getattr(self, name)]
                      for name in ("done", "failed", "interrupted", "skipped")},
        }


class BatchRunner:
    """Drives one batch: the only manifest writer. ``run()`` returns when done, stopped or interrupted.

    The first KeyboardInterrupt cancels the files in flight (their partial outputs are removed) and
    waits for them; a second one propagates at once.
    """

    def __init__(self, in_dir: Path, out_dir: Path, executor: Executor, options: BatchOptions | None = None,
                 on_event: BatchEvent | None = None):
        options = options or BatchOptions()
        options.validate()
        self.in_dir, self.out_dir = Path(in_dir), Path(out_dir)
        self.executor = executor
        self.options = options
        self.on_event = on_event
        self.result = BatchResult(str(self.in_dir), str(self.out_dir))
        self._stop = threading.Event()
        self._manifest: Manifest | None = None

    def request_stop(self) -> None:
        """Finish the files in flight, then return (another thread may call this, e.g. to end --watch)."""
        self._stop.set()

    def run(self) -> BatchResult:
        started = time.perf_counter()
        try:
            check_folders(self.in_dir, self.out_dir)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with Manifest(self.out_dir) as manifest:
                self._manifest = manifest
                self.result.stale_partials_removed = remove_stale_partials(self.out_dir)
                if self.options.watch:
                    self._watch()
                else:
                    self._run_jobs(self._plan(self._discover(), count_skipped=True))
        finally:
            self.executor.shutdown()
            self.result.elapsed = time.perf_counter() - started
        return self.result

    def _discover(self) -> list[Found]:
        return discover(self.in_dir, self.options.patterns, exclude=self.out_dir)

    def _plan(self, found: list[Found], count_skipped: bool, skip_failed: bool = False) -> list[FileJob]:
        assert self._manifest is not None
        records = self._manifest.records
        jobs: list[FileJob] = []
        taken: dict[str, str] = {}  # output -> input
        for item in found:
            record = records.get(item.rel)
            if not self.options.force and is_finished(record, item, self.out_dir):
                if count_skipped:
                    self.result.skipped.append(record)  # type: ignore[arg-type]
                    self._emit("skipped", record, 0, None)  # type: ignore[arg-type]
                taken[record.output] = item.rel  # type: ignore[union-attr]
                continue
            if (skip_failed and record is not None and record.status == "failed"
                    and (record.size, record.mtime_ns) == (item.size, item.mtime_ns)):
                continue
            out_rel = output_rel(item.rel)
            if out_rel != item.rel and ((self.in_dir / out_rel).exists() or out_rel in taken):
                out_rel = f"{item.rel}.mkv"  # clip.avi beside clip.mkv: both kept
            taken[out_rel] = item.rel
            job = FileJob(item.rel, item.path, out_rel, self.out_dir / out_rel, file_kind(item.rel),
                          item.size, item.mtime_ns)
            owned = record is not None and record.output == out_rel
            if job.output.exists() and not (owned or self.options.force or self.options.overwrite):
                reason = (f"{job.output}: output exists and was not written by this batch; "
                          "pass --overwrite or --force to replace it")
                self._finish(job.record("failed", error=reason))
                continue
            jobs.append(job)
        return jobs

    def _run_jobs(self, jobs: list[FileJob]) -> None:
        assert self._manifest is not None
        pending = deque(jobs)
        executor = self.executor
        try:
            while pending or executor.inflight:
                while pending and executor.inflight < executor.capacity and not self.result.was_interrupted:
                    job = pending.popleft()
                    record = job.record("running")
                    self._manifest.append(record)  # a kill from here on leaves "running": redone next time
                    self._emit("queued", record, 0, None)
                    executor.submit(job)
                for record in executor.collect(timeout=0.2):
                    self._finish(record)
        except KeyboardInterrupt:
            self.result.was_interrupted = True
            self._stop.set()
            executor.cancel()
            while executor.inflight:  # a second KeyboardInterrupt leaves from here at once
                for record in executor.collect(timeout=0.2):
                    self._finish(record)

    def _finish(self, record: FileRecord) -> None:
        assert self._manifest is not None
        self._manifest.append(record)
        result = self.result
        {"done": result.done, "failed": result.failed}.get(record.status, result.interrupted).append(record)
        self._emit(record.status, record, record.frames, record.frames)

    def _watch(self) -> None:
        """Poll IN_DIR until stopped; a file is taken once unchanged (size, mtime) for ``settle`` seconds."""
        previous: dict[str, tuple[int, int]] | None = None
        first = True
        try:
            while not self._stop.is_set():
                found = self._discover()
                now_ns = time.time_ns()
                ready = [f for f in found
                         if now_ns - f.mtime_ns >= self.options.settle * 1e9
                         and (previous is None or previous.get(f.rel) == (f.size, f.mtime_ns))]
                previous = {f.rel: (f.size, f.mtime_ns) for f in found}
                self._run_jobs(self._plan(ready, count_skipped=first, skip_failed=not first))
                first = False
                if self.result.was_interrupted:
                    return
                self._stop.wait(self.options.poll_interval)
        except KeyboardInterrupt:  # while discovering or waiting: nothing in flight
            self.result.was_interrupted = True

    def _emit(self, event: str, record: FileRecord, done: int, total: int | None) -> None:
        if self.on_event is not None:
            self.on_event(event, record, done, total)


def check_folders(in_dir: Path, out_dir: Path) -> None:
    if not in_dir.exists():
        raise InputError(f"{in_dir}: folder not found")
    if not in_dir.is_dir():
        raise InputError(f"{in_dir}: not a folder (use 'filmcolor video' or 'filmcolor image' for one file)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: output exists and is not a folder")
    if in_dir.resolve() == out_dir.resolve():
        raise ConfigError(f"{out_dir}: the output folder must differ from the input folder")
    if in_dir.resolve().is_relative_to(out_dir.resolve()):
        raise ConfigError(f"{out_dir}: the output folder must not contain the input folder")


def run_local(in_dir: Path, out_dir: Path, colorizer: Colorizer, video_options: VideoOptions | None = None,
              options: BatchOptions | None = None, on_event: BatchEvent | None = None) -> BatchResult:
    """Colour every file under ``in_dir`` into ``out_dir`` on this machine with one loaded model."""
    video_options, options = video_options or VideoOptions(), options or BatchOptions()
    video_options.validate()
    options.validate()
    executor = ThreadExecutor(colorizer, video_options, options, on_event)
    return BatchRunner(in_dir, out_dir, executor, options, on_event).run()
