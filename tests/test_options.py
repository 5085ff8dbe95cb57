"""Options declared once: the option dataclasses are the CLI's options, defaults and limits."""

from __future__ import annotations

import dataclasses
import re

import click
import pytest
from click.testing import CliRunner

from filmcolor.batch.runner import BatchOptions
from filmcolor.cli import build_options, dataclass_options, main
from filmcolor.errors import ConfigError
from filmcolor.options import ModelSpec, Options, flag_of, option, option_fields, parse_time
from filmcolor.video.pipeline import VideoOptions
from filmcolor.video.temporal import TemporalOptions


def parse(command: str, *args: str) -> dict:
    """The values click gives the command for these arguments (nothing runs)."""
    cmd = main.get_command(click.Context(main), command)
    return dict(cmd.make_context(command, list(args)).params)


def flags_of(*classes: type) -> list[str]:
    out = []
    for cls in classes:
        for f, spec in option_fields(cls):
            out += [flag_of(f), *(alias for alias, _, _ in spec.aliases)]
    return out


def help_flags(command: str) -> list[str]:
    text = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
    return re.findall(r"^  (?:-\w, )?(--[\w-]+)", text, flags=re.M)  # the option column, not wrapped help


@pytest.mark.parametrize("text,seconds", [("90", 90.0), ("1.5", 1.5), ("01:30", 90.0), ("00:10:00.5", 600.5),
                                          ("1:02:03", 3723.0)])
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["ten", "-1", "1:2:3:4", ""])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time"):
        parse_time(text)


def test_every_field_is_an_option_once() -> None:
    video = flags_of(ModelSpec, VideoOptions, TemporalOptions)
    assert sorted(video) == sorted(f for f in help_flags("video") if f not in
                                   ("--output", "--preview", "--report", "--overwrite", "--quiet", "--help"))
    # a film's own keyframes, references and sound (batch takes a reel's sound file from its folder; its
    # --frame-rate applies to its folders of frames)
    per_film = ("--keyframe", "--reference", "--sound")
    batch = [f for f in flags_of(ModelSpec, VideoOptions, TemporalOptions, BatchOptions) if f not in per_film]
    assert sorted(batch) == sorted(f for f in help_flags("batch") if f not in
                                   ("--output", "--ray", "--quiet", "--help"))


def test_defaults_are_the_dataclasses() -> None:
    values = parse("video", "in.mp4", "-o", "out.mp4")
    assert build_options(ModelSpec, values) == ModelSpec()
    assert build_options(VideoOptions, values) == VideoOptions()
    values = parse("batch", "in", "-o", "out")
    assert build_options(ModelSpec, values) == ModelSpec()
    assert build_options(VideoOptions, values) == VideoOptions()
    assert build_options(BatchOptions, values) == BatchOptions()


def test_values_reach_the_right_fields() -> None:
    values = parse("batch", "in", "-o", "out", "--no-audio", "--start", "01:30", "--crf", "23",
                   "--temporal", "ema", "--temporal-strength", "0.5", "--pattern", "*.avi", "--pattern", "cam1/*",
                   "--render-size", "192", "--jobs", "2")
    assert build_options(ModelSpec, values).render_size == 192
    video = build_options(VideoOptions, values)
    assert (video.audio, video.start, video.crf) == ("none", 90.0, 23)
    assert video.temporal == TemporalOptions(mode="ema", strength=0.5)
    assert build_options(BatchOptions, values) == BatchOptions(patterns=("*.avi", "cam1/*"), jobs=2)


@pytest.mark.parametrize("args,message", [(["--batch-size", "0"], "must be at least 1"),
                                          (["--duration", "0"], "must be positive"),
                                          (["--temporal-strength", "1.5"], "must be between 0 and 1"),
                                          (["--cut-threshold", "1"], "must be above 1"),
                                          (["--cut-threshold", "nan"], "nan: must be a finite number"),
                                          (["--temporal-strength", "nan"], "nan: must be a finite number"),
                                          (["--crf", "100"], "must be between 0 and 63"),
                                          (["--preset", "banana"], "'banana' is not auto, a number"),
                                          (["--on-error", "skip"], "'skip' is not one of")])
def test_out_of_range_is_bad_input(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["video", "in.mp4", "-o", "out.mp4", *args], prog_name="filmcolor")
    assert result.exit_code == 1 and args[0] in result.stderr and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Usage:" not in result.stderr  # one line, not click's block
    assert result.stderr.rstrip().endswith("(see 'filmcolor video --help')")


@pytest.mark.parametrize("args,message,where", [
    (["video", "in.mp4", "--bogus"], "No such option '--bogus'", "filmcolor video"),
    (["image", "in.png", "--hints"], "Option '--hints' requires an argument", "filmcolor image"),
    (["video"], "Missing argument 'INPUT'", "filmcolor video"),
    (["colour", "in.mp4"], "No such command 'colour'", "filmcolor"),
    (["--bogus"], "No such option '--bogus'", "filmcolor"),
])
def test_a_mistyped_command_is_one_line(args: list[str], message: str, where: str) -> None:
    result = CliRunner().invoke(main, args, prog_name="filmcolor")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and result.stderr.rstrip().endswith(f"(see '{where} --help')")


@pytest.mark.parametrize("args", [["eval-video", "out.mp4", "--cut-threshold", "nan"],
                                  ["batch", "in", "-o", "out", "--watch", "--settle", "nan"],
                                  ["studio", "--port", "70000"]])
def test_numbers_outside_the_options_own_limits_are_worded_alike(args: list[str]) -> None:
    """An audit: NaN passed every one-sided limit (--cut-threshold nan coloured, --settle nan never settled),
    and eval, eval-video and studio worded their limits in click's own way."""
    result = CliRunner().invoke(main, args, prog_name="filmcolor")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert re.search(r": (nan: must be a finite number|70000: must be between 0 and 65535) \(see", result.stderr)


def test_an_alias_against_its_own_option_is_refused() -> None:
    """An audit: `--audio reencode --no-audio` dropped the sound without a word (the alias won)."""
    result = CliRunner().invoke(main, ["video", "in.mp4", "-o", "out.mp4", "--audio", "reencode", "--no-audio"],
                                prog_name="filmcolor")
    assert result.exit_code == 1 and result.stderr == "error: --no-audio with --audio reencode: give one or the " \
                                                      "other\n", result.stderr
    values = {"audio": "none", "no_audio": True}  # the same thing said twice is no conflict
    assert build_options(VideoOptions, values).audio == "none"


@pytest.mark.parametrize("args,message", [
    (["batch", "in", "-o", "out", "--settle", "5"], "error: --settle takes effect with --watch only; add --watch or "
                                                    "leave it out"),
    (["batch", "in", "-o", "out", "--poll-interval", "2"], "error: --poll-interval takes effect with --watch only"),
    (["eval", "photos", "--hints-seed", "3"], "error: --hints-seed 3 takes effect with --hints N only")])
def test_an_option_that_would_do_nothing_is_said(args: list[str], message: str) -> None:
    """An audit: `batch --settle 5` without --watch and `eval --hints-seed 3` without --hints were taken and did
    nothing."""
    result = CliRunner().invoke(main, args, prog_name="filmcolor")
    assert result.exit_code == 1 and result.stderr.startswith(message) and result.stderr.count("\n") == 1, \
        result.stderr


def test_no_command_still_shows_the_help() -> None:
    result = CliRunner().invoke(main, [])
    assert "Commands:" in result.output and "video" in result.output


@pytest.mark.parametrize("cls,changes,message", [
    (VideoOptions, {"batch_size": 0}, "--batch-size 0: must be at least 1"),
    (VideoOptions, {"start": -1.0}, "--start -1: must not be negative"),
    (VideoOptions, {"audio": "mp3"}, "--audio mp3: expected one of copy, reencode, none"),
    (TemporalOptions, {"strength": 2.0}, "--temporal-strength 2: must be between 0 and 1"),
    (BatchOptions, {"poll_interval": 0.0}, "--poll-interval 0: must be positive"),
    (ModelSpec, {"runtime": "tensorrt"}, "--runtime tensorrt: expected one of auto, torch, onnx"),
])
def test_the_library_checks_the_same_limits(cls: type, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        cls(**changes)
    assert str(info.value) == message


def test_a_new_option_is_one_field() -> None:
    """What adding an option takes: a field. The CLI option, its default, help and limits follow."""

    @dataclasses.dataclass(frozen=True)
    class Probe(Options):
        max_fps: float | None = option(None, "Drop frames above this rate.", above=0)

    @click.command()
    @dataclass_options(Probe)
    def probe(**values) -> None:
        click.echo(repr(build_options(Probe, values)))

    runner = CliRunner()
    assert "--max-fps FLOAT  Drop frames above this rate." in runner.invoke(probe, ["--help"]).output
    assert runner.invoke(probe, ["--max-fps", "12.5"]).output.strip().endswith("Probe(max_fps=12.5)")
    assert runner.invoke(probe, []).output.strip().endswith("Probe(max_fps=None)")
    refused = runner.invoke(probe, ["--max-fps", "0"])
    assert refused.exit_code == 2 and "must be positive" in refused.output
    with pytest.raises(ConfigError, match="--max-fps 0: must be positive"):
        Probe(max_fps=0.0)
