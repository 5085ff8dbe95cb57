"""Guided colour through the commands: `image --hints/--hints-image/--reference` (file and folder forms) and
`video --keyframe/--reference` (a keyframe's colour fills its shot and stops at the cut), with their bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_guided_weights
from media import decode_video

from filmcolor import lab
from filmcolor.cli import main
from filmcolor.imageio import read_image, write_image

W, H = 128, 96


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_guided_weights(tmp_path_factory.mktemp("gw") / "guided.safetensors"))


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def mean_a(rgb: np.ndarray, ys: slice, xs: slice) -> float:
    return float(lab.rgb_to_lab(np.ascontiguousarray(rgb[ys, xs, :3]))[..., 1].mean())


def scene(seed: int) -> np.ndarray:
    """A gray photo with some structure: a gradient and a few boxes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    img = 60 + 100 * xx / W + 30 * yy / H
    for _ in range(3):
        y, x = rng.integers(0, H - 20), rng.integers(0, W - 30)
        img[y:y + 20, x:x + 30] = rng.uniform(20, 230)
    return img.astype(np.uint8)


# ---- photos ----

@pytest.mark.slow
def test_image_hints_folder_pairs_by_name_and_moves_the_colour(tmp_path, weights):
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("a", "b"):
        write_image(photos / f"{name}.png", scene(1))  # the same picture twice
    hints = tmp_path / "hints"
    hints.mkdir()
    (hints / "a.json").write_text(json.dumps({"points": [{"x": 20, "y": 20, "color": "#d02010", "radius": 3}]}))
    result = run("image", str(photos), "-o", str(tmp_path / "out"), "--hints", str(hints), "--model", weights,
                 "--render-size", "96", "-q")
    assert result.exit_code == 0, result.output
    a, b = read_image(tmp_path / "out" / "a.png"), read_image(tmp_path / "out" / "b.png")
    near = (slice(14, 27), slice(14, 27))
    assert mean_a(a, *near) > mean_a(b, *near) + 15  # a has its red hint, b (no hints file) is automatic
    assert np.array_equal(a[:, 100:] // 8, b[:, 100:] // 8) or np.abs(a[:, 110:].astype(int) - b[:, 110:]).mean() < 3


@pytest.mark.slow
def test_image_hints_image_and_reference(tmp_path, weights):
    gray = scene(2)
    write_image(tmp_path / "g.png", gray)
    scribbles = np.zeros((H, W, 4), np.uint8)
    scribbles[40:44, 60:70] = (30, 40, 200, 255)  # a blue stroke
    write_image(tmp_path / "s.png", scribbles)
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "s_out.png"), "--hints-image",
                 str(tmp_path / "s.png"), "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0, result.output
    out = read_image(tmp_path / "s_out.png")
    assert float(lab.rgb_to_lab(out[40:44, 60:70])[..., 2].mean()) < -20  # blue: negative b
    # a reference: the same picture in colour gives its colour back
    colour = np.stack([gray, gray // 2, 255 - gray], axis=2)
    write_image(tmp_path / "ref.png", colour)
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "r_out.png"), "--reference",
                 str(tmp_path / "ref.png"), "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0, result.output
    out_ab = lab.rgb_to_lab(read_image(tmp_path / "r_out.png"))[..., 1:]
    true_ab = lab.rgb_to_lab(colour)[..., 1:]
    assert np.abs(out_ab - true_ab).mean() < 0.5 * np.abs(true_ab).mean()


@pytest.mark.parametrize("content, message", [
    ({"points": [{"x": 500, "y": 1, "color": "#102030"}]}, "point 0: (500, 1) is outside the 128x96 picture"),
    ({"points": [{"x": 5, "y": 1, "color": "blue"}]}, "point 0: colour 'blue' is not #RRGGBB"),
    ("{not json", "not a readable hints JSON file"),
])
def test_image_bad_hints_one_line_exit_1_nothing_written(tmp_path, weights, content, message):
    write_image(tmp_path / "g.png", scene(3))
    hints = tmp_path / "h.json"
    hints.write_text(content if isinstance(content, str) else json.dumps(content))
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out.png"), "--hints", str(hints),
                 "--model", weights, "-q")
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(hints) in lines[0] and message in lines[0], result.stderr
    assert not (tmp_path / "out.png").exists()


def test_image_gray_reference_is_refused(tmp_path, weights):
    write_image(tmp_path / "g.png", scene(4))
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out.png"), "--reference",
                 str(tmp_path / "g.png"), "--model", weights, "-q")
    assert result.exit_code == 1 and "reference is a grayscale image" in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("kind", ["pipe", "device", "loop", "huge number"])
def test_a_hints_file_that_is_no_file_is_one_line(tmp_path, weights, kind):
    """An audit: --hints on a pipe waited for ever, on /dev/zero filled the memory (2.5 GB/s), a link that loops
    was 'not found', and a number of 5000 digits was an 'unexpected ValueError' naming the photo."""
    write_image(tmp_path / "g.png", scene(4))
    hints = tmp_path / "h.json"
    if kind == "pipe":
        os.mkfifo(hints)
    elif kind == "device":
        hints.symlink_to("/dev/zero")
    elif kind == "loop":
        hints.symlink_to(hints)
    else:
        hints.write_text('{"points": [{"x": ' + "9" * 5000 + ', "y": 1, "color": "#aa3311"}]}')
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out.png"), "--hints", str(hints),
                 "--model", weights, "-q")
    said = {"pipe": "not a regular file", "device": "not a regular file", "loop": "a link that loops",
            "huge number": "not a readable hints JSON file"}[kind]
    assert result.exit_code == 1 and result.stderr.startswith(f"error: {hints}: {said}"), result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("kind", ["keyframe", "scribbles"])
def test_a_guide_picture_of_the_wrong_size_is_refused_before_it_is_decoded(tmp_path, kind):
    """An audit: a 12000x12000 keyframe for a 96x64 film was decoded first (3 GB, 17 s), a hints image too
    (1.4 GB), before their size was found wrong. The header's size is enough; a quarter-turned one still reads."""
    import tracemalloc

    from filmcolor import guide
    from filmcolor.video.keyframes import FrameShape, Keyframe, read_keyframe

    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((3000, 4000, 4), np.uint8))  # 48 MB decoded, a few KB on disk
    tracemalloc.start()
    try:
        with pytest.raises(Exception, match=r"big.png: (keyframe 3|hints image) is 4000x3000, the (video|picture) "
                                            r"96x64"):
            if kind == "keyframe":
                read_keyframe(Keyframe(3, big), FrameShape(96, 64))
            else:
                guide.hints_from_scribbles(big, 96, 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak
    turned = tmp_path / "turned.png"
    cv2.imwrite(str(turned), np.full((96, 64, 3), (40, 90, 160), np.uint8))  # made as players show the film
    assert read_keyframe(Keyframe(0, turned), FrameShape(96, 64, 90.0)).shape == (64, 96, 3)


@pytest.mark.parametrize("flag", ["--reference", "--hints", "--hints-image"])
def test_image_guidance_given_twice_is_refused_not_dropped(tmp_path, weights, flag):
    """An audit: `--reference missing.jpg --reference b.jpg` coloured with b.jpg, exit 0: click kept the last,
    and the first (a file that does not exist) went without a word."""
    write_image(tmp_path / "g.png", scene(4))
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out.png"), flag, "missing.jpg", flag,
                 str(tmp_path / "g.png"), "--model", weights, "-q")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1, result.stderr
    assert f"'{flag}': given 2 times (missing.jpg, " in result.stderr
    assert not (tmp_path / "out.png").exists()


# ---- video ----

SHOT = 10  # frames per shot


def shot_frame(shot: int, index: int) -> np.ndarray:
    """Shot 0: a dark textured field with a box drifting right; shot 1: a bright one with stripes."""
    yy, xx = np.mgrid[0:H, 0:W]
    if shot == 0:
        img = 50 + 40 * np.sin(xx / 9.0) * np.cos(yy / 7.0)
        x0 = 10 + 3 * index
        img[30:60, x0:x0 + 30] = 150
    else:
        img = 170 + 50 * np.sign(np.sin(yy / 5.0 + index * 0.2))
    return np.clip(img, 0, 255).astype(np.uint8)


def two_shot_clip(path: Path) -> list[np.ndarray]:
    return gray_clip(path, [shot_frame(s, i) for s in (0, 1) for i in range(SHOT)])


def gray_clip(path: Path, frames: list[np.ndarray]) -> list[np.ndarray]:
    """``frames`` (gray) as an H.264 clip at 10 fps, near lossless; returns them."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "10"}
        for gray in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(gray, format="gray").reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    return frames


def keyframe_of(gray: np.ndarray) -> np.ndarray:
    """A strongly red colour version of a gray frame."""
    return np.stack([np.clip(gray.astype(int) + 80, 0, 255), gray // 3, gray // 3], axis=2).astype(np.uint8)


@pytest.mark.slow
def test_keyframe_colour_reaches_the_shot_end_and_never_the_next_shot(tmp_path, weights):
    frames = two_shot_clip(tmp_path / "in.mp4")
    write_image(tmp_path / "k3.png", keyframe_of(frames[3]))
    report = tmp_path / "r.json"
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "auto.mp4"), "--model", weights, "-q")
    assert result.exit_code == 0, result.output
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "key.mp4"), "--model", weights,
                 "--keyframe", f"3={tmp_path / 'k3.png'}", "--report", str(report), "-q")
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["cuts"] == [SHOT]
    _, auto, _ = decode_video(tmp_path / "auto.mp4")
    _, keyed, _ = decode_video(tmp_path / "key.mp4")
    assert len(keyed) == 2 * SHOT
    red = [mean_a(keyed[i], slice(None), slice(None)) - mean_a(auto[i], slice(None), slice(None))
           for i in range(2 * SHOT)]
    assert min(red[:SHOT]) > 15, red  # every frame of the keyframe's shot, before and after frame 3
    assert max(abs(r) for r in red[SHOT:]) < 2, red  # none of the next shot


def two_colour_keyframe(gray: np.ndarray) -> np.ndarray:
    """A colour version of a gray frame: its left half red (a +50), its right half green (a -50)."""
    l_hw = lab.gray_to_l(gray)
    ab = np.zeros((*gray.shape, 2), np.float32)
    ab[:, : gray.shape[1] // 2, 0], ab[:, gray.shape[1] // 2:, 0] = 50.0, -50.0
    return lab.lab_to_rgb_levels(l_hw, ab)


@pytest.mark.parametrize("runtime, batch", [("onnx", "1"), ("torch", "4")])
def test_a_keyframes_own_frame_takes_its_own_colour(tmp_path, weights, runtime, batch):
    """A keyframe that starts its shot is its frame's colour: not the network's rendering of it through the
    matching's 8x8 cells. One in the middle of a shot, on a frame the network would have skipped, is blended
    in there as the network's prediction would be, pulling the frame toward it."""
    frames = two_shot_clip(tmp_path / "in.mp4")
    keys = {k: two_colour_keyframe(frames[k]) for k in (5, SHOT)}
    for k, key in keys.items():
        write_image(tmp_path / f"k{k}.png", key)
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "key.mp4"), "--model", weights,
                 "--keyframe", f"5={tmp_path / 'k5.png'}", "--keyframe", f"{SHOT}={tmp_path / f'k{SHOT}.png'}",
                 "--network-every", "8", "--runtime", runtime, "--batch-size", batch, "-q")
    assert result.exit_code == 0, result.output
    _, keyed, _ = decode_video(tmp_path / "key.mp4")
    ys = slice(8, H - 8)
    for xs in (slice(8, W // 2 - 12), slice(W // 2 + 12, W - 8)):  # each half, off the edge between them
        gap = {(frame, key): abs(mean_a(keyed[frame], ys, xs) - mean_a(keys[key], ys, xs))  # (a as sRGB holds it)
               for frame, key in ((SHOT, SHOT), (5, 5), (4, 5))}
        assert gap[SHOT, SHOT] < 3, gap
        assert gap[5, 5] < gap[4, 5] - 3, gap


@pytest.mark.parametrize("make, message", [
    (lambda p, f: (write_image(p, keyframe_of(f[0])[:50]), "0"), "keyframe 0 is 128x50, the video 128x96"),
    (lambda p, f: (write_image(p, keyframe_of(f[0])), "20"),
     "keyframe 20 is past the end (the video has 20 frames: 0-19)"),
    (lambda p, f: (write_image(p, f[0]), "0"), "keyframe 0 is a grayscale image"),
])
def test_bad_keyframes_one_line_exit_1_no_output(tmp_path, weights, make, message):
    frames = two_shot_clip(tmp_path / "in.mp4")
    key = tmp_path / "k.png"
    _, number = make(key, frames)
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--keyframe", f"{number}={key}", "-q")
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(key) in lines[0] and message in lines[0], result.stderr
    assert not (tmp_path / "out.mp4").exists()
    assert not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("value", ["x.png", "-1=x.png", "0:x.png", "a=x.png", "1.5=x.png", "0="])
def test_keyframe_syntax_is_bad_input(tmp_path, weights, value):
    two_shot_clip(tmp_path / "in.mp4")
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--keyframe", value)
    assert result.exit_code == 1 and "is not N=PATH" in result.output and result.stderr.count("\n") == 1


@pytest.mark.parametrize("flag", ["--hints-image", "--reference", "--hints"])
def test_image_output_onto_a_guidance_file_is_refused(tmp_path, weights, flag):
    write_image(tmp_path / "g.png", scene(5))
    if flag == "--hints":
        guide = tmp_path / "h.json"
        guide.write_text(json.dumps({"points": [{"x": 5, "y": 5, "color": "#aa3311"}]}))
    else:
        guide = tmp_path / "guide.png"
        rgba = np.zeros((H, W, 4), np.uint8)
        rgba[10:20, 10:20] = (200, 40, 40, 255)
        write_image(guide, rgba if flag == "--hints-image" else keyframe_of(scene(5)))
    before = guide.read_bytes()
    result = run("image", str(tmp_path / "g.png"), "-o", str(guide), flag, str(guide), "--model", weights,
                 "--overwrite", "-q")
    said = "cannot write .json files" if flag == "--hints" else "same file as the input"  # .json: no image name
    assert result.exit_code == 1 and said in result.stderr, result.stderr
    assert guide.read_bytes() == before


@pytest.mark.parametrize("guide", ["--keyframe", "--reference"])
def test_video_preview_onto_a_keyframe_or_reference_is_refused(tmp_path, weights, guide):
    frames = two_shot_clip(tmp_path / "in.mp4")
    key = tmp_path / "k.png"
    write_image(key, keyframe_of(frames[0]))
    before = key.read_bytes()
    value = f"0={key}" if guide == "--keyframe" else str(key)
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 guide, value, "--preview", str(key), "--overwrite", "-q")
    assert result.exit_code == 1 and "same file as the input" in result.stderr, result.stderr
    assert key.read_bytes() == before and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("where", ["a file as its folder", "a write that fails"])
def test_video_report_that_cannot_be_written_leaves_no_film(tmp_path, weights, where, monkeypatch):

    two_shot_clip(tmp_path / "in.mp4")
    report = tmp_path / "r.json"
    if where == "a file as its folder":  # refused before the first frame
        (tmp_path / "taken").write_text("a file where the report's folder should be")
        report = tmp_path / "taken" / "r.json"
    else:  # a folder that takes no file (/proc, a full disk): found out only when the report is renamed into
        # place, after the film's rename (the film, new, goes too)
        from filmcolor import fsutil

        real = fsutil._publish

        def refuse(tmp, target, replace):
            if target.name == "r.json":
                raise OSError(13, "Permission denied")
            real(tmp, target, replace)

        monkeypatch.setattr(fsutil, "_publish", refuse)
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--report", str(report), "-q")
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "r.json" in lines[0], result.stderr
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".out*"))


def test_guidance_files_named_like_no_image_are_named_in_a_warning(tmp_path, weights):
    (tmp_path / "in").mkdir()
    (tmp_path / "h").mkdir()
    for name in ("a", "b"):
        write_image(tmp_path / "in" / f"{name}.png", scene(6))
    point = json.dumps({"points": [{"x": 5, "y": 5, "color": "#aa3311"}]})
    for name in ("a", "typo_b"):
        (tmp_path / "h" / f"{name}.json").write_text(point)
    result = run("image", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--hints", str(tmp_path / "h"),
                 "--model", weights, "-q")
    assert result.exit_code == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "typo_b.json" in lines[0] and "a.json" not in lines[0], result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


def test_one_bad_reference_for_a_folder_is_said_once_before_any_work(tmp_path, weights):
    (tmp_path / "in").mkdir()
    for name in ("a", "b", "c"):
        write_image(tmp_path / "in" / f"{name}.png", scene(7))
    (tmp_path / "ref.json").write_text("{}")
    result = run("image", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--reference",
                 str(tmp_path / "ref.json"), "--model", weights, "-q")
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ref.json" in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_guidance_that_takes_no_effect_is_said(tmp_path, weights, monkeypatch):
    """An audit: a reference that matched too little, strokes with no opaque pixel, and a guidance folder with
    no file for the one photo given all ended 'ok', exit 0, coloured automatically without a word."""
    from filmcolor import guide

    write_image(tmp_path / "g.png", scene(8))
    write_image(tmp_path / "clear.png", np.zeros((H, W, 4), np.uint8))  # every pixel transparent
    write_image(tmp_path / "ref.png", keyframe_of(scene(8)))
    (tmp_path / "hints").mkdir()
    (tmp_path / "hints" / "other.json").write_text(json.dumps({"points": []}))
    monkeypatch.setattr(guide, "REFERENCE_MIN_SCORE", 1.01)  # no reference can match
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out.png"), "--model", weights,
                 "--hints-image", str(tmp_path / "clear.png"), "--reference", str(tmp_path / "ref.png"), "-q")
    assert result.exit_code == 0, result.stderr
    assert "clear.png: no opaque pixel (alpha 128 or more), so no hint" in result.stderr
    assert "g.png: the reference does not show enough of this picture's content to be used" in result.stderr
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out2.png"), "--model", weights,
                 "--hints", str(tmp_path / "hints"), "-q")
    assert result.exit_code == 0 and "--hints " in result.stderr and "holds no file named like it" in result.stderr
    (tmp_path / "empty.json").write_text(json.dumps({"points": []}))  # a second audit: said nothing
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out4.png"), "--model", weights,
                 "--hints", str(tmp_path / "empty.json"), "-q")
    assert result.exit_code == 0 and "empty.json: no points, so no hint" in result.stderr, result.stderr
    monkeypatch.setattr(guide, "REFERENCE_MIN_SCORE", 0.68)
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "out3.png"), "--model", weights,
                 "--reference", str(tmp_path / "ref.png"), "-q")  # its own colour version matches: nothing said
    assert result.exit_code == 0 and not result.stderr.strip(), result.stderr


def test_a_reference_no_shot_takes_is_said(tmp_path, weights, monkeypatch):
    from filmcolor import guide

    frames = two_shot_clip(tmp_path / "in.mp4")
    write_image(tmp_path / "ref.png", keyframe_of(frames[0]))
    write_image(tmp_path / "k.png", keyframe_of(frames[0]))
    monkeypatch.setattr(guide, "REFERENCE_MIN_SCORE", 1.01)
    report = tmp_path / "r.json"
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--reference", str(tmp_path / "ref.png"), "--report", str(report), "-q")
    assert result.exit_code == 0, result.stderr
    said = [w for w in json.loads(report.read_text())["warnings"] if "--reference" in w]
    assert len(said) == 1, said
    assert said[0].startswith(f"{tmp_path / 'ref.png'}: --reference not used: it shows no shot's content well "
                              "enough (its best match ") and said[0].endswith(", 1.01 is needed)"), said


def test_keyframe_and_reference_files_are_checked_before_the_film_is_scanned(tmp_path, weights, monkeypatch):
    """An audit: a missing keyframe was said after the shots' pre-pass had decoded the whole film (16 s on a
    4-minute clip; minutes on a feature)."""
    from filmcolor.video import pipeline

    frames = two_shot_clip(tmp_path / "in.mp4")
    write_image(tmp_path / "small.png", keyframe_of(frames[0])[:50])

    def no_scan(*args, **kwargs):
        raise AssertionError("the film was scanned before its guidance was checked")

    monkeypatch.setattr(pipeline, "scan_shots", no_scan)
    for guide_args, message in ((["--keyframe", f"0={tmp_path / 'missing.png'}"], "missing.png: file not found"),
                                (["--reference", str(tmp_path / "missing.png")], "missing.png: file not found"),
                                (["--keyframe", f"0={tmp_path / 'small.png'}"], "keyframe 0 is 128x50")):
        result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                     *guide_args, "-q")
        assert result.exit_code == 1 and message in result.stderr, result.stderr
        assert "AssertionError" not in result.stderr


def test_a_keyframe_past_a_slice_is_counted_in_the_slice(tmp_path, weights):
    frames = two_shot_clip(tmp_path / "in.mp4")  # 20 frames at 10 fps
    write_image(tmp_path / "k.png", keyframe_of(frames[0]))
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--start", "1", "--keyframe", f"10={tmp_path / 'k.png'}", "-q")
    assert result.exit_code == 1
    assert "keyframe 10 is past the end (the slice coloured has 10 frames: 0-9)" in result.stderr, result.stderr


def test_a_keyframe_path_may_start_with_a_tilde(tmp_path, monkeypatch):
    from filmcolor.video.keyframes import parse_keyframe

    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_keyframe("10=~/key.png").path == tmp_path / "key.png"  # the shell leaves N=~/... as it is


def test_bad_guidance_waits_for_the_graphs_being_built_before_it_ends(tmp_path, weights, monkeypatch):
    """An audit: with an empty cache, a missing --reference ended the process while a thread still exported
    the network's graphs, and it aborted ('terminate called without an active exception', exit 134)."""
    import time

    from filmcolor.colorize import Colorizer

    finished: list[bool] = []

    def slow_prepare(self, *args) -> None:
        time.sleep(0.5)
        finished.append(True)

    monkeypatch.setattr(Colorizer, "prepare_matched", slow_prepare)
    two_shot_clip(tmp_path / "in.mp4")
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--reference", str(tmp_path / "missing.png"), "-q")
    assert result.exit_code == 1 and "missing.png: file not found" in result.stderr, result.stderr
    assert finished, "the command ended while the graphs were still being built"


def keyed_by_frame_3(tmp_path: Path, weights: str, frames: list[np.ndarray]) -> tuple[dict, list[float]]:
    """``frames`` as a clip coloured with the colour version of its frame 3 as keyframe: (the report, each
    output frame's mean a)."""
    path = tmp_path / "in.mp4"
    gray_clip(path, frames)
    write_image(tmp_path / "k3.png", keyframe_of(frames[3]))
    report = tmp_path / "r.json"
    result = run("video", str(path), "-o", str(tmp_path / "key.mp4"), "--model", weights,
                 "--keyframe", f"3={tmp_path / 'k3.png'}", "--report", str(report), "-q")
    assert result.exit_code == 0, result.output
    _, keyed, _ = decode_video(tmp_path / "key.mp4")
    return json.loads(report.read_text()), [mean_a(frame, slice(None), slice(None)) for frame in keyed]


def test_keyframe_colour_stops_at_a_fade_through_black(tmp_path, weights):
    """An audit: a fade out to black and in again was no cut, and the keyframe's colour filled the next shot."""
    frames = [shot_frame(0, i) for i in range(SHOT)]
    frames += [(shot_frame(0, SHOT + i) * (1 - (i + 1) / 5)).astype(np.uint8) for i in range(5)]  # to black
    frames += [(shot_frame(1, i) * min(1.0, (i + 1) / 5)).astype(np.uint8) for i in range(SHOT)]
    report, red = keyed_by_frame_3(tmp_path, weights, frames)
    assert report["cuts"] == [SHOT + 5], report  # the fade in's first
    assert min(red[:SHOT]) > 15, red
    assert max(abs(r) for r in red[SHOT + 5:]) < 3, red  # (the model's own colour is near gray)


@pytest.mark.parametrize("rotation", [90, -90])
def test_a_keyframe_of_a_turned_film_as_players_show_it_is_turned_back(tmp_path, rotation):
    """An audit: a phone's film stored 214x120 and shown upright (display rotation 90) refused a keyframe
    exported upright, 120x214, with no word of the rotation. Shown = stored turned counterclockwise by the
    rotation (PyAV's reading of the display matrix), so the keyframe is turned back the other way."""
    from filmcolor.errors import InputError
    from filmcolor.video.keyframes import FrameShape, Keyframe, read_keyframe

    stored = keyframe_of(scene(3))  # (H, W, 3), asymmetric
    shown = np.rot90(stored, k=rotation // 90)
    write_image(tmp_path / "shown.png", np.ascontiguousarray(shown))
    key = Keyframe(5, tmp_path / "shown.png")
    np.testing.assert_array_equal(read_keyframe(key, FrameShape(W, H, rotation)), stored)
    with pytest.raises(InputError, match=f"keyframe 5 is {H}x{W}, the video {W}x{H}$"):
        read_keyframe(key, FrameShape(W, H, 0))
    write_image(tmp_path / "small.png", stored[:50])
    with pytest.raises(InputError, match=f"the video {W}x{H} \\({H}x{W} as players show it, turned "):
        read_keyframe(Keyframe(5, tmp_path / "small.png"), FrameShape(W, H, rotation))


def test_a_keyframe_of_a_turned_film_colours_it(tmp_path, weights):
    from media import make_clip

    clip = make_clip(tmp_path / "turned.mp4", width=W, height=H, frames=6, fps=10, rotation=90)
    with av.open(str(clip)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    write_image(tmp_path / "k.png", np.ascontiguousarray(np.rot90(keyframe_of(first), k=1)))
    result = run("video", str(clip), "-o", str(tmp_path / "out.mp4"), "--model", weights,
                 "--keyframe", f"0={tmp_path / 'k.png'}", "-q")
    assert result.exit_code == 0, result.stderr
    _, keyed, _ = decode_video(tmp_path / "out.mp4")
    assert min(mean_a(frame, slice(None), slice(None)) for frame in keyed) > 15


def test_a_keyframe_kept_among_a_scans_frames_is_no_frame(tmp_path, weights):
    """An audit: `--keyframe 5=reel/key5.png` beside reel/scan_000001.png ... was refused: 'holds pictures of
    more than one name'. The keyframe (or reference) given is left out of the film's frames."""
    reel = tmp_path / "reel"
    reel.mkdir()
    frames = [shot_frame(0, i) for i in range(8)]
    for i, gray in enumerate(frames):
        write_image(reel / f"scan_{i + 1:06d}.png", gray)
    write_image(reel / "scan_key5.png", keyframe_of(frames[5]))
    result = run("video", str(reel), "-o", str(tmp_path / "out.mkv"), "--model", weights,
                 "--keyframe", f"5={reel / 'scan_key5.png'}", "-q")
    assert result.exit_code == 0, result.stderr
    assert len(decode_video(tmp_path / "out.mkv")[0]) == 8
    result = run("video", str(reel), "-o", str(tmp_path / "plain.mkv"), "--model", weights, "-q")
    assert result.exit_code == 1 and "holds pictures of more than one name" in result.stderr  # not given: a stray


def test_a_shot_whose_first_frames_match_no_reference_takes_one_when_a_later_frame_does(tmp_path, weights,
                                                                                      monkeypatch):
    """An audit: a shot fading in from black matched no reference on its dark first frame and took none for
    its whole length. Its next frames (REMATCH_FRAMES) try again; a shot that never matches stays automatic."""
    from filmcolor import guide
    from filmcolor.colorize import Colorizer
    from filmcolor.video import keyframes

    write_image(tmp_path / "ref.png", keyframe_of(scene(4)))
    colorizer = Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=64)
    guides = keyframes.ShotGuides(colorizer, [], [tmp_path / "ref.png"], shots=keyframes.ShotMap.of([]),
                                  shape=keyframes.FrameShape(W, H))
    shown = {"frame": 0}
    monkeypatch.setattr(guide, "match_score", lambda features, ref: 0.9 if shown["frame"] >= 3 else 0.3)
    l_hw = lab.gray_to_l(scene(4))
    features = colorizer.match_features(l_hw)
    l_cells = guide.cell_l(l_hw, *features.shape[-2:])
    shape = colorizer.network_shape(H, W)
    taken = []
    for index in range(6):
        shown["frame"] = index
        taken.append(guides(index, features, l_cells, shape) is not None)
    assert taken == [False, False, False, True, True, True]
    assert guides.used_references == {str(tmp_path / "ref.png"): 1}
    late = keyframes.ShotGuides(colorizer, [], [tmp_path / "ref.png"], shots=keyframes.ShotMap.of([]),
                                shape=keyframes.FrameShape(W, H))
    taken = []
    for index in range(keyframes.REMATCH_FRAMES + 10):  # it would match from frame REMATCH_FRAMES + 3 on:
        shown["frame"] = index - keyframes.REMATCH_FRAMES  # past the frames that try again
        taken.append(late(index, features, l_cells, shape) is not None)
    assert not any(taken) and late.used_references == {}


def test_keyframe_colour_goes_on_after_a_one_frame_insert(tmp_path, weights):
    """A frame of another shot inside a shot (an insert, a damaged frame) split it in three, and a keyframe's
    colour stopped there: the rest of its shot came out automatic. The shot goes on after the insert."""
    frames = [shot_frame(0, i) for i in range(SHOT)] + [shot_frame(1, 0)]
    frames += [shot_frame(0, i) for i in range(SHOT + 1, 2 * SHOT)]
    report, red = keyed_by_frame_3(tmp_path, weights, frames)
    assert report["cuts"] == [SHOT, SHOT + 1] and report["inserts"] == [[SHOT, SHOT]], report
    assert report["guidance"]["shots"] == 2
    assert min(red[:SHOT] + red[SHOT + 1:]) > 15, red  # the whole shot, after the insert too (was ~0 there)
    assert abs(red[SHOT]) < 3, red  # and not the insert


def test_shots_resumed_after_an_insert_are_one_shot() -> None:
    from filmcolor.video import keyframes

    guides = keyframes.ShotGuides(None, [], [], shots=keyframes.ShotMap.of([10, 11, 30, 32], {11: 9}),
                                  shape=keyframes.FrameShape(W, H))
    assert [guides.shot_of(i) for i in (0, 9, 10, 11, 29, 30, 31, 32)] == [0, 0, 1, 0, 0, 2, 2, 3]
    assert guides.shots == 4


def test_a_shot_back_after_an_insert_keeps_its_reference(tmp_path, weights, monkeypatch):
    from filmcolor import guide
    from filmcolor.colorize import Colorizer
    from filmcolor.video import keyframes

    write_image(tmp_path / "ref.png", keyframe_of(scene(4)))
    colorizer = Colorizer.from_pretrained(weights, device="cpu", runtime="torch", render_size=64)
    guides = keyframes.ShotGuides(colorizer, [], [tmp_path / "ref.png"],
                                  shots=keyframes.ShotMap.of([5, 6], {6: 4}), shape=keyframes.FrameShape(W, H))
    shown = {"frame": 0}
    monkeypatch.setattr(guide, "match_score", lambda features, ref: 0.3 if shown["frame"] in (5, 6) else 0.9)
    l_hw = lab.gray_to_l(scene(4))
    features = colorizer.match_features(l_hw)
    l_cells = guide.cell_l(l_hw, *features.shape[-2:])
    taken = []
    for index in range(10):
        shown["frame"] = index  # frame 6, back after the insert, matches nothing by itself: its shot did
        taken.append(guides(index, features, l_cells, colorizer.network_shape(H, W)) is not None)
    assert taken == [True] * 5 + [False] + [True] * 4
    assert guides.used_references == {str(tmp_path / "ref.png"): 1} and guides.matched_shots == 2


def test_a_shots_keyframes_are_read_once_through_an_insert(monkeypatch) -> None:
    """A review: each return after an insert read and encoded the shot's keyframes again (1.3 s each at 480p)."""
    import torch

    from filmcolor import guide
    from filmcolor.video import keyframes

    reads = []
    monkeypatch.setattr(keyframes, "read_keyframe",
                        lambda key, shape: reads.append(key.index) or np.zeros((H, W, 3), np.uint8))

    class Encoder:
        def reference(self, rgb, name=""):
            return guide.Reference(torch.zeros(8, H // 8, W // 8), torch.zeros(2, H // 4, W // 4))

        def network_shape(self, height, width):
            return height, width

        def ab_shape(self, shape):
            return shape[0] // 4, shape[1] // 4

    guides = keyframes.ShotGuides(Encoder(), [keyframes.Keyframe(3, Path("k3.png"))], [],
                                  shots=keyframes.ShotMap.of([10, 11, 12, 13], {11: 9, 13: 11}),
                                  shape=keyframes.FrameShape(W, H))
    for shot in (guides.shot_of(i) for i in range(16)):
        if shot != guides._shot:
            guides._enter(shot, None)
    assert reads == [3]  # frames 0-9, 11, 13-15 are its shot: entered three times, read once
    reads.clear()  # an insert of two shots (a review: the last shot left alone was kept)
    guides = keyframes.ShotGuides(Encoder(), [keyframes.Keyframe(3, Path("k3.png"))], [],
                                  shots=keyframes.ShotMap.of([10, 11, 12], {12: 9}), shape=keyframes.FrameShape(W, H))
    for shot in (guides.shot_of(i) for i in range(16)):
        if shot != guides._shot:
            guides._enter(shot, None)
    assert reads == [3]


@pytest.mark.parametrize("flag", ["--hints-image", "--reference"])
def test_a_guidance_folder_that_is_the_input_folder_is_refused(tmp_path, weights, flag):
    """An audit: `image photos -o out --hints-image photos` coloured the scribbles as photos and took each photo
    as its own scribble (a colour photo's every gray pixel a hint: it came out gray, and 'ok')."""
    write_image(tmp_path / "photos" / "a.png", scene(1))
    result = run("image", str(tmp_path / "photos"), "-o", str(tmp_path / "out"), flag, str(tmp_path / "photos"),
                 "--model", weights, "-q")
    assert result.exit_code == 1 and "the guidance folder is the input folder" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_scribbles_in_a_folder_inside_the_input_folder_are_no_photos(tmp_path, weights):
    photos = tmp_path / "photos"
    write_image(photos / "a.png", scene(1))
    scribbles = np.zeros((H, W, 4), np.uint8)
    scribbles[40:44, 60:70] = (200, 40, 30, 255)
    write_image(photos / "scribbles" / "a.png", scribbles)
    result = run("image", str(photos), "-o", str(tmp_path / "out"), "--hints-image", str(photos / "scribbles"),
                 "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == ["a.png"]


def test_guidance_in_another_letter_case_is_said_not_taken(tmp_path, weights):
    """An audit: B.PNG did not take b.json and the warning said "named like no input image". Pairing in any
    case was tried and dropped (a review: PIER.png took pier.json, another photo's, and failed on its size):
    names pair exactly, and the warning says so."""
    write_image(tmp_path / "in" / "B.PNG", scene(1))
    write_image(tmp_path / "in" / "pier.png", scene(2))
    write_image(tmp_path / "in" / "PIER.png", scene(3)[:64, :40])
    (tmp_path / "hints").mkdir()
    hint = json.dumps({"points": [{"x": 60, "y": 10, "color": "#d02010"}]})
    for name in ("b", "pier"):
        (tmp_path / "hints" / f"{name}.json").write_text(hint)
    result = run("image", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--hints", str(tmp_path / "hints"),
                 "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0, result.stderr
    assert "1 guidance file(s) named like no input image (names pair exactly, letter case too)" in result.stderr
    assert "b.json" in result.stderr


def test_an_input_folder_inside_the_reference_folder_keeps_its_photos(tmp_path, weights):
    """A review: `image refs/bw -o out --reference refs` found "no images" (the guidance folder's pictures are
    left out only when it lies inside the input folder)."""
    write_image(tmp_path / "refs" / "bw" / "a.png", scene(1))
    write_image(tmp_path / "refs" / "a.png", keyframe_of(scene(1)))
    result = run("image", str(tmp_path / "refs" / "bw"), "-o", str(tmp_path / "out"), "--reference",
                 str(tmp_path / "refs"), "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0 and (tmp_path / "out" / "a.png").exists(), result.stderr


def test_a_hint_a_hair_inside_the_edge_is_inside(tmp_path, weights):
    """An audit: x 127.99999999 in a 128-pixel picture passed the check, then rounded to 128 as a float32 and
    was refused as (128, 10), naming no file."""
    write_image(tmp_path / "g.png", scene(1))
    (tmp_path / "h.json").write_text(json.dumps({"points": [{"x": W - 1e-8, "y": H - 1e-8, "color": "#d02010"}]}))
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "o.png"), "--hints", str(tmp_path / "h.json"),
                 "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("flag", ["--hints", "--hints-image", "--reference"])
def test_an_empty_guidance_path_is_refused(tmp_path, weights, flag):
    """An audit: --hints '' was the working folder, scanned whole."""
    write_image(tmp_path / "g.png", scene(1))
    result = run("image", str(tmp_path / "g.png"), "-o", str(tmp_path / "o.png"), flag, "", "--model", weights)
    assert result.exit_code != 0 and "an empty path" in result.stderr, result.stderr
    assert not (tmp_path / "o.png").exists()


def test_an_animated_reference_says_its_first_frame_is_used(tmp_path, weights):
    from PIL import Image

    write_image(tmp_path / "in" / "g.png", scene(1))
    write_image(tmp_path / "in" / "h.png", scene(2))
    frames = [Image.fromarray(keyframe_of(scene(1))), Image.fromarray(keyframe_of(scene(2)))]
    frames[0].save(tmp_path / "ref.gif", save_all=True, append_images=frames[1:])
    result = run("image", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--reference",
                 str(tmp_path / "ref.gif"), "--model", weights, "--render-size", "96", "-q")
    assert result.exit_code == 0 and "ref.gif" in result.stderr, result.stderr
    assert result.stderr.count("is the reference") == 1, result.stderr  # said once for the two photos


def test_an_empty_video_reference_is_refused(tmp_path, weights):
    """A review: `video --reference=` said ". is a folder, not an image" (the working folder)."""
    two_shot_clip(tmp_path / "in.mp4")
    result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4"), "--reference=", "--model",
                 weights, "-q")
    assert result.exit_code != 0 and "an empty path" in result.stderr, result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_keyframe_matching_runs_in_one_torch_thread_beside_onnx_runtime(tmp_path, weights, monkeypatch):
    """torch's idle threads spin where ONNX Runtime's sleep: beside the codecs and ONNX Runtime's threads, two
    for the matching made a 480p film with a keyframe a shot 10-15% slower on two cores. The setting is the
    run's alone: torch's own is given back after it."""
    import torch

    from filmcolor import guide

    frames = two_shot_clip(tmp_path / "in.mp4")
    write_image(tmp_path / "k3.png", keyframe_of(frames[3]))
    threads_seen = []
    transfer = guide.transfer
    monkeypatch.setattr(guide, "transfer",
                        lambda *args, **kwargs: threads_seen.append(torch.get_num_threads()) or transfer(*args,
                                                                                                         **kwargs))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        result = run("video", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "key.mp4"), "--model", weights,
                     "--keyframe", f"3={tmp_path / 'k3.png'}", "--runtime", "onnx", "-q")
        assert result.exit_code == 0, result.output
        assert threads_seen and set(threads_seen) == {1}, threads_seen
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
