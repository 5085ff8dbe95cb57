"""`filmcolor image`: files and folders in, coloured files out; exit codes; bad files; no half files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import color

from filmcolor import lab, weights
from filmcolor.cli import main
from filmcolor.fsutil import PARTIAL_MARK
from filmcolor.imageio import read_image

FAST = ["--runtime", "torch", "--render-size", "64"]


def make_photo(path: Path, shape: tuple[int, ...] = (40, 56), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(20, 235, (4, 5), dtype=np.uint8)
    gray = np.asarray(Image.fromarray(base).resize((shape[1], shape[0]), Image.BILINEAR))
    image = np.dstack([gray] * shape[2]) if len(shape) == 3 else gray
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["image", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_ext_against_a_single_files_own_extension_is_refused(tmp_path: Path, test_weights: Path) -> None:
    """An audit: `-o out.jpg --ext .png` wrote a JPEG without a word."""
    photo = make_photo(tmp_path / "a.png")
    code, _, err = run(str(photo), "-o", str(tmp_path / "out.jpg"), "--ext", ".png", "--model", str(test_weights),
                       *FAST)
    assert code == 1 and err == f"error: --ext .png with -o {tmp_path / 'out.jpg'}: --ext names folder outputs' " \
                                "format; a file's is its own extension\n", err
    assert not (tmp_path / "out.jpg").exists()
    code, _, err = run(str(photo), "-o", str(tmp_path / "out.jpg"), "--ext", ".JPEG", "--model", str(test_weights),
                       *FAST)
    assert code == 0 and read_image(tmp_path / "out.jpg").shape == (40, 56, 3), err
    code, _, err = run(str(photo), "-o", str(tmp_path / "out.JPEG"), "--ext", "jpg", "--model", str(test_weights),
                       *FAST)  # (a review: the same format spelt two ways was refused)
    assert code == 0, err


def test_standard_output_is_no_output(tmp_path: Path, test_weights: Path, monkeypatch) -> None:
    """An audit: `-o -` made a folder named '-' and wrote the photo into it, exit 0."""
    photo = make_photo(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(str(photo), "-o", "-", "--model", str(test_weights), *FAST)
    assert code == 1 and "-o -: pictures are written to files, not to standard output" in err, err
    assert not (tmp_path / "-").exists()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_no_partials(*folders: Path) -> None:
    for folder in folders:
        assert not list(folder.rglob(f"*{PARTIAL_MARK}*")), folder


def is_coloured(path: Path) -> bool:
    rgb = read_image(path).astype(int)
    return rgb.ndim == 3 and np.abs(rgb[..., 0] - rgb[..., 2]).mean() > 5


def test_one_file_to_one_file(tmp_path, test_weights):
    src = make_photo(tmp_path / "old.jpg", (37, 53))
    dst = tmp_path / "out" / "colour.png"
    dst.parent.mkdir()
    code, _, err = run(str(src), "-o", str(dst), "--model", str(test_weights), *FAST)
    assert code == 0, err
    assert read_image(dst).shape == (37, 53, 3) and is_coloured(dst)
    assert_no_partials(tmp_path)


@pytest.mark.slow
def test_default_runtime_runs(tmp_path, test_weights):
    src = make_photo(tmp_path / "old.png")
    code, _, err = run(str(src), "-o", str(tmp_path / "c.jpg"), "--model", str(test_weights),
                       "--render-size", "64")
    assert code == 0, err
    assert is_coloured(tmp_path / "c.jpg")


def test_several_files_and_folders_mirror_names(tmp_path, test_weights):
    album = tmp_path / "album"
    make_photo(album / "a.jpg")
    make_photo(album / "sub" / "b.png", (30, 20, 3))
    make_photo(album / "sub" / "c.tif", (20, 30))
    (album / "notes.txt").write_text("not an image")
    loose = make_photo(tmp_path / "loose.png", (25, 25))
    out = tmp_path / "out"
    code, _, err = run(str(album), str(loose), "-o", str(out), "--model", str(test_weights), *FAST)
    assert code == 0, err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["a.jpg", "loose.png", "sub/b.png", "sub/c.tif"]
    assert read_image(out / "sub" / "b.png").shape == (30, 20, 3)
    code, _, _ = run(str(album), "-o", str(tmp_path / "pngs"), "--ext", ".png", "--model", str(test_weights),
                     *FAST)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "pngs").rglob("*.png")) == ["a.png", "b.png", "c.png"]
    code, _, _ = run(str(album), "-o", str(tmp_path / "tifs"), "--ext", "TIFF", "--model", str(test_weights),
                     *FAST)  # (an audit: '.tiff', 'png', '.PNG' and '.jpeg' were refused)
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "tifs").rglob("*.tif")) == ["a.tif", "b.tif", "c.tif"]
    assert read_image(tmp_path / "tifs" / "sub" / "b.tif").shape == (30, 20, 3)
    assert_no_partials(tmp_path)


def test_a_photo_that_fails_leaves_no_empty_output_folder(tmp_path, test_weights):
    """An audit: the output subfolder of a photo was made before the photo was read, and stayed, empty, when
    it failed."""
    album = tmp_path / "album"
    make_photo(album / "a.png")
    (album / "sub").mkdir()
    (album / "sub" / "bad.png").write_text("not an image")
    code, _, err = run(str(album), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST)
    assert code == 1 and "bad.png" in err, err
    assert (tmp_path / "out" / "a.png").exists() and not (tmp_path / "out" / "sub").exists()


@pytest.mark.parametrize("bad", ["text", "empty", "truncated"])
def test_one_bad_file_among_good_ones(tmp_path, test_weights, bad):
    album = tmp_path / "album"
    make_photo(album / "a.png")
    make_photo(album / "c.png", seed=2)
    bad_path = album / "b.jpg"
    if bad == "text":
        bad_path.write_text("hello")
    elif bad == "empty":
        bad_path.write_bytes(b"")
    else:
        make_photo(bad_path, (64, 64))
        bad_path.write_bytes(bad_path.read_bytes()[:300])
    out = tmp_path / "out"
    code, stdout, stderr = run(str(album), "-o", str(out), "--model", str(test_weights), *FAST)
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]  # the good ones are done
    lines = error_lines(stderr)
    assert len(lines) == 2 and str(bad_path) in lines[0] and "1 of 3" in lines[1], stderr
    assert "Traceback" not in stdout + stderr
    assert_no_partials(tmp_path)


def test_missing_file_among_good_ones(tmp_path, test_weights):
    good = make_photo(tmp_path / "good.png")
    missing = tmp_path / "gone.png"
    out = tmp_path / "out"
    code, _, stderr = run(str(good), str(missing), "-o", str(out), "--model", str(test_weights), *FAST)
    assert code == 1
    assert [p.name for p in out.iterdir()] == ["good.png"]
    assert any(str(missing) in line and "not found" in line for line in error_lines(stderr)), stderr


def test_missing_input_and_empty_folder(tmp_path, test_weights):
    code, _, stderr = run(str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "x.png"),
                          "--model", str(test_weights))
    assert code == 1 and len(error_lines(stderr)) == 1 and "nope.jpg" in stderr and "not found" in stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    code, _, stderr = run(str(tmp_path / "empty"), "-o", str(tmp_path / "o"), "--model", str(test_weights))
    assert code == 1 and "no images found" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "x.png").exists()


def test_usage_errors_exit_2_bad_values_1(tmp_path):
    src = make_photo(tmp_path / "a.png")
    assert run(str(src))[0] == 2  # no -o
    assert run("-o", str(tmp_path / "b.png"))[0] == 2  # no input
    assert run(str(src), "-o", str(tmp_path / "b.png"), "--runtime", "warp")[0] == 1  # a bad value: bad input
    assert not (tmp_path / "b.png").exists()


def test_existing_output_needs_overwrite(tmp_path, test_weights):
    src = make_photo(tmp_path / "a.png")
    dst = tmp_path / "b.png"
    dst.write_bytes(b"precious")
    code, _, stderr = run(str(src), "-o", str(dst), "--model", str(test_weights), *FAST)
    assert code == 1 and "--overwrite" in stderr and str(dst) in stderr
    assert dst.read_bytes() == b"precious"
    code, _, _ = run(str(src), "-o", str(dst), "--overwrite", "--model", str(test_weights), *FAST)
    assert code == 0 and is_coloured(dst)
    assert_no_partials(tmp_path)


def test_output_equal_to_input_is_refused(tmp_path, test_weights):
    src = make_photo(tmp_path / "a.png")
    before = src.read_bytes()
    for extra in ([], ["--overwrite"]):
        code, _, stderr = run(str(src), "-o", str(src), "--model", str(test_weights), *FAST, *extra)
        assert code == 1 and "same file as the input" in stderr
        assert src.read_bytes() == before
    # a folder written onto itself: every file refused, none touched
    code, _, stderr = run(str(tmp_path), "-o", str(tmp_path), "--model", str(test_weights), *FAST,
                          "--overwrite")
    assert code == 1 and src.read_bytes() == before
    assert_no_partials(tmp_path)


def test_output_folder_that_cannot_be_made_is_one_line(tmp_path, test_weights):
    src = make_photo(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "notes").write_text("mine too")
    for target, said in ((tmp_path / "notes", "notes is a file, not a folder"),
                         (tmp_path / "notes.txt", "cannot write .txt files"),
                         (tmp_path / "notes.txt" / "sub", "notes.txt is a file, not a folder")):
        code, _, stderr = run(str(src), "-o", str(target), "--model", str(test_weights), *FAST, "--overwrite")
        assert code == 1 and said in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "notes").read_text() == "mine too"


def test_bad_model_file(tmp_path):
    src = make_photo(tmp_path / "a.png")
    bogus = tmp_path / "model.safetensors"
    bogus.write_text("not weights")
    code, _, stderr = run(str(src), "-o", str(tmp_path / "b.png"), "--model", str(bogus))
    assert code == 1 and len(error_lines(stderr)) == 1 and str(bogus) in stderr and "Traceback" not in stderr
    assert not (tmp_path / "b.png").exists()


def test_no_shipped_weights_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS_DIR", tmp_path / "empty")
    src = make_photo(tmp_path / "a.png")
    code, _, stderr = run(str(src), "-o", str(tmp_path / "b.png"))
    lines = error_lines(stderr)
    assert code == 1 and len(lines) == 1, stderr
    assert "filmcolor train" in lines[0] and "--model PATH" in lines[0]
    assert stderr.strip().count("\n") == 0


def test_file_names_with_brackets_are_printed_as_they_are(tmp_path, test_weights):
    bad = tmp_path / "scan [old]" / "photo.jpg"
    bad.parent.mkdir()
    bad.write_text("not a picture")
    code, _, stderr = run(str(bad), "-o", str(tmp_path / "b.png"), "--model", str(test_weights), *FAST)
    assert code == 1 and str(bad) in stderr


@pytest.mark.slow
def test_python_dash_m_reports_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "filmcolor", "image", str(tmp_path / "missing.jpg"), "-o",
                           str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "missing.jpg" in proc.stderr and "Traceback" not in proc.stderr
    assert len(error_lines(proc.stderr)) == 1


def test_a_picture_over_the_limit_is_one_line_and_leaves_nothing(tmp_path, test_weights, png_bomb_over_limit):
    out = tmp_path / "out.png"
    code, _, stderr = run(str(png_bomb_over_limit), "-o", str(out), "--model", str(test_weights), *FAST)
    assert code == 1 and stderr.strip().count("\n") == 0, stderr
    assert f"{png_bomb_over_limit}: image too large (20001x20000" in stderr
    assert list(tmp_path.iterdir()) == []


def test_an_output_we_cannot_write_is_an_error_not_a_folder(tmp_path, test_weights):
    src = make_photo(tmp_path / "in.png")
    code, _, stderr = run(str(src), "-o", str(tmp_path / "still.gif"), "--model", str(test_weights), *FAST)
    assert code == 1 and error_lines(stderr) == [f"error: {tmp_path / 'still.gif'}: cannot write .gif files; use "
                                                 ".jpg, .jpeg, .png, .tif, .tiff, .jp2, .bmp, .webp, or a folder name "
                                                 "without an extension"], stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def make_gif(path: Path, frames: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("gif", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "rgb8"
        for i in range(frames):
            gray = np.full((24, 32, 3), 40 + 60 * i, np.uint8)
            gray[:12] = 200 - 60 * i
            for packet in stream.encode(av.VideoFrame.from_ndarray(gray, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize("frames", [3, 1])
def test_animated_gif_warns_first_frame_only(tmp_path, test_weights, frames):
    src = make_gif(tmp_path / "anim.gif", frames)
    dst = tmp_path / "colour.png"
    code, _, err = run(str(src), "-o", str(dst), "--model", str(test_weights), *FAST)
    assert code == 0, err
    assert read_image(dst).shape[:2] == (24, 32)  # still written
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    if frames > 1:  # the 1-frame GIF is the negative control: nothing to say
        assert warned == [f"warning: {src}: animated GIF (3 frames): only the first frame is coloured"]
    else:
        assert warned == []


@pytest.mark.parametrize("ext, said", [(".tif", "multi-page TIFF (3 pages): only the first page is coloured"),
                                       (".webp", "animated WebP (3 frames): only the first frame is coloured"),
                                       # (an audit: an APNG's first frame alone, without a word)
                                       (".png", "animated PNG (3 frames): only the first frame is coloured")])
def test_multi_page_tiff_and_animated_webp_warn_first_picture_only(tmp_path, test_weights, ext, said):
    pages = [Image.fromarray(np.full((24, 32), v, np.uint8)) for v in (40, 120, 200)]
    src = tmp_path / f"scans{ext}"
    pages[0].save(src, save_all=True, append_images=pages[1:])
    single = tmp_path / f"single{ext}"
    pages[0].save(single)  # the negative control: one picture, nothing to say
    for path, expected in ((src, [f"warning: {src}: {said}"]), (single, [])):
        code, _, err = run(str(path), "-o", str(tmp_path / f"{path.stem}_out.png"), "--model", str(test_weights),
                           *FAST)
        assert code == 0, err
        assert [line for line in err.splitlines() if line.startswith("warning:")] == expected


@pytest.mark.parametrize("ext", [".gif", ".tif"])
def test_an_animated_picture_whose_name_is_not_utf_8_is_read(tmp_path, test_weights, ext):
    """An audit: counting an animated GIF's frames (or a TIFF's pages) with OpenCV crashed the process (a
    segfault) when the file's name was not UTF-8, as Latin-1 names of old archives are."""
    pages = [Image.fromarray(np.full((24, 32), v, np.uint8)) for v in (40, 120, 200)]
    src = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9" + ext.encode()))
    with open(src, "w+b") as f:  # (a TIFF's pages are written with seeks back)
        pages[0].save(f, format=ext[1:].replace("tif", "tiff").upper(), save_all=True, append_images=pages[1:])
    code, _, err = run(str(src), "-o", str(tmp_path / "out.png"), "--model", str(test_weights), *FAST)
    assert code == 0 and "(3 " in err and "only the first" in err, err


def test_file_names_are_printed_as_given(tmp_path, test_weights):
    src = make_photo(tmp_path / "a:x:b.png")  # rich would print ":x:" as an emoji
    code, _, stderr = run(str(src), "-o", str(tmp_path / "out:smile:.png"), "--model", str(test_weights), *FAST)
    assert code == 0 and "a:x:b.png" in stderr and "out:smile:.png" in stderr, stderr


def test_render_size_out_of_range_is_one_line(tmp_path, test_weights):
    src = make_photo(tmp_path / "a.png")
    code, _, stderr = run(str(src), "-o", str(tmp_path / "o.png"), "--model", str(test_weights), "--render-size",
                          "100000")
    assert code == 1 and "'--render-size': 100000: must be between 32 and 2048" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


def test_two_inputs_onto_one_output_are_refused_before_any_work(tmp_path, test_weights):
    a, b = make_photo(tmp_path / "x" / "a.png"), make_photo(tmp_path / "y" / "a.png")
    code, _, stderr = run(str(a), str(b), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST,
                          "--overwrite")
    assert code == 1 and "both" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert not (tmp_path / "out").exists()  # refused while planning, before the folder is made


def test_output_folder_inside_the_input_folder_is_not_input(tmp_path, test_weights):
    make_photo(tmp_path / "a.png")
    for _ in range(2):
        code, _, stderr = run(str(tmp_path), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST,
                              "--overwrite")
        assert code == 0, stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["a.png", "out/a.png"]


def test_output_folder_that_is_the_input_folder_says_so(tmp_path, test_weights):
    folder = tmp_path / "photos"
    make_photo(folder / "a.png")
    before = (folder / "a.png").read_bytes()
    for target in (folder, tmp_path):  # the input folder itself, or a folder that holds it
        code, _, stderr = run(str(folder), "-o", str(target), "--model", str(test_weights), *FAST, "--overwrite")
        assert code == 1 and "the output folder holds the images of" in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1
    assert (folder / "a.png").read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["a.png"]


def test_a_photos_caption_and_date_reach_its_coloured_copy(tmp_path: Path) -> None:
    from PIL import ExifTags

    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = "Street cleaning, 1906"
    exif[ExifTags.Base.Orientation] = 8  # stored sideways
    gray = np.asarray(Image.open(make_photo(tmp_path / "plain.png")))
    Image.fromarray(gray).save(tmp_path / "scan.jpg", exif=exif, quality=95)
    code, _, stderr = run(str(tmp_path / "scan.jpg"), "-o", str(tmp_path / "out.png"), *FAST)
    assert code == 0 and "warning" not in stderr and "error" not in stderr
    out = Image.open(tmp_path / "out.png")
    assert out.getexif().get(ExifTags.Base.ImageDescription) == "Street cleaning, 1906"
    assert out.getexif().get(ExifTags.Base.Orientation, 1) == 1 and out.size == (40, 56)  # upright: 40 x 56
    code, stdout, stderr = run(str(tmp_path / "scan.jpg"), "-o", str(tmp_path / "out.tif"), *FAST)
    assert code == 0 and "warning" not in stderr  # a TIFF keeps the caption too
    assert Image.open(tmp_path / "out.tif").tag_v2[ExifTags.Base.ImageDescription] == "Street cleaning, 1906"
    code, stdout, stderr = run(str(tmp_path / "scan.jpg"), "-o", str(tmp_path / "out.bmp"), *FAST)
    assert code == 0 and "not kept: the photo's EXIF/XMP/IPTC (a .bmp output keeps none" in stdout + stderr


def test_a_16_bit_scan_is_coloured_at_16_bits(tmp_path, test_weights):
    """A 16-bit gray scan (a ramp finer than 256 levels) comes out 16-bit with its own L, in a .png or .tif;
    a .jpg says it could keep only 8 bits."""
    ramp = np.linspace(0, 65535, 60 * 80).reshape(60, 80).astype(np.uint16)
    src = tmp_path / "scan.tif"
    assert cv2.imwrite(str(src), ramp)
    code, _, err = run(str(src), "-o", str(tmp_path / "out"), "--ext", ".png", "--model", str(test_weights), *FAST)
    assert code == 0, err
    out = read_image(tmp_path / "out" / "scan.png", deep=True)
    assert out.dtype == np.uint16 and out.shape == (60, 80, 3)
    assert len(np.unique(out.astype(np.uint32) @ [1, 1 << 16, 1 << 32])) > 1000  # not 256 steps
    error = np.abs(lab.rgb_to_lab(out)[..., 0] - lab.gray_to_l(ramp))
    in_gamut = (out.min(axis=2) > 0) & (out.max(axis=2) < 65535)  # (clipped colours move L, at any depth)
    assert in_gamut.mean() > 0.3 and error[in_gamut].max() < 0.01  # its own L at 16 bits (8 bits: ~0.12 mean)
    code, _, err = run(str(src), "-o", str(tmp_path / "out.jpg"), "--model", str(test_weights), *FAST)
    assert code == 0 and "not kept: 16 bits a channel" in err


def test_a_panorama_over_32767_pixels_wide_is_coloured(tmp_path, test_weights):
    """33000 x 40: OpenCV's remap takes no side of 32767 or more; the picture is coloured whole, its own L."""
    gray = np.linspace(20, 235, 33000)[None, :].repeat(40, 0).astype(np.uint8)
    src, dst = tmp_path / "panorama.png", tmp_path / "out.png"
    assert cv2.imwrite(str(src), gray)
    code, _, err = run(str(src), "-o", str(dst), "--model", str(test_weights), *FAST)
    assert code == 0, err
    out = read_image(dst)
    assert out.shape == (40, 33000, 3) and is_coloured(dst)
    out, gray = out[:, ::7], gray[:, ::7]  # skimage on a subsample keeps this quick
    in_gamut = (out.min(axis=2) > 0) & (out.max(axis=2) < 255)
    error = np.abs(color.rgb2lab(out)[..., 0] - color.rgb2lab(np.dstack([gray] * 3))[..., 0])
    assert in_gamut.mean() > 0.5 and error[in_gamut].max() < 1.0


@pytest.mark.parametrize(("ext", "side"), [(".webp", 16383), (".jpg", 65500)])
def test_an_output_format_too_small_for_the_picture_is_named(tmp_path, test_weights, ext, side):
    """WebP holds 16383 pixels a side, JPEG 65500: a wider picture was 'could not encode' and OpenCV's own
    lines on stderr; now one line that says what to write instead, and no file."""
    src, dst = tmp_path / "panorama.png", tmp_path / f"out{ext}"
    assert cv2.imwrite(str(src), np.full((8, side + 1), 128, np.uint8))
    code, out, err = run(str(src), "-o", str(dst), "--model", str(test_weights), *FAST)
    assert code == 1
    assert err.strip() == (f"error: {dst}: a {ext} picture is at most {side} pixels a side, and this one is "
                           f"{side + 1}x8; write .png or .tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panorama.png"]


def test_jpeg_2000s_other_names_are_found_and_copied_as_jp2(tmp_path, test_weights):
    """A library's JPX scans (.jpf) and bare codestreams (.j2k) were read when named, but no folder run found
    them, and a copy would have gone into .png. They are found, and copied as lossless .jp2 at their depth."""
    ramp = np.linspace(0, 65535, 40 * 56).reshape(40, 56).astype(np.uint16)
    assert cv2.imwrite(str(tmp_path / "deep.jp2"), ramp)
    album = tmp_path / "album"
    album.mkdir()
    (tmp_path / "deep.jp2").rename(album / "scan.jpf")
    Image.open(make_photo(tmp_path / "frame.png")).save(album / "frame.j2k")  # Pillow: a bare codestream
    assert (album / "frame.j2k").read_bytes()[:4] == b"\xff\x4f\xff\x51"
    code, _, err = run(str(album), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["frame.jp2", "scan.jp2"]
    deep = read_image(tmp_path / "out" / "scan.jp2", deep=True)
    assert deep.dtype == np.uint16 and deep.shape == (40, 56, 3) and is_coloured(tmp_path / "out" / "frame.jp2")


def test_an_unexpected_error_on_one_photo_leaves_the_others_coloured(tmp_path, test_weights, monkeypatch):
    """An audit: a bug met on one photo of a folder (an EXIF Pillow could not write) ended the whole run; the
    photos after it were never coloured."""
    from filmcolor import photometa

    make_photo(tmp_path / "album" / "a.png")
    make_photo(tmp_path / "album" / "b.png")
    reading = photometa.read_metadata

    def broken_for_a(path):
        if Path(path).name == "a.png":
            raise AttributeError("'IFDRational' object has no attribute 'encode'")
        return reading(path)

    monkeypatch.setattr(photometa, "read_metadata", broken_for_a)
    monkeypatch.delenv("FILMCOLOR_DEBUG", raising=False)
    code, _, err = run(str(tmp_path / "album"), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST)
    assert code == 1 and is_coloured(tmp_path / "out" / "b.png") and not (tmp_path / "out" / "a.png").exists()
    assert error_lines(err) == [
        f"error: {tmp_path / 'album' / 'a.png'}: unexpected AttributeError: 'IFDRational' object has no attribute "
        "'encode' (set FILMCOLOR_DEBUG=1 for a traceback)", "error: 1 of 2 images failed"]


def test_one_photo_in_two_formats_gets_two_names(tmp_path, test_weights):
    """A second audit: scan.jpf beside scan.jp2 (both copied as .jp2) refused the whole folder; as batch does,
    the second is scan-2.jp2. Two photos of one name in two folders still cannot share one output."""
    album = tmp_path / "album"
    album.mkdir()
    for name in ("scan.jp2", "scan.jpf"):
        assert cv2.imwrite(str(tmp_path / "x.jp2"), np.full((40, 56), 90, np.uint8))
        (tmp_path / "x.jp2").rename(album / name)
    code, _, err = run(str(album), "-o", str(tmp_path / "out"), "--model", str(test_weights), *FAST)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["scan-2.jp2", "scan.jp2"]


def test_output_names_for_one_photo_in_several_formats_follow_batch(tmp_path):
    """A third audit: the renaming took names a photo of the folder had (scan-2.jp2), gave a photo's own name
    to another format of it, and coloured a photo named twice twice."""
    from filmcolor.cli.image import plan_outputs

    d = tmp_path / "d"
    for name in ("scan.jp2", "scan.jpf", "scan-2.jp2", "scan.j2k", "x.jpg", "x.png", "x.tif"):
        make_photo(d / name.replace(".jp2", ".png").replace(".jpf", ".png").replace(".j2k", ".png")).rename(d / name)
    out = tmp_path / "out"
    named = {s.name: o.name for s, o in plan_outputs((d,), out, None)}
    assert named["scan.jp2"] == "scan.jp2" and named["scan-2.jp2"] == "scan-2.jp2"  # each keeps its own
    assert sorted([named["scan.jpf"], named["scan.j2k"]]) == ["scan-3.jp2", "scan-4.jp2"]
    with_ext = {s.name: o.name for s, o in plan_outputs((d / "x.jpg", d / "x.png", d / "x.tif"), out, ".png")}
    assert with_ext == {"x.jpg": "x-2.png", "x.png": "x.png", "x.tif": "x-3.png"}
    assert plan_outputs((d / "x.jpg", d / "x.jpg"), out, None) == [(d / "x.jpg", out / "x.jpg")]


def test_links_and_photos_beside_the_inputs_keep_their_own(tmp_path, test_weights):
    """A fourth audit: a link beside a photo in a folder was taken for the photo given twice (its copy lost),
    a link that loops among the inputs stopped the run ('unexpected RuntimeError'), and a copy written into
    the input folder took scan-2.jp2, a photo there, and with --overwrite destroyed it."""
    from filmcolor.cli.image import plan_outputs

    g = tmp_path / "g"
    make_photo(g / "g.png")
    (g / "alias.png").symlink_to("g.png")
    assert sorted(o.name for _, o in plan_outputs((g,), tmp_path / "o", None)) == ["alias.png", "g.png"]
    (g / "loop.png").symlink_to("loop.png")
    code, _, err = run(str(g / "loop.png"), str(g / "g.png"), "-o", str(tmp_path / "o2"), "--model",
                       str(test_weights), *FAST)
    assert code == 1 and is_coloured(tmp_path / "o2" / "g.png") and "loop.png" in err and "Runtime" not in err
    k = tmp_path / "k"
    k.mkdir()
    for name in ("scan.jp2", "scan.jpf", "scan-2.jp2"):
        assert cv2.imwrite(str(tmp_path / "x.jp2"), np.full((40, 56), 90, np.uint8))
        (tmp_path / "x.jp2").rename(k / name)
    kept = (k / "scan-2.jp2").read_bytes()
    assert dict((s.name, o.name) for s, o in plan_outputs((k / "scan.jpf", k / "scan.jp2"), k, None)) == {
        "scan.jpf": "scan-3.jp2", "scan.jp2": "scan.jp2"}
    assert (k / "scan-2.jp2").read_bytes() == kept
