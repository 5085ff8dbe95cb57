"""Colouring one file of a batch, the same on a local thread and in a Ray task: retries, cancel, one record."""

from __future__ import annotations

import dataclasses
import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import av

from filmcolor.batch.manifest import FileRecord
from filmcolor.batch.plan import FileJob, identity, sound_identity
from filmcolor.colorize import Colorizer
from filmcolor.errors import (
    ConfigError,
    FilmcolorError,
    InputError,
    NoPictureError,
    OutputError,
    WeightsError,
    described,
)
from filmcolor.fsutil import check_output_path, make_output_folder, same_file
from filmcolor.imageio import read_image, write_image
from filmcolor.photometa import read_metadata
from filmcolor.video.pipeline import VideoOptions, colorize_video
from filmcolor.video.sound import sound_problem

PERMANENT_ERRORS = (InputError, ConfigError, WeightsError)  # retrying cannot help; the rest may be transient
# what a file system says the same again: a permission, a read-only disk, a name too long, a file as a folder
REFUSALS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.EEXIST, errno.ENOTDIR)

# (event, record, frames done, frames expected or None); events: queued, frames, retry, done, failed,
# interrupted, skipped. "frames" and "retry" come from worker threads, the rest from the driver.
BatchEvent = Callable[[str, FileRecord, int, "int | None"], None]


class Cancelled(BaseException):
    """Raised from the progress callback to stop a file mid-way; its partial output is removed on the way."""


def process_file(job: FileJob, colorizer: Colorizer, video_options: VideoOptions, retries: int = 0,
                 retry_delay: float = 0.0, cancel: threading.Event | None = None,
                 on_event: BatchEvent | None = None) -> FileRecord:
    """Colour one file, retrying transient errors; never raises: the outcome is the returned record.

    The output is overwritten: the driver decided that this batch may write it.
    """
    error = ""
    attempt = 0
    for attempt in range(1, retries + 2):
        if cancel is not None and cancel.is_set():
            return job.record("interrupted", attempts=attempt - 1, error="interrupted")
        started = time.perf_counter()
        read = job.path.resolve()  # the file this attempt reads, whatever a link on the way leads to later
        if _changed(job):
            return job.record("failed", attempts=attempt - 1,
                              error=f"{job.path}: still being written (size or time changed since it was found); "
                                    "not coloured, run the batch again once it is complete")
        try:
            make_output_folder(job.output.parent)
            if job.kind == "image":
                check_output_path(job.output, [job.path], overwrite=True)  # (as colorize_video checks a film's)
                notes: list[str] = []
                photo = read_image(job.path, notes, deep=True)
                notes += write_image(job.output, colorizer.for_photos().colorize_image(photo), read_metadata(job.path))
                elapsed = time.perf_counter() - started
                done = job.record("done", frames=1, elapsed=round(elapsed, 4), attempts=attempt,
                                  fps=round(1 / elapsed, 3) if elapsed > 0 else 0.0, warnings=notes)
            else:  # --frame-rate is for folders of frames (a video file keeps its own timing)
                sound, notes = job.sound if video_options.audio != "none" else None, [job.note] if job.note else []
                problem = sound_problem(sound, video_options.start) if sound is not None else ""
                if problem:  # a sound file found beside the picture, not one asked for: the picture is still done
                    notes.append(f"{sound.name} not taken as the soundtrack: {problem.removeprefix(f'{sound}: ')}")
                    sound = None
                options = dataclasses.replace(video_options, frame_rate=video_options.frame_rate if job.film else None,
                                              sound=sound)
                report = colorize_video(job.path, job.output, colorizer, options,
                                        _frame_callback(job, cancel, on_event), overwrite=True)
                done = job.record("done", frames=report.frames, seconds=round(report.duration, 4),
                                  elapsed=round(report.elapsed, 4), fps=round(report.fps, 3),
                                  warnings=list(report.warnings) + notes, attempts=attempt)
            # coloured from a file still being written: the output may lack its end. The file read is checked,
            # not the path: a watched folder's link repointed meanwhile (today -> w2) took w1's finished film
            # for a changed one, and removed it (a flaky test)
            if _changed(job, read):
                if not same_file(job.output, job.path):  # (never the input itself, however reached)
                    job.output.unlink(missing_ok=True)
                return job.record("failed", attempts=attempt,
                                  error=f"{job.path}: changed while it was being coloured (still being written?); "
                                        "output removed, run the batch again once it is complete")
            return done
        except (Cancelled, KeyboardInterrupt):
            return job.record("interrupted", attempts=attempt, error="interrupted")
        except NoPictureError as err:  # a sound file under a video's name (an audio export): nothing to colour, and
            # nothing wrong with it; done, with no output and a note, so that reruns pass it by. An output made
            # of an earlier input of that name is this batch's (the plan lets it write there): it goes
            _remove_output(job)
            return job.record("done", attempts=attempt, output="", warnings=[
                f"{str(err).removeprefix(f'{job.path}: ')}: nothing to colour, no output written"])
        except Exception as err:  # possibly transient: I/O, out of memory, a flaky network share
            if _permanent(err):
                return job.record("failed", attempts=attempt, error=str(err))
            error = str(err) if isinstance(err, FilmcolorError) else described(err)
            if attempt <= retries:
                if on_event is not None:
                    on_event("retry", job.record("running", attempts=attempt, error=error), 0, None)
                if cancel is not None and cancel.wait(retry_delay):
                    return job.record("interrupted", attempts=attempt, error="interrupted")
                if cancel is None:
                    time.sleep(retry_delay)
    return job.record("failed", attempts=attempt, error=error)


def _permanent(err: Exception) -> bool:
    """Whether retrying cannot help: bad input or settings, or an output path refused for what it is (the
    input itself, a folder; not one that failed while being written: a full disk, a share gone)."""
    if isinstance(err, PERMANENT_ERRORS):
        return True
    if isinstance(err, OutputError) and isinstance(err.__cause__, OSError) and err.__cause__.errno in REFUSALS:
        return True
    return isinstance(err, OutputError) and not isinstance(err.__cause__, OSError | av.FFmpegError)


def _remove_output(job: FileJob) -> None:
    """Remove ``job``'s output, and the folders made for it that are left empty."""
    job.output.unlink(missing_ok=True)
    folder = job.output.parent
    for _ in PurePosixPath(job.output_rel).parent.parts:
        try:
            folder.rmdir()  # only when empty
        except OSError:
            return
        folder = folder.parent


def _changed(job: FileJob, path: Path | None = None) -> bool:
    """Whether the input's identity (size and modification time; a film folder's: plan.identity) differs from
    when the batch found it; ``path``: the input as reached then (job.path resolved)."""
    try:
        return (identity(path or job.path, job.film) != (job.size, job.mtime_ns, job.digest)
                or (job.sound_id is not None and sound_identity(job.sound) != job.sound_id))
    except OSError:
        return False  # gone: reading it says so


def _frame_callback(job: FileJob, cancel: threading.Event | None,
                    on_event: BatchEvent | None) -> Callable[[int, int | None], None]:
    record = job.record("running")

    def progress(done: int, total: int | None) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if on_event is not None:
            on_event("frames", record, done, total)

    return progress
