"""`filmcolor video`: options, report, and every bad input from a user (exit 1, one line, no debris)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from media import decode_video, make_audio_only, make_clip

from filmcolor.cli import main

FAST = ["--runtime", "torch", "--render-size", "64", "--preset", "ultrafast", "--temporal", "off", "-q"]


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["video", *map(str, args)])
    return result.exit_code, result.stderr


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "in.mp4", audio="aac", frames=8)


def test_cli_writes_video_report_and_preview(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    out, report, preview = tmp_path / "out.mp4", tmp_path / "r.json", tmp_path / "p.png"
    code, err = run(clip, "-o", out, "--model", test_weights, *FAST[:-1], "--report", report,
                    "--preview", preview, "--batch-size", "3", "--crf", "28")
    assert code == 0, err
    assert len(decode_video(out)[0]) == 8 and preview.exists()
    data = json.loads(report.read_text())
    assert data["frames"] == 8 and data["runtime"] == "torch" and data["render_size"] == 64
    assert data["settings"]["crf"] == 28 and data["settings"]["batch_size"] == 3
    assert data["input"] == str(clip) and data["output"] == str(out)
    assert "stage_seconds" in data and "cuts" in data and data["warnings"] == []


def test_cli_no_audio_and_start_timecode(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    out = tmp_path / "out.mkv"
    code, err = run(clip, "-o", out, "--model", test_weights, *FAST, "--no-audio", "--start", "00:00:00.3")
    assert code == 0, err
    import av

    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0
    assert len(decode_video(out)[0]) == 5


def test_cli_temporal_flow_default(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    out, report = tmp_path / "out.mp4", tmp_path / "r.json"
    code, err = run(clip, "-o", out, "--model", test_weights, "--runtime", "torch", "--render-size", "64",
                    "--preset", "ultrafast", "-q", "--report", report)
    assert code == 0, err
    assert json.loads(report.read_text())["settings"]["temporal"]["mode"] == "flow"


def _bad_inputs(tmp: Path, clip: Path) -> dict[str, tuple[list[str | Path], str]]:
    text = tmp / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = tmp / "empty.mp4"
    empty.touch()
    truncated = tmp / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    avi = make_clip(tmp / "cut.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=12)
    cut_avi = tmp / "cut_avi.avi"
    cut_avi.write_bytes(avi.read_bytes()[: avi.stat().st_size // 2])
    avi.unlink()
    existing = tmp / "exists.mp4"
    existing.write_bytes(b"keep me")
    return {
        "not a video": ([text, "-o", tmp / "o1.mp4"], "not a readable video"),
        "audio only": ([make_audio_only(tmp / "sound.m4a"), "-o", tmp / "o2.mp4"], "no video stream"),
        "zero bytes": ([empty, "-o", tmp / "o3.mp4"], "empty"),
        "truncated mp4": ([truncated, "-o", tmp / "o4.mp4"], "not a readable video"),
        "truncated avi": ([cut_avi, "-o", tmp / "o5.mp4"], "truncated"),
        "missing input": ([tmp / "nope.mp4", "-o", tmp / "o6.mp4"], "not found"),
        "output is input": ([clip, "-o", clip], "same file as the input"),
        "no such folder": ([clip, "-o", tmp / "missing" / "o.mp4"], "does not exist"),
        "output exists": ([clip, "-o", existing], "--overwrite"),
        "unknown container": ([clip, "-o", tmp / "o.xyz"], "cannot write"),
        "unknown codec": ([clip, "-o", tmp / "o7.mp4", "--codec", "nosuchcodec"], "not an encoder"),
    }


BAD = ["not a video", "audio only", "zero bytes", "truncated mp4", "truncated avi", "missing input",
       "output is input", "no such folder", "output exists", "unknown container", "unknown codec"]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_1_and_leaves_nothing(tmp_path: Path, clip: Path, test_weights: Path,
                                                         case: str) -> None:
    args, expected = _bad_inputs(tmp_path, clip)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    clip_bytes = clip.read_bytes()
    code, err = run(*args, "--model", test_weights, *FAST)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind
    assert clip.read_bytes() == clip_bytes  # the input untouched
    assert (tmp_path / "exists.mp4").read_bytes() == b"keep me"


def test_bad_time_is_a_usage_error(tmp_path: Path, clip: Path) -> None:
    code, err = run(clip, "-o", tmp_path / "o.mp4", "--start", "ten")
    assert code == 2 and "--start" in err
