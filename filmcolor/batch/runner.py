"""Colour a folder tree into a mirrored tree, resumably: discover -> plan against the manifest -> run.

The driver (``BatchRunner``) is the only manifest writer. It hands files to an executor: local
threads sharing one model (``ThreadExecutor``) or Ray tasks (``filmcolor.batch.ray_runner``), and
records each result as it comes back. Both executors run the same ``worker.process_file``, so the
outputs and the manifest are the same whichever does the work.

Crash safety: outputs are written under a hidden partial name and renamed when complete
(``fsutil.atomic_output``); a killed run leaves partials, removed at the next start; a file whose last
record is not ``done`` (or whose input changed, or whose output vanished) is redone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from filmcolor.batch.manifest import MANIFEST_NAME, FileRecord, Manifest
from filmcolor.batch.plan import (
    FRAME_FOLDERS,
    KEPT_VIDEO_EXTENSIONS,
    FileJob,
    Found,
    discover,
    files_in,
    identity,
    is_film_folder,
    plan,
)
from filmcolor.batch.worker import BatchEvent, process_file
from filmcolor.colorize import Colorizer
from filmcolor.errors import ConfigError, InputError, OutputError, described
from filmcolor.fsutil import (
    check_output_path,
    make_output_folder,
    remove_stale_partials,
    same_file,
    write_bytes_atomic,
)
from filmcolor.options import Options, flag_of, option
from filmcolor.video.pipeline import VideoOptions
from filmcolor.video.writer import check_encoder, holding_suffixes

WATCH_ONLY = ("poll_interval", "settle")  # BatchOptions' fields that only --watch reads


@dataclass(frozen=True)
class BatchOptions(Options):
    """What `filmcolor batch` adds to the video options. Times in seconds."""

    patterns: tuple[str, ...] = option((), "Only files whose name or path under IN_DIR matches (repeatable), "
                                       "e.g. 'cam1/*.avi', in any case ('*.mov' takes A001.MOV).",
                                       flag="--pattern", metavar="GLOB",
                                       default_text="known video and image extensions")
    frame_folders: str = option("auto", "What a folder of numbered frames is: film (coloured as one video, with "
                                "its motion, into FOLDER.mkv; --frame-rate sets its speed) or photos (each frame "
                                "alone; a scan's DPX, Cineon or OpenEXR frames, no photos, are left alone with a "
                                "note). auto: film for DPX, Cineon and OpenEXR scans, photos for other pictures "
                                "(a camera numbers its photos too).", choices=FRAME_FOLDERS)
    force: bool = option(False, "Redo every file, even those done before and unchanged, and replace outputs "
                         "this batch did not write (--overwrite's part).")
    overwrite: bool = option(False, "Replace outputs that this batch did not write, and colour into an output "
                             "folder that holds another input folder's batch (that folder moved or renamed: "
                             "what is done and unchanged is still skipped).")
    retries: int = option(1, "Extra attempts for a file after a transient error (I/O, out of memory); corrupt "
                          "files are not retried.", at_least=0)
    retry_delay: float = 2.0
    jobs: int | None = option(None, "Files in flight at once; locally they share one model while their decoding "
                              "and encoding overlap.", at_least=1,
                              default_text="1; with --ray, every slot of the cluster")
    watch: bool = option(False, "Keep polling IN_DIR and colour new files once they stop growing; Ctrl-C to "
                         "stop.")
    poll_interval: float = option(10.0, "With --watch: seconds between scans of IN_DIR.", above=0,
                                  metavar="SECONDS")
    settle: float = option(30.0, "With --watch: a file is taken once unchanged for this long (by its date, or "
                           "by this machine's clock for a file dated ahead of it).", at_least=0, metavar="SECONDS")
    report: Path | None = option(None, "Write a JSON report: counts, frames, hours of footage, fps, and every "
                                 "file's record.", metavar="FILE.json")

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.report, str):  # (a str from Python was an AttributeError at the report's writing)
            object.__setattr__(self, "report", Path(self.report))
        if not self.watch:  # (an audit: `--settle 5` without --watch was taken and did nothing)
            for f in dataclasses.fields(self):
                if f.name in WATCH_ONLY and getattr(self, f.name) != f.default:
                    raise ConfigError(f"{flag_of(f)} takes effect with --watch only; add --watch or leave it out")


# ---- executors: who colours the files (the Ray one is in ray_runner.py) ----------------------------


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
                    record = job.record("failed", error=described(err))
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
        """Stop the workers; wait for them when none is colouring a file, so that none holds the model at exit.

        A worker thread still holding the last reference to the model at exit frees torch's tensors on a thread
        Python is tearing down: exit 134 ("terminate called without an active exception") in 5 of 28
        `filmcolor batch` runs reported, 1 of 20 measured here, before this joined. With files still in flight
        (a second Ctrl-C, an error in the driver) it does not wait: the caller is leaving at once.
        """
        for _ in self._threads:
            self._work.put(None)
        if self.inflight == 0:
            for thread in self._threads:
                thread.join()
            self._threads = []


class SharedColorizer:
    """One model serving several files' pipelines: network calls take turns, decode/encode overlap."""

    def __init__(self, colorizer: Colorizer, lock: threading.Lock | None = None):
        self._colorizer = colorizer
        self._lock = lock or threading.Lock()
        self._photos: SharedColorizer | None = None

    def for_photos(self) -> SharedColorizer:
        """The photo render size's colouriser, taking turns with this one (the same lock: one network)."""
        photos = self._colorizer.for_photos()
        if photos is self._colorizer:
            return self
        if self._photos is None:
            self._photos = SharedColorizer(photos, self._lock)
        return self._photos

    def predict_ab(self, l_nhw: Any) -> Any:
        with self._lock:
            return self._colorizer.predict_ab(l_nhw)

    def colorize_image(self, image: Any) -> Any:
        with self._lock:
            return self._colorizer.colorize_image(image)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._colorizer, name)


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
    passed_over: dict[str, str] = field(default_factory=dict)  # folder -> why it was left alone (plan.discover)
    stale_partials_removed: int = 0
    was_interrupted: bool = False
    elapsed: float = 0.0  # wall seconds
    started: str = ""  # local time, ISO 8601 to the second
    finished: str | None = None  # None while the batch runs (a report left so was of a run killed mid-way)
    report_error: str = ""  # why the --report could not be written at the end (the work itself is done)
    error: str = ""  # why the batch was refused at its start (the report says so too)

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
            "elapsed": round(self.elapsed, 3), "started": self.started, "finished": self.finished,
            **({"error": self.error} if self.error else {}),
            "interrupted": self.was_interrupted,
            "stale_partials_removed": self.stale_partials_removed, "passed_over": self.passed_over,
            "files": {name: [dataclasses.asdict(r) for r in getattr(self, name)]
                      for name in ("done", "failed", "interrupted", "skipped")},
        }


class BatchRunner:
    """Drives one batch: the only manifest writer. ``run(executor)`` returns when done, stopped or interrupted.

    The folders and the report path are checked when the runner is made, before any executor starts.
    The first KeyboardInterrupt cancels the files in flight (their partial outputs are removed) and
    waits for them; a second one propagates at once.
    """

    def __init__(self, in_dir: Path, out_dir: Path, options: BatchOptions = BatchOptions(),
                 on_event: BatchEvent | None = None, video_options: VideoOptions = VideoOptions()):
        self.in_dir, self.out_dir = Path(in_dir), Path(out_dir)
        check_folders(self.in_dir, self.out_dir, options.frame_folders)
        # the encoder's settings, once for all (they failed each video), and the containers that hold it: a
        # .mov or .mp4 that cannot (--codec ffv1, VP9, AV1) is written as .mkv, as other containers are
        holding = holding_suffixes(check_encoder(video_options))  # (each suffix tried once: an encoder opens)
        self.kept = tuple(suffix for suffix in KEPT_VIDEO_EXTENSIONS if suffix in holding)
        if options.report is not None:
            check_report_path(options.report, self.in_dir, self.out_dir)
        self.options = options
        self.on_event = on_event
        self.result = BatchResult(str(self.in_dir), str(self.out_dir))
        self._stop = threading.Event()
        self._finished: set[str] = set()  # paths with an outcome in the result (see _finish)
        self._manifest: Manifest | None = None
        self._reported = time.monotonic()

    def request_stop(self) -> None:
        """Finish the files in flight, then return (another thread may call this, e.g. to end --watch)."""
        self._stop.set()

    def run(self, executor: Executor) -> BatchResult:
        started = time.perf_counter()
        self.result.started = _now()
        try:
            make_output_folder(self.out_dir)
            with Manifest(self.out_dir, source=str(self.in_dir.resolve())) as manifest:
                self._manifest = manifest
                try:
                    self._check_source(manifest)
                except OutputError as err:  # (the night before's report was left, finished: a review)
                    self.result.error, self.result.finished = str(err), _now()
                    if self.options.report is not None:
                        self._write_report()
                    raise
                if self.options.report is not None:  # "finished": null until the end: a kill leaves it so
                    self._write_report()
                self.result.stale_partials_removed = remove_stale_partials(self.out_dir)
                try:
                    if self.options.watch:
                        self._watch(executor)
                    else:
                        self._plan_and_run(executor, self._discover(), first=True)
                except KeyboardInterrupt:  # outside the files' loop (a callback's, on a skipped file): the
                    if self.result.was_interrupted:  # same stop as within it (it left "finished": null); a
                        raise  # second one, while the files in flight wind down, leaves at once (a review)
                    self.result.was_interrupted = True
        except BaseException:
            executor.cancel()  # a second Ctrl-C, or an error here: files in flight stop at their next frame
            raise
        finally:
            executor.shutdown()
            self.result.elapsed = time.perf_counter() - started
        self.result.finished = _now()
        if self.options.report is not None:
            try:
                self._write_report()
            except OutputError as err:  # the files are coloured: the summary still comes, then this
                self.result.report_error = str(err)
        return self.result

    def _check_source(self, manifest: Manifest) -> None:
        """Refuse an OUT_DIR that holds another folder's batch: its records are keyed by paths under that folder,
        and day2/cam1.mp4 replaced day1/cam1.mp4's colouring (or, of the same size and time, was skipped).

        The records are this batch's when their folder is this one by another path (a bind mount), or, when
        it is gone (a disk mounted elsewhere) or unrecorded (a manifest from before folders were kept), when
        the files they record are here as recorded; they are taken over, and said. --overwrite takes any."""
        others = [s for s in manifest.other_sources() if not same_file(s, self.in_dir)]
        unrecorded = [r for r in manifest.records.values() if not r.source]
        if not others and not unrecorded:
            return self._adopt(manifest)
        gone = all(not os.path.exists(s) for s in others)
        theirs = [r for r in manifest.records.values() if r.source != manifest.source]
        if gone and _records_match(theirs, self.in_dir):
            if others:
                self.result.passed_over[""] = (f"{self.out_dir}: the colouring of {others[0]}, which is not "
                                               f"there; its files are here, as recorded: taken over for {self.in_dir}")
            return self._adopt(manifest)
        if self.options.overwrite or self.options.force:
            return self._adopt(manifest)
        where = (f"another folder ({others[0]}{', not there now' if gone else ''})" if others
                 else "another folder (its records, from before filmcolor kept the folder's name, match no file here)")
        raise OutputError(f"{self.out_dir}: holds the colouring of {where}; give {self.in_dir} an output folder "
                          "of its own, or pass --overwrite to colour into it anyway")

    @staticmethod
    def _adopt(manifest: Manifest) -> None:
        for record in [r for r in manifest.records.values() if r.source != manifest.source]:
            manifest.append(dataclasses.replace(record))  # this batch's from now on (append stamps it)

    def _write_report(self) -> None:
        assert self.options.report is not None
        write_bytes_atomic(self.options.report, json.dumps(self.result.to_dict(), indent=2).encode() + b"\n")
        self._reported = time.monotonic()

    def _report_progress(self) -> None:
        """The report rewritten as files finish, every REPORT_EVERY_S at most (it said 0 done all night, then
        a kill left it so; a review); a write that fails here waits for the last."""
        if self.options.report is not None and time.monotonic() - self._reported >= REPORT_EVERY_S:
            with contextlib.suppress(OutputError):
                self._write_report()

    def _discover(self) -> list[Found]:
        assert self._manifest is not None
        if str(self.in_dir.resolve()) != self._manifest.source:  # a link repointed under --watch (today -> ...)
            raise InputError(f"{self.in_dir}: now leads to {self.in_dir.resolve()}, not to {self._manifest.source} "
                             "as when the batch started; start a batch of its own for it")
        return discover(self.in_dir, self.options.patterns, exclude=self.out_dir,
                        frame_folders=self.options.frame_folders, passed_over=self.result.passed_over)

    def _plan_and_run(self, executor: Executor, found: list[Found], first: bool) -> None:
        """Plan ``found`` and colour it; on a later --watch scan, what failed before is left alone."""
        assert self._manifest is not None
        todo = plan(found, self._manifest.records, self.in_dir, self.out_dir, force=self.options.force,
                    overwrite=self.options.overwrite, skip_failed=not first, kept=self.kept)
        if first:
            for record in todo.skipped:
                self.result.skipped.append(record)
                self._emit("skipped", record, 0, None)
        for record in todo.upgraded:
            self._manifest.append(record)
        for record in todo.refused:
            self._finish(record)
        self._run_jobs(executor, todo.jobs)

    def _run_jobs(self, executor: Executor, jobs: list[FileJob]) -> None:
        assert self._manifest is not None
        pending = deque(jobs)
        try:
            while pending or executor.inflight:
                while pending and executor.inflight < executor.capacity and not self.result.was_interrupted:
                    job = pending.popleft()
                    record = job.record("running")
                    self._manifest.append(record)  # a kill from here on leaves "running": redone next time
                    self._emit("queued", record, 0, None)
                    executor.submit(job)
                records = executor.collect(timeout=0.2)
                for record in records:
                    self._finish(record)
                if any(r.status == "interrupted" for r in records):  # a KeyboardInterrupt in a worker (a progress
                    raise KeyboardInterrupt  # callback's): the batch stops, as for Ctrl-C (it went on; an audit)
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
        if record.path in self._finished:  # one outcome a file, its latest: under --watch a file that failed
            # (taken while still growing) and was then done was reported failed too, exit 1 (an audit)
            for earlier in (result.done, result.failed, result.interrupted):
                earlier[:] = [r for r in earlier if r.path != record.path]
        self._finished.add(record.path)
        {"done": result.done, "failed": result.failed}.get(record.status, result.interrupted).append(record)
        self._emit(record.status, record, record.frames, record.frames)
        self._report_progress()

    def _watch(self, executor: Executor) -> None:
        """Poll IN_DIR until stopped; a file is taken once it has settled (``Settling``)."""
        settling = Settling(self.options.settle)
        first = True
        try:
            while not self._stop.is_set():
                ready = settling.ready(self._discover(), time.time_ns())
                self._plan_and_run(executor, ready, first)
                first = False
                if self.result.was_interrupted:
                    return
                self._stop.wait(self.options.poll_interval)
        except KeyboardInterrupt:  # while discovering or waiting: nothing in flight
            self.result.was_interrupted = True

    def _emit(self, event: str, record: FileRecord, done: int, total: int | None) -> None:
        if self.on_event is not None:
            self.on_event(event, record, done, total)


REPORT_EVERY_S = 10.0  # seconds between the --report's rewrites while files finish
RECORDS_CHECKED = 20  # done records looked up when a manifest's folder is unknown or gone


def _records_match(records: Iterable[FileRecord], in_dir: Path) -> bool:
    """Whether the files of (up to RECORDS_CHECKED) done records are under ``in_dir`` as recorded, size and
    time: most of them, and at least one (no done record: nothing coloured to keep)."""
    done = [r for r in records if r.status == "done" and r.output][:RECORDS_CHECKED]
    if not done:
        return True
    found = 0
    for record in done:
        try:
            size, mtime_ns, _ = identity(in_dir / record.path, film=bool(record.digest))
        except OSError:
            continue
        found += (size, mtime_ns) == (record.size, record.mtime_ns)
    return found > 0 and 2 * found >= len(done)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Settling:
    """Which files a --watch scan may take: those unchanged (size, time, sound file, a film's frames) since the
    scan before, and either dated ``settle`` seconds back or seen unchanged for ``settle`` seconds by this
    machine's clock. The second holds for a file dated in the future (a recorder's clock ahead, a share's
    clock skew), which would never grow old enough; on the first scan, a file dated long ago is taken at
    once."""

    def __init__(self, settle_s: float):
        self.settle_ns = settle_s * 1e9
        self._seen: dict[str, tuple[tuple, int]] | None = None  # rel -> (its state, since when), ns

    def ready(self, found: list[Found], now_ns: int) -> list[Found]:
        seen, taken = {}, []
        for f in found:
            state = (f.size, f.mtime_ns, f.sound_id, f.digest)
            before = None if self._seen is None else self._seen.get(f.rel)
            same = before is not None and before[0] == state
            since = before[1] if same else now_ns  # type: ignore[index]
            seen[f.rel] = (state, since)
            unchanged = self._seen is None or same
            if unchanged and (now_ns - f.latest_ns >= self.settle_ns or now_ns - since >= self.settle_ns):
                taken.append(f)
        self._seen = seen
        return taken


def check_folders(in_dir: Path, out_dir: Path, frame_folders: str = "auto") -> None:
    if not in_dir.exists():
        raise InputError(f"{in_dir}: folder not found")
    if not in_dir.is_dir():
        raise InputError(f"{in_dir}: not a folder (use 'filmcolor video' or 'filmcolor image' for one file)")
    if is_film_folder(files_in(in_dir), frame_folders):
        raise InputError(f"{in_dir}: is itself a film's frames (a folder of a scan); colour it with 'filmcolor "
                         f"video {in_dir} -o FILM.mkv', or give batch the folder that holds such folders")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: output exists and is not a folder")
    if in_dir.resolve() == out_dir.resolve() or same_file(in_dir, out_dir):  # (a bind mount, a case
        # variant on a case-blind disk: its paths differ, and --overwrite deleted the input photos; an audit)
        raise ConfigError(f"{out_dir}: the output folder must differ from the input folder")
    if in_dir.resolve().is_relative_to(out_dir.resolve()) or any(same_file(above, out_dir)
                                                                  for above in Path(in_dir).resolve().parents):
        raise ConfigError(f"{out_dir}: the output folder must not contain the input folder")
    if (in_dir / MANIFEST_NAME).exists():  # (coloured again, into the footage's folder; a review)
        raise ConfigError(f"{in_dir}: is a batch's output folder (it holds {MANIFEST_NAME}), not footage; are "
                          "IN_DIR and -o the wrong way round?")


def check_report_path(report: Path, in_dir: Path, out_dir: Path) -> None:
    """The report's folder must exist, or be OUT_DIR (the run makes it); every run replaces the report, so it
    must not be under IN_DIR (but for an OUT_DIR inside it), where it could replace a file to be coloured, nor
    in OUT_DIR but as a .json file (an audit: it replaced a coloured photo, or the manifest, exit 0)."""
    where = report.resolve()
    if where.is_relative_to(in_dir.resolve()) and not where.is_relative_to(out_dir.resolve()):
        raise OutputError(f"{report}: the report must not be written inside the input folder {in_dir}")
    if where.is_relative_to(out_dir.resolve()) and report.suffix.lower() != ".json":
        raise OutputError(f"{report}: a report inside the output folder must be a .json file (it could replace "
                          "a coloured file, or the batch's manifest)")
    if report.parent.resolve() == out_dir.resolve() and not out_dir.exists():
        return
    check_output_path(report, overwrite=True)


def run_local(in_dir: Path, out_dir: Path, colorizer: Colorizer, video_options: VideoOptions = VideoOptions(),
              options: BatchOptions = BatchOptions(), on_event: BatchEvent | None = None) -> BatchResult:
    """Colour every file under ``in_dir`` into ``out_dir`` on this machine with one loaded model.

    A KeyboardInterrupt (Ctrl-C, or raised by ``on_event``) stops the batch as BatchRunner says: the files in
    flight are cancelled and recorded "interrupted", and the result's ``was_interrupted`` is set."""
    runner = BatchRunner(in_dir, out_dir, options, on_event, video_options)
    return runner.run(ThreadExecutor(colorizer, video_options, options, on_event))
