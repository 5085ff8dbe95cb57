"""`filmcolor batch`: colour whole folders into a mirrored tree, resumably, locally or on Ray."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from filmcolor.batch.manifest import MANIFEST_NAME, FileRecord
from filmcolor.batch.runner import BatchOptions, BatchResult, run_local
from filmcolor.cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    build_options,
    console,
    dataclass_options,
    error_line,
    guarded,
    plain,
)
from filmcolor.options import ModelSpec
from filmcolor.video.pipeline import VideoOptions

_FAILED_SHOWN = 20


@click.command("batch", short_help="Colour every film, photo and scan under a folder, resumably.")
@click.argument("in_dir", metavar="IN_DIR", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path), metavar="OUT_DIR",
              help="Output folder: IN_DIR's tree is mirrored here (photos and .mp4/.mkv/.mov keep their names, "
                   "a .mov or .mp4 while it holds the --codec; other videos become NAME.mkv, a folder of a film's "
                   "frames FOLDER.mkv), with the manifest "
                   f"({MANIFEST_NAME}) that makes reruns resume.")
@dataclass_options(ModelSpec, VideoOptions, BatchOptions, exclude=("keyframes", "references", "sound"))  # per film
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run one Ray task per file: --ray alone starts Ray here; --ray=auto joins this machine's "
                   "cluster; --ray=ray://HEAD:10001 a remote one, --ray=HEAD:6379 one this machine is a node of "
                   "(IN_DIR and OUT_DIR on shared storage).")
@click.option("-q", "--quiet", is_flag=True,
              help="Print failures, notes (files left out, and why) and the summary only.")
@guarded
def batch_command(in_dir: Path, out_dir: Path, ray_address: str | None, quiet: bool, **values: Any) -> None:
    """Colour every video, photo and film scan (a folder of a film's DPX frames) under IN_DIR into OUT_DIR,
    resumably.

    A film scan's one sound file in its folder is its soundtrack, as is a sound file named as a video file
    that has no sound of its own (reel2.mov beside reel2.wav).

    Takes every 'filmcolor video' option that is not about one file. Reruns skip files already done
    whose input has not changed (same size and modification time, as rsync and make judge it) and whose
    output is still there, and redo the rest (interrupted, failed, changed, output deleted; --force: all);
    a file that fails is recorded with its reason and the batch goes on. Exit code 0 only when nothing
    failed. Ctrl-C stops cleanly (partial outputs removed); a second Ctrl-C stops at once; SIGTERM acts as
    Ctrl-C.

    \b
    Examples:
      filmcolor batch reels/ -o reels_color/
      filmcolor batch /cctv -o /cctv_color --pattern '*.mp4' --jobs 2 --report night.json
      filmcolor batch /cctv -o /cctv_color --watch --settle 60
      filmcolor batch /nfs/archive -o /nfs/archive_color --ray=auto

    \b
    Overnight, surviving logout:   mkdir -p /out && nohup filmcolor batch /cctv -o /out \\
                                     --report /out/report.json -q > /out/batch.log 2>&1 &
    Morning:                       jq '.finished, .counts, .files.failed' /out/report.json
    Under systemd, run the same command as a service (Restart=on-abnormal, SuccessExitStatus=130):
    a restart after a crash resumes where it stopped (exit 1, some files failed, is not one to restart).
    """
    spec, video_options, options = (build_options(cls, values) for cls in (ModelSpec, VideoOptions, BatchOptions))
    with _BatchDisplay(quiet) as display:
        if ray_address is not None:
            from filmcolor.batch.ray_runner import run_ray

            run = functools.partial(run_ray, in_dir, out_dir, spec, video_options, options, ray_address)
        else:
            run = functools.partial(run_local, in_dir, out_dir, spec.load(), video_options, options)
        try:
            result = run(on_event=display.on_event)
        except KeyboardInterrupt:  # the second Ctrl-C: files in flight are abandoned where they stand
            error_line("stopped at once; partial outputs are removed by the next run of the same command")
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)  # worker threads are inside FFmpeg / the model: do not wait for them
    console.print(summary_table(result, watched=options.watch))
    for line in result.passed_over.values():  # not failures: the exit code stays; said even with -q
        console.print(f"[yellow]note[/] {plain(line)}", soft_wrap=True)
    if result.failed:
        for record in result.failed[:_FAILED_SHOWN]:
            console.print(f"[red]failed[/] {plain(record.path)}: {plain(str(record.error))}", soft_wrap=True)
        if len(result.failed) > _FAILED_SHOWN:
            more = len(result.failed) - _FAILED_SHOWN
            console.print(f"... and {more} more (see --report or {MANIFEST_NAME})")
    if result.report_error:
        error_line(result.report_error)
    if result.was_interrupted:
        console.print("[yellow]interrupted[/]: partial outputs removed; run the same command to resume")
        raise SystemExit(EXIT_INTERRUPTED)
    if result.failed or result.report_error:
        raise SystemExit(EXIT_FAILURE)


def summary_table(result: BatchResult, watched: bool = False) -> Table:
    table = Table(title=f"filmcolor batch: {plain(result.in_dir)} -> {plain(result.out_dir)}", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("[green]done[/]", str(len(result.done)))
    warned = sum(1 for record in result.done if record.warnings)
    if warned:
        table.add_row("[yellow]done, with warnings[/]", f"{warned} (see --report or {MANIFEST_NAME})")
    table.add_row("skipped (done before)", str(len(result.skipped)))
    table.add_row("[red]failed[/]" if result.failed else "failed", str(len(result.failed)))
    if result.interrupted:
        table.add_row("[yellow]interrupted[/]", str(len(result.interrupted)))
    table.add_row("frames", f"{result.frames:,}")
    table.add_row("hours of footage", f"{result.footage_seconds / 3600:.3f}")
    table.add_row("mean fps (per file)", f"{result.mean_fps:.1f}")
    # (under --watch the wall time is mostly waiting for files: its 0.2 fps said nothing; an audit)
    table.add_row("throughput (all files, waiting included)" if watched else "throughput (all files)",
                  f"{result.throughput_fps:.1f} fps")
    table.add_row("wall time", f"{result.elapsed:.1f} s")
    return table


class _BatchDisplay:
    """Rich progress: a line per file in flight (frames, fps) and one line per finished file."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[fps]}"), console=console,
                                 transient=True, disable=quiet or not console.is_terminal)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _BatchDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def on_event(self, event: str, record: FileRecord, done: int, total: int | None) -> None:
        if event == "queued":
            self.tasks[record.path] = self.progress.add_task(plain(record.path), total=None, fps="")
        elif event == "frames" and record.path in self.tasks:
            task = self.tasks[record.path]
            speed = next((t.speed for t in self.progress.tasks if t.id == task), None)
            self.progress.update(task, completed=done, total=max(total, done) if total else None,
                                 fps=f"{speed:5.1f} fps" if speed else "")
        elif event == "retry" and not self.quiet:
            self.progress.console.print(f"[yellow]retry[/] {plain(record.path)}: {plain(str(record.error))}",
                                        soft_wrap=True)
        elif event in ("done", "failed", "interrupted"):
            task = self.tasks.pop(record.path, None)
            if task is not None:
                self.progress.remove_task(task)
            if event == "done" and not self.quiet:
                what = f"{record.frames} frames, {record.fps:.1f} fps" if record.kind == "video" else "image"
                made = f"-> {plain(record.output)} ({what})" if record.output else "(nothing to colour)"
                self.progress.console.print(f"[green]ok[/] {plain(record.path)} {made}", soft_wrap=True)
                for line in record.warnings:  # the file's own notes: a dropped stream, a profile converted
                    self.progress.console.print(f"  [yellow]warning:[/] {plain(line)}", soft_wrap=True)
            elif event == "failed" and not self.quiet:
                self.progress.console.print(f"[red]failed[/] {plain(record.path)}: {plain(str(record.error))}",
                                            soft_wrap=True)


COMMANDS = [batch_command]
