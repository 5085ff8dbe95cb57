"""A folder of numbered frames (a film scan) is coloured as one film: every frame, in number order, at a rate."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from filmcolor.cli import main
from filmcolor.colorize import Colorizer
from filmcolor.errors import InputError
from filmcolor.options import parse_rate
from filmcolor.video.pipeline import VideoOptions, colorize_video
from filmcolor.video.sequence import find_sequence
from filmcolor.video.temporal import TemporalOptions

FAST = dict(preset="ultrafast", temporal=TemporalOptions(mode="off"))


@pytest.fixture(scope="module")
def colorizer(test_weights: Path) -> Colorizer:
    return Colorizer.from_pretrained(test_weights, device="cpu", render_size=64, runtime="torch")


def scan(folder: Path, numbers: list[int], name: str = "scan_{:04d}.png") -> Path:
    """Frames whose gray level says their number (10 + 15 x number, modulo 250), so order and loss show."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        Image.fromarray(np.full((48, 64), (10 + 15 * n) % 250, np.uint8)).save(folder / name.format(n))
    return folder


def frames_of(path: Path) -> tuple[list[float], list[float], Fraction]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return [float(f.time) for f in frames], [f.to_ndarray(format="gray").mean() for f in frames], \
            c.streams.video[0].average_rate


def test_every_frame_in_number_order_at_the_rate_given(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = scan(tmp_path / "reel", list(range(1, 13)))
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    assert report.frames == 12
    times, levels, rate = frames_of(tmp_path / "out.mkv")
    assert rate == 24 and times == pytest.approx([i / 24 for i in range(12)], abs=1e-3)
    assert np.all(np.diff(levels) > 10)  # frame n+1 after frame n, none lost
    colorize_video(folder, tmp_path / "ntsc.mp4", colorizer, VideoOptions(**FAST, frame_rate=parse_rate("23.976")))
    assert frames_of(tmp_path / "ntsc.mp4")[2] == Fraction(24000, 1001)


def test_unpadded_numbers_keep_number_order_not_name_order(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = scan(tmp_path / "reel", list(range(8, 13)), name="f{}.png")  # f8 .. f12: by name f10 < f8
    (folder / "._f8.png").write_bytes(b"\x00\x05\x16\x07")  # a Mac's AppleDouble file: hidden, left out
    (folder / "notes.txt").write_text("reel 1")
    seq = find_sequence(folder)
    assert (seq.first, seq.count, Path(seq.pattern).name) == (8, 5, "f%d.png")
    colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    assert np.all(np.diff(frames_of(tmp_path / "out.mkv")[1]) > 10)


@pytest.mark.parametrize("make, said", [
    (lambda d: scan(d, [1, 2, 3, 4, 6, 7]), "frame 5 missing (after scan_0004.png)"),
    (lambda d: scan(d, [1, 2, 5, 6, 9]), "frames 3-4 missing (after scan_0002.png) and 1 more gaps"),
    (lambda d: scan(scan(d, [1, 2]), [1], name="other_{:04d}.png"), "holds pictures of more than one name"),
    (lambda d: scan(scan(d, [1, 2]), [3], name="scan_{:06d}.png"),
     "frame numbers padded unevenly (scan_0001.png, scan_000003.png)"),
    (lambda d: scan(scan(d, [8, 9], name="s{:02d}.png"), [10, 11], name="s{:03d}.png"),
     "frame numbers padded unevenly (s08.png, s010.png)"),
    # an audit: the widest frame was named twice, the narrow one never
    (lambda d: scan(scan(d, [1], name="scan_{:06d}.png"), [2], name="scan_{:02d}.png"),
     "frame numbers padded unevenly (scan_02.png, scan_000001.png)"),
    (lambda d: d.mkdir(), "a folder with no frames in it"),
    (lambda d: scan(d, [1], name="cover.png"), "no numbered frames (cover.png)"),
    (lambda d: scan(d, [1, 2], name="f_{:02d}.png") and scan(d, [3], name="f_{:03d}.png"),
     "padded unevenly (f_01.png, f_003.png)"),
    (lambda d: scan(d, [2**31 - 1, 2**31], name="f_{}.png"), "frame number 2147483648 (f_2147483648.png) is past"),
    (lambda d: scan(d, [1, 2, 3]) and (d / "scan_0002.png").write_bytes(b""), "scan_0002.png: empty frame file"),
])
def test_a_folder_that_is_not_one_whole_film_is_refused_saying_why(tmp_path: Path, make, said: str) -> None:
    folder = tmp_path / "reel"
    make(folder)
    with pytest.raises(InputError, match=said.replace("(", r"\(").replace(")", r"\)")):
        find_sequence(folder)


def test_cli_colours_a_folder_and_refuses_a_rate_for_a_file(tmp_path: Path, test_weights) -> None:
    folder = scan(tmp_path / "reel", list(range(0, 6)))
    runner = CliRunner()
    ok = runner.invoke(main, ["video", str(folder), "-o", str(tmp_path / "out.mkv"), "--model", str(test_weights),
                              "--frame-rate", "25", "-q"])
    assert ok.exit_code == 0, ok.output
    assert len(frames_of(tmp_path / "out.mkv")[0]) == 6 and frames_of(tmp_path / "out.mkv")[2] == 25
    bad = runner.invoke(main, ["video", str(tmp_path / "out.mkv"), "-o", str(tmp_path / "again.mkv"),
                               "--model", str(test_weights), "--frame-rate", "25"])
    assert bad.exit_code == 1 and "--frame-rate 25: only for a folder of frames" in bad.output
    gap = scan(tmp_path / "gappy", [1, 3])
    bad = runner.invoke(main, ["video", str(gap), "-o", str(tmp_path / "g.mkv"), "--model", str(test_weights)])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "frame 2 missing" in bad.output


def test_frame_rates_read_as_video_tools_read_them() -> None:
    assert parse_rate("24") == 24 and parse_rate("25") == 25 and parse_rate("12.5") == Fraction(25, 2)
    assert parse_rate("23.976") == parse_rate("24000/1001") == Fraction(24000, 1001)
    assert parse_rate("29.97") == Fraction(30000, 1001)
    with pytest.raises(ValueError, match="is not a frame rate"):
        parse_rate("fast")
    for bad in ("1e400", "100000", "0"):
        with pytest.raises(ValueError, match="a frame rate between 1/100 and 1000"):
            parse_rate(bad)


def test_a_16_bit_dpx_scan_is_read(tmp_path: Path, colorizer: Colorizer) -> None:
    """DPX, what film scanners write: 16-bit RGB frames, encoded here with FFmpeg's own DPX encoder."""
    folder = tmp_path / "reel"
    folder.mkdir()
    for n in range(4):
        ctx = av.CodecContext.create("dpx", "w")
        ctx.width, ctx.height, ctx.pix_fmt = 64, 48, "rgb48le"
        ctx.time_base = Fraction(1, 24)
        level = (10 + 60 * n) * 257
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), level, np.uint16), format="rgb48le")
        (folder / f"A001_{n:07d}.dpx").write_bytes(b"".join(bytes(p) for p in ctx.encode(frame)))
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    times, levels, _ = frames_of(tmp_path / "out.mkv")
    assert report.frames == 4 and len(times) == 4
    assert np.all(np.diff(levels) > 40)  # 60 levels apart in the scan (the added colour moves luma a little)


def test_a_jpeg_2000_scan_is_read_at_its_depth(tmp_path: Path, colorizer: Colorizer) -> None:
    """JPEG 2000 frames, as libraries scan film to: read by FFmpeg's own decoder, in number order, at 16 bits."""
    folder = tmp_path / "reel"
    folder.mkdir()
    for n in range(4):
        assert cv2.imwrite(str(folder / f"r_{n:04d}.jp2"), np.full((48, 64), (10 + 60 * n) * 257 + 3, np.uint16))
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0, codec="ffv1"))
    times, levels, _ = frames_of(tmp_path / "out.mkv")
    assert report.frames == 4 and len(times) == 4 and np.all(np.diff(levels) > 40)
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.streams.video[0].codec_context.pix_fmt.endswith("16le")  # as deep as the scan


@pytest.mark.parametrize("broken", [[3], [6], [5, 6], [7]])
def test_a_broken_frame_file_is_named_and_no_good_frame_is_lost(tmp_path: Path, colorizer: Colorizer,
                                                               broken: list[int]) -> None:
    """The next-to-last file broken: FFmpeg's frame-threaded decoder reports it while draining, and the good
    last frame it still held was lost (before the tail was decoded again on one thread)."""
    folder = scan(tmp_path / "reel", list(range(8)))
    for n in broken:
        data = (folder / f"scan_{n:04d}.png").read_bytes()
        (folder / f"scan_{n:04d}.png").write_bytes(data[: len(data) // 2])
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    times, levels, _ = frames_of(tmp_path / "out.mkv")
    assert report.frames == len(times) == 8  # every frame, each broken one as the one before it
    steps = np.diff(levels)
    assert [i + 1 for i, step in enumerate(steps) if abs(step) < 3] == broken
    assert all(step > 10 for i, step in enumerate(steps) if i + 1 not in broken)
    names = ", ".join(f"scan_{n:04d}.png" for n in broken)
    assert f"{folder}: unreadable frame file(s) {names}, each replaced by the frame before it" in report.warnings


def test_numbering_past_its_padding_a_percent_sign_and_a_16_bit_big_endian_scan(tmp_path: Path,
                                                                               colorizer: Colorizer) -> None:
    folder = scan(tmp_path / "100%", list(range(1, 101)), name="f_{:02d}.png")  # f_01 ... f_99, f_100 (%02d)
    seq = find_sequence(folder)
    assert (Path(seq.pattern).name, seq.first, seq.count) == ("f_%02d.png", 1, 100)
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer,
                            VideoOptions(**FAST, crf=0, start=95 / 24))  # the last 5, through image2 with a '%'
    assert report.frames == 5 and np.all(np.diff(frames_of(tmp_path / "out.mkv")[1]) != 0)
    big_endian = tmp_path / "dpx"
    big_endian.mkdir()
    for n in range(3):
        ctx = av.CodecContext.create("dpx", "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 48, "gray16be", Fraction(1, 24)
        frame = av.VideoFrame.from_ndarray(np.full((48, 64), (40 + 80 * n) * 257, np.uint16), format="gray16le")
        packets = ctx.encode(frame.reformat(format="gray16be"))
        (big_endian / f"r_{n}.dpx").write_bytes(b"".join(bytes(p) for p in packets))
    colorize_video(big_endian, tmp_path / "dpx.mkv", colorizer, VideoOptions(**FAST, crf=0))
    levels = frames_of(tmp_path / "dpx.mkv")[1]
    assert levels == pytest.approx([40, 120, 200], abs=6)  # read in its own byte order (was noise near 127)


def dpx_frame(levels: np.ndarray, pix_fmt: str) -> bytes:
    """One DPX file of these levels: gray16be, or gbrp10le (a 10-bit RGB scan, R = G = B: a neutral one)."""
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = levels.shape[1], levels.shape[0], pix_fmt, Fraction(1, 24)
    if pix_fmt == "gray16be":
        frame = av.VideoFrame.from_ndarray(levels, format="gray16le").reformat(format="gray16be")
    else:
        frame = av.VideoFrame(levels.shape[1], levels.shape[0], pix_fmt)
        for plane in frame.planes:
            np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:levels.shape[0], :levels.shape[1]] \
                = levels
    return b"".join(bytes(p) for p in ctx.encode(frame))


@pytest.mark.parametrize("pix_fmt,bits,out_fmt", [("gray16be", 16, "yuv420p16le"), ("gbrp10le", 10, "yuv420p10le")])
def test_a_deep_scan_written_by_ffv1_keeps_its_levels(tmp_path: Path, colorizer: Colorizer, pix_fmt: str,
                                                     bits: int, out_fmt: str) -> None:
    """Levels 8 bits cannot tell apart stay apart: a 16-bit gray or a 10-bit RGB DPX ramp comes out as luma of
    its own depth (limited range: 16 x 2^(bits-8) + 219 x 2^(bits-8) x level / max), not as 256 steps. The
    RGB scan's luma was up to 3 levels off (sws's gray16)."""
    folder = tmp_path / "reel"
    folder.mkdir()
    top = 2**bits - 1
    ramp = (np.arange(48 * 64, dtype=np.uint32) * 13 % (top + 1)).reshape(48, 64).astype(np.uint16)
    for n in range(3):
        (folder / f"r_{n}.dpx").write_bytes(dpx_frame(np.roll(ramp, n, axis=0), pix_fmt))
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert not [w for w in report.warnings if "bit" in w], report.warnings
    with av.open(str(tmp_path / "out.mkv")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 3 and frames[0].format.name == out_fmt
    scale = 2 ** (bits - 8)
    for n, frame in enumerate(frames):
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:48, :64]
        exact = 16 * scale + 219 * scale * np.roll(ramp, n, axis=0).astype(np.float64) / top
        assert np.abs(y - exact).max() <= 0.51  # rounded
        assert len(np.unique(y)) > min(700, top // 2)  # not 220 steps


def test_a_frame_of_another_size_is_scaled_and_a_lost_first_frame_named(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = scan(tmp_path / "reel", [1, 2, 4, 5])
    Image.fromarray(np.full((60, 80), 10 + 15 * 3, np.uint8)).save(folder / "scan_0003.png")  # 80x60 in 64x48
    report = colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, crf=0))
    times, levels, _ = frames_of(tmp_path / "out.mkv")
    assert len(times) == 5 and np.all(np.diff(levels) > 8)  # its own picture, scaled (it was left-over memory)
    assert any("1 frame(s) of another picture size, from scan_0003.png (80x60; the film is 64x48)" in w
               for w in report.warnings)
    (folder / "scan_0001.png").write_bytes(b"not a picture")
    late = colorize_video(folder, tmp_path / "late.mkv", colorizer, VideoOptions(**FAST))
    assert late.frames == 4
    assert f"{folder}: unreadable frame file(s) scan_0001.png left out: the film starts at scan_0002.png, " \
           "0.042 s in" in late.warnings
    for start in (10, 4.5 / 24):  # past the end; within the last frame's half (the seek rounded to a 6th frame)
        with pytest.raises(InputError, match="no video frames after --start"):
            colorize_video(folder, tmp_path / "none.mkv", colorizer, VideoOptions(**FAST, start=start))
    # --start takes the first frame at or after it, as for a video file (image2's 1/24 s clock rounded it back)
    assert colorize_video(folder, tmp_path / "on.mkv", colorizer, VideoOptions(**FAST, start=1.01 / 24)).frames == 3


def test_on_error_fail_names_the_broken_frame_file(tmp_path: Path, colorizer: Colorizer) -> None:
    folder = scan(tmp_path / "reel", list(range(1, 9)))
    (folder / "scan_0003.png").write_bytes(b"not a picture")
    with pytest.raises(InputError, match=r"reel: unreadable frame file scan_0003\.png \("):
        colorize_video(folder, tmp_path / "out.mkv", colorizer, VideoOptions(**FAST, on_error="fail"))
    assert not (tmp_path / "out.mkv").exists()


def test_deeper_frames_after_an_8_bit_first_one_say_so_and_bit_depth_keeps_them(tmp_path: Path,
                                                                                 colorizer: Colorizer) -> None:
    """A slate scanned at 8 bits before a 16-bit reel (TIFF holds both): the output's depth follows the first
    frame and says so; --bit-depth 16 keeps the reel's levels."""
    folder = tmp_path / "reel"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "r_0.tif"), np.full((48, 64), 128, np.uint8))
    ramp = (np.arange(48 * 64, dtype=np.uint32) * 13 % 65536).reshape(48, 64).astype(np.uint16)
    for n in (1, 2):
        assert cv2.imwrite(str(folder / f"r_{n}.tif"), ramp)
    auto = colorize_video(folder, tmp_path / "auto.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert "16-bit frames from r_1.tif on, after an 8-bit first frame: the output's depth follows the first frame " \
           "unless --bit-depth sets it" in auto.warnings
    kept = colorize_video(folder, tmp_path / "kept.mkv", colorizer, VideoOptions(**FAST, codec="ffv1", bit_depth="16"))
    assert kept.frames == auto.frames == 3
    with av.open(str(tmp_path / "kept.mkv")) as c:
        frames = list(c.decode(video=0))
    assert frames[0].format.name == "yuv420p16le"
    plane = frames[1].planes[0]
    y = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:48, :64]
    assert np.abs(y - (4096 + 56064 * ramp.astype(np.float64) / 65535)).max() <= 0.51  # the reel's own levels


def test_ffv1_keeps_every_level_of_8_bit_frames(tmp_path: Path, colorizer: Colorizer) -> None:
    """An audit: PNG frames (256 levels) into --codec ffv1 came out in 8-bit video range, 220 levels: 14% of the
    pixels could not be mapped back to their level, though the README says FFV1 keeps the luma bit for bit."""
    folder = tmp_path / "reel"
    folder.mkdir()
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16).repeat(4, 0).repeat(4, 1)  # every level, 64x64
    for n in range(3):
        Image.fromarray(np.roll(levels, n, axis=1)).save(folder / f"scan_{n:04d}.png")
    report = colorize_video(folder, tmp_path / "master.mkv", colorizer, VideoOptions(**FAST, codec="ffv1"))
    assert any("written at 10 bits, so that ffv1 keeps each of its 256 levels" in w for w in report.warnings)
    with av.open(str(tmp_path / "master.mkv")) as container:
        for n, frame in enumerate(container.decode(video=0)):
            assert frame.format.name.endswith("10le")
            plane = frame.planes[0]
            y = np.frombuffer(plane, np.uint16).reshape(-1, plane.line_size // 2)[:64, :64]
            back = np.rint((y.astype(np.float64) - 64) * 255 / 876)  # 10-bit video range back to 0-255
            np.testing.assert_array_equal(back, np.roll(levels, n, axis=1))
