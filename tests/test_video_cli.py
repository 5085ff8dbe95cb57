"""`filmcolor video`: options, report, and every bad input from a user (exit 1, one line, no debris)."""

from __future__ import annotations

import contextlib
import errno
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from media import (
    audio_packets,
    decode_video,
    garbage_packet,
    gray_frame,
    make_audio_only,
    make_clip,
    remux,
    video_packet_times,
)
from PIL import Image

from filmcolor.cli import main
from filmcolor.fsutil import PARTIAL_MARK

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


def test_the_report_says_the_render_size_the_network_saw(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    """An audit: --render-size 70 was said as 70 on the 'ok' line and in the report, where the network saw 64
    (the nearest multiple of 32)."""
    out, report = tmp_path / "out.mp4", tmp_path / "r.json"
    code, err = run(clip, "-o", out, "--model", test_weights, *FAST[:-1], "--render-size", "70", "--report", report)
    data = json.loads(report.read_text())
    assert code == 0 and data["render_size"] == 64 == min(data["network_shape"]), (err, data)
    assert "render size 64)" in err


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
    photo = tmp / "photo.mp4"  # a JPEG under a video's name: FFmpeg reads it as a film of one frame
    assert cv2.imwrite(str(tmp / "photo.jpg"), np.full((48, 64), 128, np.uint8))
    (tmp / "photo.jpg").rename(photo)
    avif = tmp / "still.mp4"  # an AVIF still (ISO BMFF, as MP4 is) named as a film: coloured as one frame, exit 0
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(avif, format="AVIF")
    return {
        "not a video": ([text, "-o", tmp / "o1.mp4"], "not a readable video"),
        "audio only": ([make_audio_only(tmp / "sound.m4a"), "-o", tmp / "o2.mp4"], "no video stream"),
        "zero bytes": ([empty, "-o", tmp / "o3.mp4"], "empty"),
        "truncated mp4": ([truncated, "-o", tmp / "o4.mp4"], "not a readable video"),
        "truncated avi": ([cut_avi, "-o", tmp / "o5.mp4"], "truncated"),
        "missing input": ([tmp / "nope.mp4", "-o", tmp / "o6.mp4"], "not found"),
        "output is input": ([clip, "-o", clip], "same file as the input"),
        "a file as its folder": ([clip, "-o", tmp / "exists.mp4" / "o.mp4"], "exists.mp4 is a file, not a folder"),
        # a new folder is made for the output, and taken away again when the film fails (nothing left behind)
        "a new folder, then a bad film": ([cut_avi, "-o", tmp / "new" / "deeper" / "o.mp4"], "truncated"),
        "output exists": ([clip, "-o", existing], "--overwrite"),
        "output is a folder": ([clip, "-o", tmp], "output is a folder"),  # said at once, with no --overwrite
        "unknown container": ([clip, "-o", tmp / "o.xyz"], "cannot write"),
        "unknown codec": ([clip, "-o", tmp / "o7.mp4", "--codec", "nosuchcodec"], "not an encoder"),
        "a device": ([Path("/dev/zero"), "-o", tmp / "o8.mp4"], "not a regular file"),
        "report onto the output": ([clip, "-o", tmp / "o9.mp4", "--report", tmp / "o9.mp4"],
                                   "the same file as the video's output"),
        # an audit: the preview was written, then replaced by the report's JSON, exit 0
        "report onto the preview": ([clip, "-o", tmp / "o12.mp4", "--preview", tmp / "same.png", "--report",
                                     tmp / "same.png"], "same.png: the same file as the preview"),
        "a photo": ([photo, "-o", tmp / "o10.mp4"], "photo.mp4: a JPEG picture, not a video; colour it with "
                                                    "'filmcolor image'"),
        "an AVIF picture": ([avif, "-o", tmp / "o11.mp4"], "still.mp4: an AVIF picture, not a video"),
        # an audit: "cannot hold libx264" for a sound file's name, "try --codec png" for an .mp3's, and
        # "cannot encode a 64x48 frame" for GIF's palettes
        "a sound file's name": ([clip, "-o", tmp / "o13.wav"], ".wav files hold no video; give the video a video "
                                                               "file name"),
        "an mp3's name": ([clip, "-o", tmp / "o14.mp3"], ".mp3 files hold no video"),
        "a palette codec": ([clip, "-o", tmp / "o15.gif", "--codec", "gif"], "--codec gif takes none of the pixel "
                                                                             "formats filmcolor writes"),
    }


BAD = ["not a video", "audio only", "zero bytes", "truncated mp4", "truncated avi", "missing input",
       "output is input", "a file as its folder", "a new folder, then a bad film",
       "output exists", "output is a folder", "unknown container",
       "unknown codec", "a device", "report onto the output", "report onto the preview", "a photo",
       "an AVIF picture", "a sound file's name", "an mp3's name", "a palette codec"]


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


def test_an_outputs_new_folder_is_made(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    """An audit: `video -o new/out.mp4` was refused ("output folder new does not exist") where `image` and
    `batch` made theirs: a file output's missing folders are made when it is written."""
    code, err = run(clip, "-o", tmp_path / "new" / "deeper" / "o.mp4", "--report", tmp_path / "r" / "r.json",
                    "--model", test_weights, *FAST)
    assert code == 0, err
    assert (tmp_path / "new" / "deeper" / "o.mp4").is_file() and (tmp_path / "r" / "r.json").is_file()


def test_a_number_preset_is_for_svtav1_only(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    code, err = run(clip, "-o", tmp_path / "o.mp4", "--model", test_weights, "--preset", "5")
    assert code == 1 and "--preset 5: a number is for libsvtav1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.mp4").exists()


def test_bad_time_is_bad_input(tmp_path: Path, clip: Path) -> None:
    code, err = run(clip, "-o", tmp_path / "o.mp4", "--start", "ten")
    assert code == 1 and "--start" in err


def _output_timeline(path: Path) -> tuple[list[float], list[int]]:
    """(frame times decoded from ``path``, its video packets' dts in file order); decoding errors raise."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        dts = [p.dts for p in container.demux(stream) if p.size]
    with av.open(str(path)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(container.streams.video[0])]
    return times, dts


def test_corrupt_h264_mid_stream_keeps_every_frame_at_its_time(tmp_path: Path, test_weights: Path) -> None:
    """Issue 14: two undecodable packets mid-film gave pts 1.04, 1.28, 1.280078, ... and exit 0."""
    src = make_clip(tmp_path / "clip.mp4", frames=30, audio="aac", fps=25)
    lost = (12, 13)  # in decode order
    bad = remux(src, tmp_path / "bad.mp4", lambda n, p: garbage_packet(p, n) if n in lost else p)
    out, report = tmp_path / "out.mp4", tmp_path / "report.json"
    code, err = run(bad, "-o", out, "--report", report, "--model", test_weights, *FAST[:-1])
    assert code == 0, err
    times, dts = _output_timeline(out)
    assert times == pytest.approx(video_packet_times(src))  # every frame at its own timestamp, none squeezed
    assert (np.diff(dts) > 0).all()  # what "non monotonically increasing dts" complained of
    assert audio_packets(out) == audio_packets(src)  # the sound untouched, so in sync
    warnings = json.loads(report.read_text())["warnings"]
    assert any("repaired at 0.48-0.52 s" in w for w in warnings), warnings
    assert not any("nudged" in w for w in warnings)
    assert any(line.startswith("warning: corrupt video repaired at 0.48-0.52 s") for line in err.splitlines()), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "clip.mp4", "out.mp4", "report.json"]


FUZZ_FPS, FUZZ_FRAMES = 25, 40
FRAME_S = 1 / FUZZ_FPS
STRICT = {"err_detect": "crccheck+bitstream+buffer+explode"}  # fail on damage the decoder would conceal


def _fuzz_clips(tmp: Path) -> dict[str, Path]:
    """The same bytes on every run, so that a seed names one case: x264's assembly made a slightly different
    stream each time here (asm=0 does not), and Matroska writes random UIDs unless bitexact."""
    mp4 = make_clip(tmp / "c.mp4", frames=FUZZ_FRAMES, fps=FUZZ_FPS, audio="aac",
                    codec_options={"x264-params": "asm=0"})
    mkv = tmp / "c.mkv"
    with av.open(str(mp4)) as inp, av.open(str(mkv), "w", container_options={"fflags": "+bitexact"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    avi = make_clip(tmp / "c.avi", frames=FUZZ_FRAMES, fps=FUZZ_FPS, codec="mjpeg", pix_fmt="yuvj420p",
                    audio="pcm_s16le")
    return {"mp4": mp4, "mkv": mkv, "avi": avi}


def _decode_strictly(path: Path) -> list[tuple[float, np.ndarray]]:
    """(seconds, luma) of every video frame of ``path``, decoded as strictly as `ffmpeg -v error -xerror`.

    One decoder thread with err_detect=...+explode, so that damage raises instead of being concealed; a
    frame flagged corrupt, or any message FFmpeg logs at error level, fails too.
    """
    with _no_errors_logged(path), av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = STRICT
        stream.codec_context.thread_count = 1
        frames = []
        for frame in container.decode(stream):
            assert not frame.is_corrupt, f"{path}: corrupt frame at pts {frame.pts}"
            frames.append((float(frame.pts * frame.time_base), frame.to_ndarray(format="gray")))
    return frames


@contextlib.contextmanager
def _no_errors_logged(path: Path) -> Iterator[None]:
    """Fails when FFmpeg logs anything at error level inside the block (repeated messages included)."""
    level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as logs:
            yield
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(skip)
    errors = [log for log in logs if log[0] <= av.logging.ERROR]
    assert not errors, (path, errors)


def _audio_times(path: Path, decodable: bool = False) -> list[tuple[float, bytes]]:
    """(pts in seconds, bytes) of the first audio stream's packets that have a pts, as far as ``path`` demuxes.

    ``decodable``: without the packets its decoder rejects once it has decoded one (what the tool copies).
    """
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            return []
        packets, decoded = [], False
        try:
            for packet in container.demux(container.streams.audio[0]):
                if not packet.size:
                    continue
                if decodable:
                    try:
                        packet.decode()
                        decoded = True
                    except av.FFmpegError:
                        if decoded:
                            continue
                if packet.pts is not None:
                    packets.append((float(packet.pts * packet.time_base), bytes(packet)))
        except av.FFmpegError:
            pass  # damaged: the packets before the damage are what a reader gets
        return packets


def _decode_audio_strictly(path: Path) -> int:
    """Decode the first audio stream of ``path`` as `ffmpeg -v error -xerror` would; the frames decoded."""
    with _no_errors_logged(path), av.open(str(path)) as container:
        stream = container.streams.audio[0]
        stream.codec_context.options = STRICT
        return sum(1 for _ in container.decode(stream))


def _picture(gray: np.ndarray, pictures: np.ndarray) -> int | None:
    """Which of the clip's pictures (media.gray_frame) ``gray`` shows; None when none matches clearly
    (garbage decoded from damaged data). Colouring keeps the luma: a match is ~25 apart, a neighbour >50."""
    err = ((pictures - gray.astype(np.float32)) ** 2).mean(axis=(1, 2))
    best, second = np.partition(err, 1)[:2]
    return int(err.argmin()) if best < 80 and second > 1.5 * best else None


def _recorded(clean: Path) -> tuple[np.ndarray, list[float], dict[bytes, list[float]]]:
    """What the ``clean`` clip holds: its pictures (media.gray_frame), the time of each, the times of each
    audio packet's bytes."""
    shown = _decode_strictly(clean)
    pictures = np.stack([gray_frame(k, *shown[0][1].shape).astype(np.float32) for k in range(FUZZ_FRAMES)])
    assert [_picture(gray, pictures) for _, gray in shown] == list(range(FUZZ_FRAMES))
    sound: dict[bytes, list[float]] = {}
    for t, data in _audio_times(clean):
        sound.setdefault(data, []).append(t)
    assert len(sound) > 60  # the clip has sound
    return pictures, [t for t, _ in shown], sound


def _sync_pairs(frames: list[tuple[float, np.ndarray]], audio: list[tuple[float, bytes]],
                recorded: tuple[np.ndarray, list[float], dict[bytes, list[float]]]) -> list[tuple[float, ...]]:
    """(output time, video lag, audio lag); a lag is the output time minus the content's time in the clean clip.

    Video: each frame that shows a picture later than any shown before (a repeat, or an older picture that
    damaged data decoded to, says nothing about timing). Audio: each packet with the bytes of one of the
    clean clip's, within one frame of that video frame.
    """
    pictures, picture_times, sound = recorded
    audio_lags = [(t, t - min(sound[data], key=lambda r: abs(r - t))) for t, data in audio if data in sound]
    pairs, newest = [], -1
    for t, gray in frames:
        k = _picture(gray, pictures)
        if k is None or k <= newest:
            continue
        newest = k
        pairs += [(t, t - picture_times[k], lag) for ta, lag in audio_lags if abs(ta - t) <= FRAME_S]
    return pairs


@pytest.mark.slow
def test_seeded_corruptions_exit_0_with_a_valid_file_or_1_with_one_line(tmp_path: Path,
                                                                        test_weights: Path) -> None:
    """The issue's fuzz: a few dozen damaged MP4, MKV and MJPEG/AVI clips (with sound) through the whole command.

    Exit 0 must give a valid timeline (pts increasing, no step under half a frame, a strict decode) with the
    sound in sync within one frame: the input's audio packets unchanged and at their own times, and what is
    heard at any moment recorded within one frame of what is seen then.
    """
    clips = _fuzz_clips(tmp_path)
    outcomes, synced = {0: 0, 1: 0}, 0
    for fmt, clip in clips.items():
        recorded = _recorded(clip)
        for seed in range(12):
            rng = np.random.default_rng(seed)
            data = bytearray(clip.read_bytes())
            size = len(data)
            if seed % 3 == 0:  # 2 KB of noise
                at = int(rng.integers(size // 10, size - 2100))
                data[at:at + 2048] = rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
            elif seed % 3 == 1:  # 20 flipped bytes
                for at in rng.integers(size // 10, size, 20):
                    data[at] ^= int(rng.integers(1, 256))
            else:  # cut short
                data = data[: int(rng.integers(size // 10, size))]
            case = tmp_path / f"{fmt}{seed}"
            case.mkdir()
            src, out = case / f"in.{fmt}", case / "out.mkv"
            src.write_bytes(bytes(data))
            code, err = run(src, "-o", out, "--model", test_weights, *FAST)
            assert code in (0, 1) and "Traceback" not in err, (fmt, seed, err)
            outcomes[code] += 1
            if code == 1:
                lines = err.strip().splitlines()
                assert len(lines) == 1 and lines[0].startswith("error:") and str(src) in lines[0], err
                assert sorted(p.name for p in case.iterdir()) == [src.name]  # nothing left behind
                continue
            assert sorted(p.name for p in case.iterdir()) == [src.name, out.name]
            frames = _decode_strictly(out)
            times = [t for t, _ in frames]
            _, dts = _output_timeline(out)
            assert (np.diff(dts) > 0).all(), (fmt, seed)
            assert times and (np.diff(times) >= 0.5 * FRAME_S - 1e-6).all(), (fmt, seed, times)
            # The sound is copied: every packet of the input's that decodes, unchanged, in order, all moved
            # alike (the muxer may shift the whole file, e.g. by AAC's 21 ms priming, which Matroska cannot
            # start before); damaged ones are left out, so the output's sound decodes strictly too.
            audio, given = _audio_times(out), _audio_times(src, decodable=True)
            assert [d for _, d in audio] == [d for _, d in given], (fmt, seed, len(audio), len(given))
            assert not audio or _decode_audio_strictly(out) > 0
            shifts = [t - t_in for (t, _), (t_in, _) in zip(audio, given, strict=True)]
            assert not shifts or max(shifts) - min(shifts) <= 0.002, (fmt, seed, shifts)
            # In sync: what is seen and what is heard at the same moment were recorded within one frame.
            pairs = _sync_pairs(frames, audio, recorded)
            assert pairs, (fmt, seed, "no moment with both a known picture and known sound")
            t, video_lag, audio_lag = max(pairs, key=lambda p: abs(p[1] - p[2]))
            assert abs(video_lag - audio_lag) <= FRAME_S + 0.002, \
                (fmt, seed, f"at {t:.3f} s video lags {video_lag:.3f} s, audio {audio_lag:.3f} s", case)
            synced += 1
    assert outcomes[0] >= 12 and synced == outcomes[0], outcomes


def _start_and_wait_for_partial(cmd: list[str], folder: Path, ignore: set[Path]) -> subprocess.Popen:
    """Start ``cmd`` and return once its partial output holds data (the muxer's first flush): mid-film."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        sizes = [p.stat().st_size for p in folder.glob(f".*{PARTIAL_MARK}*") if p not in ignore and p.exists()]
        if sizes and sizes[0] > 0:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"finished or stalled before it could be stopped: {proc.communicate()[1]}")


@pytest.mark.slow
def test_sigkill_leaves_a_partial_the_next_run_removes_and_sigterm_leaves_none(tmp_path: Path,
                                                                              test_weights: Path) -> None:
    """Issue 14: SIGTERM or SIGKILL during `filmcolor video` left a hidden partial file beside the output."""
    # 400 frames: over a second between the muxer's first flush and the film's end, to stop it in
    src = make_clip(tmp_path / "long.mp4", width=160, height=120, frames=400, bframes=False)
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "filmcolor", "video", str(src), "-o", str(out), "--model", str(test_weights),
           *FAST, "--batch-size", "1"]
    killed = _start_and_wait_for_partial(cmd, tmp_path, set())
    killed.kill()  # SIGKILL: nothing can clean up
    killed.communicate(timeout=30)
    stale = set(tmp_path.glob(f".*{PARTIAL_MARK}*"))
    assert len(stale) == 1 and not out.exists()

    stopped = _start_and_wait_for_partial(cmd, tmp_path, stale)  # the same target again
    assert not any(p.exists() for p in stale)  # the killed run's partial went when this one started
    stopped.terminate()  # SIGTERM: timeout, docker stop, systemd
    _, err = stopped.communicate(timeout=60)
    assert stopped.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted") and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]  # no partial, no half output
    hung_up = _start_and_wait_for_partial(cmd, tmp_path, set())
    hung_up.send_signal(signal.SIGHUP)  # the terminal closed (an audit: it left its partial, and said nothing)
    _, err = hung_up.communicate(timeout=60)
    assert hung_up.returncode == 130 and err.strip().startswith("error: interrupted"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]


def test_brackets_in_names_are_printed_as_they_are(tmp_path: Path, test_weights: Path) -> None:
    (tmp_path / "take [").mkdir()
    for name in ("take [b]old.mp4", "take [/] odd.mp4"):  # the second: folder "take [", file "] odd.mp4"
        src = make_clip(tmp_path / name, frames=3)
        out = tmp_path / f"{name}.out.mp4"
        code, err = run(src, "-o", out, "--model", test_weights, *FAST[:-1])  # not -q: the ok line is printed
        assert code == 0 and f"ok {src} -> {out}:" in err, err


def test_messages_off_a_terminal_are_the_lines_alone(tmp_path: Path, clip: Path, test_weights: Path) -> None:
    # no progress bar when stderr is a file or a pipe: it left a blank line before every message
    code, err = run(tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4")
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1, repr(err)
    code, err = run(clip, "-o", tmp_path / "o.mp4", "--model", test_weights, *[a for a in FAST if a != "-q"])
    assert code == 0 and err.startswith("ok ") and err.count("\n") == 1, repr(err)


def test_a_file_this_user_may_not_read_says_so() -> None:
    """An audit: chmod 000 said 'not a readable video file (truncated, corrupt or not a video: permission
    denied)'. (Tests may run as root, whom no mode stops: the message is checked from the error itself.)"""
    from filmcolor.video.reader import _open_error

    denied = av.error.PermissionError(errno.EACCES, "Permission denied", "cam.mp4")
    assert str(_open_error(Path("cam.mp4"), denied)) == "cam.mp4: permission denied (this user may not read it)"
    other = av.error.InvalidDataError(errno.EINVAL, "Invalid data found when processing input", "cam.mp4")
    assert "not a readable video file" in str(_open_error(Path("cam.mp4"), other))


def test_sound_avi_cannot_time_is_named_with_its_remedies(tmp_path: Path, test_weights: Path,
                                                          shared_data: Path) -> None:
    """An audit: Big Buck Bunny's AAC (packets of uneven length) into .avi ended 'cannot write output (Invalid
    argument)': AVI times sound by its packets, and two landed on one tick."""
    src = shared_data / "videos" / "bbb_with_audio.mp4"
    code, err = run(src, "-o", tmp_path / "bbb.avi", "--model", test_weights, *FAST, "--duration", "3")
    assert code == 1 and err.strip() == (f"error: {tmp_path / 'bbb.avi'}: cannot copy audio stream #1 (aac) at "
                                         "1.440 s into .avi (Invalid argument); .mkv keeps it untouched; --audio "
                                         "reencode writes it anew"), err
    assert not list(tmp_path.iterdir())
    code, err = run(src, "-o", tmp_path / "bbb.avi", "--model", test_weights, *FAST, "--duration", "3",
                    "--audio", "reencode")
    assert code == 0 and (tmp_path / "bbb.avi").stat().st_size > 0, err


def test_quiet_keeps_the_warnings(tmp_path):
    """An audit: `video -q` dropped every warning (a stream left out, guidance unused), where `image -q` and
    `batch -q` keep theirs; -q leaves out the progress and the 'ok' line only."""
    from click.testing import CliRunner
    from media import make_clip

    from filmcolor.cli import main

    clip = make_clip(tmp_path / "in.mkv", width=64, height=48, frames=4, fps=10, audio="vorbis")
    result = CliRunner().invoke(main, ["video", str(clip), "-o", str(tmp_path / "out.mp4"), "--runtime", "torch",
                                       "--render-size", "64", "-q"])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("warning: ") for line in lines), result.stderr
    assert not any(line.startswith("ok ") for line in lines)
