"""`filmcolor demo`, the README's first run: its output lines, and the three files it promises."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from media import audio_packets, decode_video

from filmcolor import lab
from filmcolor.cli import main
from filmcolor.demo import DEMO_FPS, DEMO_PHOTOS, DEMO_SIZE, SECONDS_PER_PHOTO
from filmcolor.imageio import read_image

README = Path(__file__).resolve().parents[1] / "README.md"
COLOURED = 8.0  # Lab units of mean chroma; the shipped model gives the demo clip about 24


def readme_first_run() -> list[str]:
    """The output lines of the README's `$ filmcolor demo` block, as regular expressions (any fps)."""
    block = README.read_text().split("$ filmcolor demo\n", 1)[1].split("```", 1)[0]
    return [re.sub(r"[0-9]+\\\.[0-9]+(?=\\ fps)", r"[0-9]+\\.[0-9]", re.escape(line))
            for line in block.strip().splitlines()]


def mean_chroma(rgb_frames: list[np.ndarray]) -> float:
    return float(np.mean([np.hypot(*lab.rgb_to_lab(f)[..., 1:].transpose(2, 0, 1)).mean() for f in rgb_frames]))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`filmcolor demo` exactly as the README runs it (default model, runtime and folder), once."""
    cwd = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    return cwd / "filmcolor-demo", result.stderr


@pytest.mark.slow
def test_demo_prints_the_readme_lines(demo_run: tuple[Path, str]) -> None:
    _, stderr = demo_run
    lines = stderr.strip().splitlines()
    expected = readme_first_run()
    assert len(lines) == len(expected) == 3
    for line, pattern in zip(lines, expected, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)


@pytest.mark.slow
def test_demo_colours_the_clip_and_keeps_frames_size_and_sound(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    times_in, frames_in, size_in = decode_video(out / "demo_gray.mp4")
    times_out, frames_out, size_out = decode_video(out / "demo_color.mp4")
    frames = len(DEMO_PHOTOS) * round(SECONDS_PER_PHOTO * DEMO_FPS)
    assert len(frames_in) == len(frames_out) == frames and size_in == size_out == DEMO_SIZE
    assert times_out == pytest.approx(times_in, abs=1e-4)
    assert audio_packets(out / "demo_color.mp4") == audio_packets(out / "demo_gray.mp4")  # stream-copied
    assert mean_chroma(frames_in[::12]) < 1.0  # gray in ...
    assert mean_chroma(frames_out[::12]) > COLOURED  # ... colour out


@pytest.mark.slow
def test_demo_preview_is_before_and_after(demo_run: tuple[Path, str]) -> None:
    out, _ = demo_run
    preview = read_image(out / "demo_preview.png")
    half = preview.shape[1] // 2
    before, after = preview[:, :half], preview[:, half:]
    assert mean_chroma([before]) < 1.0 and mean_chroma([after]) > COLOURED


@pytest.mark.slow
def test_demo_keeps_earlier_files_without_overwrite(demo_run: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = demo_run
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert result.exit_code == 1 and "--overwrite" in result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_a_bad_device_is_said_before_the_clip_is_made(tmp_path: Path) -> None:
    """An audit: `demo --device bogus` made the gray clip first (seconds), then said the error."""
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "d"), "--device", "bogus"])
    assert result.exit_code == 1 and "--device bogus" in result.stderr, result.stderr
    assert not (tmp_path / "d").exists() and "made " not in result.stderr
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "demo_gray.mp4").write_bytes(b"an earlier clip")
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "e")])
    assert result.exit_code == 1 and "demo_gray.mp4: output exists" in result.stderr
    assert (tmp_path / "e" / "demo_gray.mp4").read_bytes() == b"an earlier clip"


def test_demo_files_are_never_written_through_a_link_or_left_half(tmp_path: Path, monkeypatch) -> None:
    """An audit: demo opened OUT/demo_gray.mp4 as it was: a link to nothing made a file where it led (outside
    OUT, exit 0), --overwrite wrote over the file a link led to, a folder at demo_color.mp4 was found only
    after the clip was made, and Ctrl-C left a half clip under its final name."""
    import filmcolor.cli.demo as demo_cli

    out = tmp_path / "d"
    out.mkdir()
    (out / "demo_gray.mp4").symlink_to(tmp_path / "elsewhere.mp4")
    result = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert result.exit_code == 1 and "a link to a file that is not there" in result.stderr, result.stderr
    assert not (tmp_path / "elsewhere.mp4").exists()
    (out / "demo_gray.mp4").unlink()
    (tmp_path / "precious.txt").write_text("mine")
    (out / "demo_gray.mp4").symlink_to(tmp_path / "precious.txt")
    (out / "demo_color.mp4").mkdir()
    result = CliRunner().invoke(main, ["demo", "-o", str(out), "--overwrite"])
    assert result.exit_code == 1 and "demo_color.mp4: output is a folder" in result.stderr, result.stderr
    (out / "demo_color.mp4").rmdir()

    def interrupted(path: Path, *args) -> int:
        path.write_bytes(b"half a clip")
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_cli, "write_demo_clip", interrupted)
    result = CliRunner().invoke(main, ["demo", "-o", str(out), "--overwrite"])
    assert result.exit_code != 0
    assert (tmp_path / "precious.txt").read_text() == "mine"  # the link's file untouched
    assert sorted(p.name for p in out.iterdir()) == ["demo_gray.mp4"] and (out / "demo_gray.mp4").is_symlink()
