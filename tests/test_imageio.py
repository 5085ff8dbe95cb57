"""Reading and writing stills: every bad file a user can hand us gives a one-line InputError naming it."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from media import png_bomb
from PIL import Image

from filmcolor.download import image_folder
from filmcolor.errors import InputError, OutputError
from filmcolor.fsutil import PARTIAL_MARK
from filmcolor.imageio import MAX_PIXELS, declared_size, list_images, output_is_file, read_image, write_image


def assert_input_error(path: Path, match: str) -> None:
    with pytest.raises(InputError) as info:
        read_image(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and match in message, message


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(base, (80, 60), interpolation=cv2.INTER_LINEAR)  # smooth, so JPEG keeps it close


def test_missing_file(tmp_path):
    assert_input_error(tmp_path / "absent.jpg", "not found")


def test_folder_is_not_an_image(tmp_path):
    assert_input_error(tmp_path, "folder")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert_input_error(path, "empty")


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_not_an_image(device):
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    assert_input_error(Path(device), "not a regular file")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    assert_input_error(path, "not an image")


def test_truncated_jpeg(tmp_path, rgb):
    path = tmp_path / "cut.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    assert_input_error(path, "truncated")


def test_a_jpeg_cut_short_with_its_end_marker_kept_is_damaged(tmp_path):
    """An audit: a JPEG whose scan data stops half-way but that still ends with EOI (a copy mended by a
    tool, a recovered file) decoded with its lower half gray, was coloured and said 'ok'; libjpeg's own
    line went to the terminal unattributed. Data it skips is said, named, as a warning."""
    rng = np.random.default_rng(1)
    picture = cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (400, 300))
    full = tmp_path / "full.jpg"
    Image.fromarray(picture).save(full, quality=95)
    data = full.read_bytes()
    cut = tmp_path / "cut_with_eoi.jpg"
    cut.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    assert_input_error(cut, "damaged JPEG (Corrupt JPEG data: premature end of data segment)")
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(data[:-2] + b"\x00" * 16 + b"\xff\xd9")
    said: list[str] = []
    assert read_image(padded, said).shape == (300, 400, 3)
    assert said == [f"{padded}: Corrupt JPEG data: 12 extraneous bytes before marker 0xd9 (the picture may "
                    "be damaged)"], said


def test_truncated_jpeg_with_thumbnail_markers_before_the_scan(tmp_path, rgb):
    """An EXIF thumbnail carries its own end-of-image marker; that one must not hide the truncation."""
    path = tmp_path / "thumb.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    data = path.read_bytes()
    fake_thumbnail = b"Exif\x00\x00" + b"\xff\xd8\xff\xda\x00\x02" + b"\x55" * 64 + b"\xff\xd9"
    app1 = b"\xff\xe1" + (len(fake_thumbnail) + 2).to_bytes(2, "big") + fake_thumbnail
    whole = data[:2] + app1 + data[2:]
    path.write_bytes(whole)
    assert read_image(path).shape == (60, 80, 3)  # the segment walk reads it whole
    path.write_bytes(whole[: len(whole) * 2 // 3])
    assert_input_error(path, "truncated")


def test_jpeg_with_data_after_the_end_marker_is_read(tmp_path, rgb):
    """Phones append data (motion photos, depth maps) after the image's end marker: still a good JPEG."""
    path = tmp_path / "motion.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    path.write_bytes(path.read_bytes() + bytes(range(256)) * 40)
    out = read_image(path)
    assert out.shape == (60, 80, 3) and np.abs(out.astype(int) - rgb).mean() < 3


def test_progressive_jpeg(tmp_path, rgb):
    path = tmp_path / "prog.jpg"
    Image.fromarray(rgb).save(path, quality=95, progressive=True)
    assert np.abs(read_image(path).astype(int) - rgb).mean() < 3


def test_rgb_gray_and_rgba_png_exact(tmp_path, rgb):
    rgba = np.dstack([rgb, np.arange(60 * 80, dtype=np.uint32).reshape(60, 80).astype(np.uint8)])
    for array, mode in [(rgb, "RGB"), (rgb[..., 1].copy(), "L"), (rgba, "RGBA")]:
        path = tmp_path / f"{mode}.png"
        Image.fromarray(array, mode).save(path)
        np.testing.assert_array_equal(read_image(path), array)  # RGB order, not OpenCV's BGR


def test_16bit_png_is_scaled_to_8bit(tmp_path):
    rng = np.random.default_rng(0)
    gray16 = rng.integers(0, 65536, (9, 11), dtype=np.uint16)
    color16 = rng.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    cv2.imwrite(str(tmp_path / "c16.png"), color16[..., ::-1])  # OpenCV writes BGR
    gray8, color8 = read_image(tmp_path / "g16.png"), read_image(tmp_path / "c16.png")
    assert gray8.dtype == np.uint8 and gray8.shape == (9, 11)
    assert color8.dtype == np.uint8 and color8.shape == (9, 11, 3)
    np.testing.assert_array_equal(gray8, np.round(gray16 / 65535 * 255).astype(np.uint8))
    np.testing.assert_array_equal(color8, np.round(color16 / 65535 * 255).astype(np.uint8))


def test_deep_read_keeps_16_bits_and_a_16_bit_picture_writes_16_bits_where_the_format_holds_them(tmp_path):
    rng = np.random.default_rng(1)
    color16 = rng.integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.tif"), color16[..., ::-1])
    deep = read_image(tmp_path / "c16.tif", deep=True)
    assert deep.dtype == np.uint16 and np.array_equal(deep, color16)
    eight = np.zeros((4, 5), np.uint8)
    assert read_image(_png(tmp_path / "g8.png", eight), deep=True).dtype == np.uint8  # 8 bits stay 8
    for ext in (".png", ".tif"):
        assert write_image(tmp_path / f"out{ext}", deep) == []
        assert np.array_equal(read_image(tmp_path / f"out{ext}", deep=True), color16)
    notes = write_image(tmp_path / "out.jpg", deep)
    assert notes == [f"{tmp_path / 'out.jpg'}: not kept: 16 bits a channel (written as 8; .png, .tif and .jp2 keep 16)"]
    assert read_image(tmp_path / "out.jpg").dtype == np.uint8


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def test_cmyk_jpeg_is_read_as_rgb(tmp_path, rgb):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
    out = read_image(path)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    with Image.open(path) as im:
        assert im.mode == "CMYK"
        reference = np.asarray(im.convert("RGB"))
    assert np.abs(out.astype(int) - reference).mean() < 3


@pytest.mark.parametrize("orientation,turn", [(1, None), (3, cv2.ROTATE_180), (6, cv2.ROTATE_90_CLOCKWISE),
                                              (8, cv2.ROTATE_90_COUNTERCLOCKWISE)])
def test_a_jpeg_is_turned_as_its_exif_says(tmp_path, rgb, orientation, turn):
    """A phone's photo of a print is stored sideways with an EXIF orientation; viewers turn it, so must we."""
    path = tmp_path / "turned.jpg"
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, quality=95, exif=exif)
    out = read_image(path)
    expected = rgb if turn is None else cv2.rotate(rgb, turn)
    assert out.shape == expected.shape and np.abs(out.astype(int) - expected).mean() < 3


def test_palette_and_one_bit_png(tmp_path, rgb):
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    Image.fromarray(rgb[..., 0] > 128).save(tmp_path / "bit.png")
    assert read_image(tmp_path / "p.png").shape == (60, 80, 3)
    np.testing.assert_array_equal(read_image(tmp_path / "bit.png"), np.where(rgb[..., 0] > 128, 255, 0))


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_one_pixel_image(tmp_path, ext):
    path = tmp_path / f"one{ext}"
    Image.fromarray(np.array([[200]], np.uint8)).save(path)
    out = read_image(path)
    assert out.shape == (1, 1) and abs(int(out[0, 0]) - 200) <= 2


@pytest.mark.slow
def test_huge_gray_image_reads_quickly(tmp_path):
    path = tmp_path / "huge.png"
    huge = np.zeros((10000, 10000), np.uint8)
    huge[::97, :] = 255
    assert cv2.imwrite(str(path), huge)
    del huge
    start = time.perf_counter()
    out = read_image(path)
    assert out.shape == (10000, 10000) and out.dtype == np.uint8
    assert out[97, 5] == 255 and out[98, 5] == 0
    assert time.perf_counter() - start < 20


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_write_then_read(tmp_path, rgb, ext):
    path = tmp_path / f"out{ext}"
    write_image(path, rgb)
    assert not list(tmp_path.glob(f"*{PARTIAL_MARK}*"))
    back = read_image(path)
    tolerance = 0 if ext in (".png", ".tif", ".bmp") else 4
    assert back.shape == rgb.shape and np.abs(back.astype(int) - rgb).mean() <= tolerance


def test_write_rgba_to_jpeg_drops_alpha_and_png_keeps_it(tmp_path, rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    write_image(tmp_path / "a.png", rgba)
    write_image(tmp_path / "a.jpg", rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), rgba)
    assert read_image(tmp_path / "a.jpg").shape == rgb.shape


def test_write_refuses_unknown_extension_and_missing_folder(tmp_path, rgb):
    with pytest.raises(OutputError, match="unsupported output extension"):
        write_image(tmp_path / "out.xyz", rgb)
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(OutputError) as info:  # (its missing folders are made; a file in their place is no folder)
        write_image(tmp_path / "afile" / "such" / "out.png", rgb)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.rglob(f"*{PARTIAL_MARK}*"))
    write_image(tmp_path / "new" / "such" / "out.png", rgb)
    assert read_image(tmp_path / "new" / "such" / "out.png").shape == rgb.shape


def test_list_images_finds_images_under_folders_and_takes_files_as_given(tmp_path: Path) -> None:
    hidden = ("a/._z.webp", "a/.thumbs/t.jpg", ".trash/a/q.png")  # a Mac's AppleDouble files, hidden folders
    for rel in ("b/x.PNG", "a/deep/y.jpg", "a/z.webp", "a/notes.txt", "a/clip.mp4", "c/w.png", *hidden):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    found = list_images([tmp_path / "a", tmp_path / "b", tmp_path / "c" / "w.png"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/deep/y.jpg", "a/z.webp", "b/x.PNG", "c/w.png"]
    assert list_images([tmp_path / ".trash"]) == [tmp_path / ".trash" / "a" / "q.png"]  # hidden only below the root
    assert list_images([tmp_path / "a" / "._z.webp"]) == [tmp_path / "a" / "._z.webp"]  # a file named is taken
    assert list_images([tmp_path / "a" / "clip.mp4"]) == [tmp_path / "a" / "clip.mp4"]  # a file is taken as given
    (tmp_path / "b" / "x2.png").write_bytes(b"")
    assert image_folder([tmp_path, tmp_path / "c" / "w.png"]) == tmp_path / "b"  # the most images directly
    assert image_folder([tmp_path / "c" / "w.png"]) is None  # files are not folders to train on


def _pil_variants(path: Path, rgb: np.ndarray, kind: str) -> None:
    """Headers OpenCV does not write: lossless and RGBA WebP, big-endian deflate TIFF, EXIF before the
    JPEG frame header, progressive JPEG, 1-bit PBM."""
    image = Image.fromarray(rgb)
    if kind == "webp-lossless":
        Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(path, lossless=True)
    elif kind == "tif-big-endian":
        image.save(path, compression="tiff_deflate", tiffinfo={}, big_endian=True)
    elif kind == "jpg-exif":
        exif = Image.Exif()
        exif[0x010E] = "a long description " * 2000  # ~38 KB of EXIF before the SOF marker
        image.save(path, exif=exif)
    elif kind == "jpg-progressive":
        image.save(path, progressive=True)
    else:
        Image.fromarray(rgb[..., 0] > 128).save(path)


@pytest.mark.parametrize("kind", [".png", ".jpg", ".bmp", ".webp", ".tif", ".jp2", ".ppm", ".pgm", "webp-lossless",
                                  "tif-big-endian", "jpg-exif", "jpg-progressive", "pbm"])
def test_declared_size_is_the_decoded_size(tmp_path, rgb, kind):
    odd = np.ascontiguousarray(rgb[:37, :53])  # odd sides: width and height cannot be mixed up unseen
    ext = kind if kind.startswith(".") else "." + kind.split("-")[0]
    path = tmp_path / f"a{ext}"
    if kind.startswith("."):
        assert cv2.imwrite(str(path), odd[..., 0] if ext == ".pgm" else odd)
    else:
        _pil_variants(path, odd, kind)
    decoded = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)  # the reference
    assert declared_size(path.read_bytes()) == (decoded.shape[1], decoded.shape[0])
    assert declared_size(b"not a picture at all") is None


@pytest.mark.slow
def test_a_picture_over_the_limit_is_refused_from_its_header(png_bomb_over_limit: Path, tmp_path: Path) -> None:
    """Issue 14: 389 KB of PNG declaring 400 megapixels was decoded first (19 GB to colour it)."""
    probe = ("import re, sys\nfrom filmcolor.imageio import read_image\ntry:\n    read_image(sys.argv[1])\n"
             "except Exception as err:\n    print(err)\n"  # peak RSS of this process (ru_maxrss counts the fork)
             "print(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())[1])\n")

    def peak_kb(path: Path) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
        message, peak = out.stdout.strip().rsplit("\n", 1) if "\n" in out.stdout.strip() else ("", out.stdout)
        return message, int(peak)

    message, refused_kb = peak_kb(png_bomb_over_limit)
    assert message == f"{png_bomb_over_limit}: image too large (20001x20000, limit {MAX_PIXELS} pixels)"
    decoded_kb = peak_kb(png_bomb(tmp_path / "small_bomb.png", 8000, 8000))[1]  # control: 64 MB decoded
    assert decoded_kb - refused_kb > 50_000, (refused_kb, decoded_kb)  # the probe sees a decode when one happens
    assert refused_kb < 200_000  # python, numpy and OpenCV: nothing of the 400 MB the picture would take


def test_output_is_file_or_folder_or_one_line_error(tmp_path: Path) -> None:
    photo = tmp_path / "in.jpg"
    photo.write_bytes(b"")
    (tmp_path / "album").mkdir()
    (tmp_path / "existing.png").mkdir()  # a folder that happens to look like a file name
    assert output_is_file(tmp_path / "still.png", [photo]) is True
    assert output_is_file(tmp_path / "STILL.JPG", [photo]) is True
    assert output_is_file(tmp_path / "coloured", [photo]) is False
    assert output_is_file(tmp_path / "scans.2019", [photo, photo]) is False  # a dotted folder name
    assert output_is_file(tmp_path / "scans.2019", [tmp_path / "album"]) is False
    assert output_is_file(tmp_path / "existing.png", [photo]) is False
    for name, given, expected in [("still.gif", [photo], "cannot write .gif files"),
                                  ("clip.mp4", [photo], "cannot write .mp4 files"),
                                  ("x.HEIC", [photo], "cannot write .HEIC files"),
                                  ("out.xyz", [photo], "cannot write .xyz files"),  # one photo: a file name
                                  ("out.txt", [photo], "cannot write .txt files"),
                                  ("out.png", [photo, photo], "2 inputs were given"),
                                  ("out.png", [tmp_path / "album"], "the input is a folder")]:
        with pytest.raises(OutputError) as info:
            output_is_file(tmp_path / name, given)
        message = str(info.value)
        assert message.startswith(str(tmp_path / name)) and expected in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["album", "existing.png", "in.jpg"]  # nothing made


def test_what_libpng_prints_becomes_part_of_the_one_line(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """A PNG that declares more rows than it holds: libpng prints "libpng error: Not enough image data" on
    stderr (fd 2) itself; it must be in our one-line error instead, and nowhere else."""
    short = png_bomb(tmp_path / "short.png", 2000, 2000, rows=10)
    with pytest.raises(InputError) as info:
        read_image(short)
    assert "Not enough image data" in str(info.value) and str(short) in str(info.value)
    assert capfd.readouterr().err == ""
    # negative control: the whole picture decodes, and stderr stays as it was
    assert read_image(png_bomb(tmp_path / "whole.png", 200, 100)).shape == (100, 200)
    assert capfd.readouterr().err == ""


def test_libtiff_speaks_once_through_the_warnings_and_hdr_values_are_named(tmp_path, capfd):
    """An RGBA TIFF as OpenCV writes it makes libtiff warn: that went to the terminal raw as well (from the page
    count), besides the warning line. A float picture's values above 1.0 were clipped without a word."""
    rgba = np.random.default_rng(2).integers(0, 65536, (9, 11, 4), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "rgba.tif"), rgba)
    notes: list[str] = []
    read_image(tmp_path / "rgba.tif", notes, deep=True)
    assert "[ WARN" not in capfd.readouterr().err
    assert sum("TIFF" in n for n in notes) == 1, notes
    hdr = (np.arange(40 * 50).reshape(40, 50) / (40 * 50) * 4).astype(np.float32)
    assert cv2.imwrite(str(tmp_path / "hdr.tif"), hdr)
    notes = []
    read_image(tmp_path / "hdr.tif", notes, deep=True)
    assert notes == [f"{tmp_path / 'hdr.tif'}: values outside 0-1 clipped: 75% above 1.0 (high dynamic range)"]
    odd = hdr - 0.5
    odd[0, :5] = [np.nan, np.inf, -np.inf, np.nan, np.nan]  # a float scan's holes
    assert cv2.imwrite(str(tmp_path / "odd.tif"), odd)
    notes = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow warning went to the terminal
        image = read_image(tmp_path / "odd.tif", notes, deep=True)
    assert notes == [f"{tmp_path / 'odd.tif'}: values outside 0-1 clipped: 62% above 1.0 (high dynamic range), "
                     "12% below 0, 1% not numbers"]
    assert image[0, :3].tolist() == [0, 65535, 0]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_gray_and_alpha_tiff_keeps_its_alpha_and_its_depth(tmp_path: Path, dtype) -> None:
    """OpenCV reads a gray+alpha TIFF as 8-bit gray alone; it is read whole (tifffile), upright as libtiff turns
    it, and its coloured copy keeps the alpha."""
    top = np.iinfo(dtype).max
    stored = np.zeros((30, 20, 2), dtype)
    stored[..., 0] = (np.linspace(0.1, 0.9, 20) * top).astype(dtype)
    stored[:10, :, 1] = top  # opaque top rows, transparent below
    path = tmp_path / "cutout.tif"
    tifffile.imwrite(path, stored, photometric="minisblack", extrasamples=("unassalpha",), compression="zlib",
                     extratags=[(274, "H", 1, 6, True)])  # stored sideways: shown turned a quarter clockwise
    shown = np.rot90(stored, -1)
    image = read_image(path, deep=True)
    assert image.dtype == dtype and image.shape == (20, 30, 4)
    assert np.array_equal(image[..., 3], shown[..., 1])
    assert all(np.array_equal(image[..., c], shown[..., 0]) for c in range(3))


def test_a_gray_and_alpha_tiff_in_lzw_is_read_by_pillow_or_says_what_it_loses(tmp_path: Path, monkeypatch) -> None:
    """tifffile reads no LZW without imagecodecs: Pillow reads an 8-bit one; what neither reads is OpenCV's
    gray, and the warning says what was lost."""
    la = np.dstack([np.tile(np.arange(0, 200, 10, dtype=np.uint8), (6, 1)), np.full((6, 20), 90, np.uint8)])
    path = tmp_path / "cutout.tif"
    Image.fromarray(la, "LA").save(path, compression="tiff_lzw")
    image = read_image(path, notes := [])
    assert notes == [] and np.array_equal(image[..., 3], la[..., 1]) and np.array_equal(image[..., 0], la[..., 0])
    monkeypatch.setattr(tifffile.TiffFile, "__init__", lambda *a, **k: (_ for _ in ()).throw(KeyError("LZW")))
    monkeypatch.setattr("filmcolor.imageio._pillow_gray_alpha", lambda path: None)
    image = read_image(path, notes := [])
    assert np.array_equal(image, la[..., 0])
    assert notes == [f"{path}: gray with alpha, read as 8-bit gray without it (tifffile: 'LZW'; 'pip install "
                     "imagecodecs' reads it whole)"]


def _two_channel_tiff(path: Path, stored: np.ndarray, extra: str, **options) -> Path:
    tifffile.imwrite(path, stored, photometric=options.pop("photometric", "minisblack"), extrasamples=(extra,),
                     **options)
    return path


def test_a_gray_tiffs_second_channel_is_alpha_only_when_it_says_so(tmp_path: Path) -> None:
    """An audit: a scanner's 16-bit gray + infrared (ExtraSamples 0) became a see-through picture; MinIsWhite
    came out as a negative; associated alpha is unmultiplied; a planar file 2 pixels wide was misread."""
    gray = np.tile(np.linspace(1000, 60000, 16).astype(np.uint16), (4, 1))
    infrared = np.full_like(gray, 30000)
    path = _two_channel_tiff(tmp_path / "ir.tif", np.dstack([gray, infrared]), "unspecified")
    image = read_image(path, notes := [], deep=True)
    assert image.dtype == np.uint16 and np.array_equal(image, gray)  # the gray alone, at 16 bits
    assert notes == [f"{path}: its second channel, not alpha (ExtraSamples 0: a scanner's infrared?), left out"]
    eight = (gray // 257).astype(np.uint8)
    path = _two_channel_tiff(tmp_path / "white.tif", np.dstack([255 - eight, np.full_like(eight, 255)]),
                             "unassalpha", photometric="miniswhite")
    assert np.array_equal(read_image(path)[..., 0], eight)  # inverted, as libtiff does
    half = np.full_like(eight, 128)
    premultiplied = (eight.astype(np.uint16) * 128 // 255).astype(np.uint8)
    path = _two_channel_tiff(tmp_path / "assoc.tif", np.dstack([premultiplied, half]), "assocalpha")
    assert np.abs(read_image(path)[..., 0].astype(int) - eight).max() <= 2  # unmultiplied, to rounding
    planar = np.stack([eight[:, :2], np.full((4, 2), 77, np.uint8)])  # (2, 4, 2): samples first, 2 wide
    path = _two_channel_tiff(tmp_path / "planar.tif", planar, "unassalpha", planarconfig="separate")
    image = read_image(path)
    assert image.shape == (4, 2, 4) and np.array_equal(image[..., 0], eight[:, :2]) and (image[..., 3] == 77).all()


def test_jpeg_2000_scans_are_read_and_written_at_their_depth(tmp_path: Path) -> None:
    """JPEG 2000 is what many libraries keep their scans in: read at 8 or 16 bits, written losslessly at the
    input's depth; its header's size guards against a picture too large, and a file cut short is one line."""
    ramp = (np.arange(37 * 53, dtype=np.uint32).reshape(37, 53) * 31).astype(np.uint16)
    src = tmp_path / "scan.jp2"
    assert cv2.imwrite(str(src), ramp)
    assert np.array_equal(read_image(src, deep=True), ramp)
    rgb = np.dstack([ramp, ramp // 2, 65535 - ramp])
    write_image(tmp_path / "out.jp2", rgb)
    assert np.array_equal(read_image(tmp_path / "out.jp2", deep=True), rgb)  # lossless, 16 bits
    data = bytearray(src.read_bytes())
    at = data.index(b"ihdr") + 4
    data[at:at + 8] = (30000).to_bytes(4, "big") * 2  # the header says 30000 x 30000
    (tmp_path / "bomb.jp2").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bomb.jp2: image too large \(30000x30000, limit"):
        read_image(tmp_path / "bomb.jp2")
    (tmp_path / "cut.jp2").write_bytes(src.read_bytes()[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut.jp2: a damaged or cut-short JPEG 2000 file \([^/]*OpenJPEG2000: "
                                         r"[^/]*\)$"):  # (OpenCV's own source line gone; an audit)
        read_image(tmp_path / "cut.jp2")


@pytest.mark.parametrize("ext", [".tif", ".bmp", ".png"])
def test_a_cut_short_picture_says_what_it_is(tmp_path, ext):
    """An audit: a truncated TIFF, BMP or JPEG 2000 said 'not an image OpenCV can decode (imdecode_ ...:
    OpenCV(5.1.0) /io/opencv/modules/imgcodecs/src/bitstrm.cpp:59: error: ...)'."""
    rng = np.random.default_rng(0)
    whole = tmp_path / f"whole{ext}"
    cv2.imwrite(str(whole), rng.integers(0, 255, (200, 300, 3), dtype=np.uint8))
    (tmp_path / f"cut{ext}").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    kind = {".tif": "TIFF", ".bmp": "BMP", ".png": "PNG"}[ext]
    with pytest.raises(InputError, match=rf"cut{ext}: a damaged or cut-short {kind} file \(") as caught:
        read_image(tmp_path / f"cut{ext}")
    assert "OpenCV(" not in str(caught.value) and ".cpp" not in str(caught.value)


def test_gray_and_extra_in_a_bigtiff_and_by_pillow_found_by_a_second_audit(tmp_path: Path) -> None:
    """A BigTIFF's gray + infrared came out 8-bit with nothing said; an LZW gray+alpha file, read by Pillow
    (libtiff turns it itself), was turned twice; Pillow's premultiplied 'La' was refused."""
    gray = np.tile(np.linspace(1000, 60000, 16).astype(np.uint16), (4, 1))
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.dstack([gray, gray // 2]), photometric="minisblack", extrasamples=("unspecified",),
                     bigtiff=True)
    assert path.read_bytes()[:4] == b"II+\x00"
    image = read_image(path, notes := [], deep=True)
    assert image.dtype == np.uint16 and np.array_equal(image, gray) and len(notes) == 1
    stored = np.zeros((6, 20, 2), np.uint8)
    stored[..., 0] = np.arange(0, 200, 10)
    stored[:2, :, 1] = 255
    for orientation, shown in ((6, np.rot90(stored, -1)), (2, stored[:, ::-1])):
        path = tmp_path / f"lzw{orientation}.tif"
        Image.fromarray(stored, "LA").save(path, compression="tiff_lzw", tiffinfo={274: orientation})
        image = read_image(path)
        assert image.shape == shown.shape[:2] + (4,)
        assert np.array_equal(image[..., 0], shown[..., 0]) and np.array_equal(image[..., 3], shown[..., 1])
    half = np.dstack([stored[..., 0] // 2, np.full((6, 20), 128, np.uint8)])  # premultiplied by 128/255
    path = tmp_path / "la_assoc.tif"
    Image.fromarray(half, "LA").save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for at in range(ifd + 2, ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0], 12):
        if struct.unpack_from("<H", data, at)[0] == 338:  # ExtraSamples: 1, associated (Pillow writes 2)
            struct.pack_into("<H", data, at + 8, 1)
    path.write_bytes(bytes(data))
    with Image.open(path) as check:
        assert check.mode == "La"
    assert np.abs(read_image(path)[..., 0].astype(int) - stored[..., 0]).max() <= 2  # unmultiplied


def test_a_float_gray_and_alpha_tiff_libtiff_refuses_is_read_by_tifffile(tmp_path: Path, capfd) -> None:
    """A second audit: OpenCV refused a 32-bit float gray+alpha TIFF, printing libtiff's check on the terminal."""
    stored = np.zeros((5, 6, 2), np.float32)
    stored[..., 0], stored[..., 1] = np.linspace(0, 1, 6), 0.5
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, stored, photometric="minisblack", extrasamples=("unassalpha",))
    image = read_image(path, notes := [], deep=True)
    assert image.dtype == np.uint16 and image.shape == (5, 6, 4) and notes == []
    assert np.array_equal(image[0, :, 0], np.round(np.linspace(0, 1, 6) * 65535).astype(np.uint16))
    assert (image[..., 3] == 32768).all()
    assert capfd.readouterr().err == ""


def test_jpeg_2000_is_written_losslessly_and_12_bits_are_scaled_found_by_a_third_audit(tmp_path: Path) -> None:
    """OpenCV's default wrote .jp2 at 4:1 (a grainy 16-bit picture up to 9942 levels off); a 12-bit scan came in
    as 0-4095 in 16 bits (nearly black); a picture under 32 pixels a side gave OpenJPEG's own error."""
    from filmcolor import jp2

    grain = np.random.default_rng(1).integers(0, 65536, (50, 70, 3)).astype(np.uint16)
    write_image(tmp_path / "grain.jp2", grain)
    assert np.array_equal(read_image(tmp_path / "grain.jp2", deep=True), grain)
    ramp = np.tile((np.arange(256) * 16).astype(np.uint16), (40, 1))  # 0..4080: 12-bit levels
    ok, encoded = cv2.imencode(".jp2", ramp + 30720, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    data = bytearray(encoded.tobytes())
    at = next(start for kind, start, _ in jp2.boxes(data, 12, len(data)) if kind == b"jp2c")
    data[at + 42] = 11  # the codestream's precision: 12 bits (the level shift, 2048 for 32768, takes the 30720)
    (tmp_path / "g12.jp2").write_bytes(bytes(data))
    assert jp2.precision(bytes(data)) == [12]
    deep = read_image(tmp_path / "g12.jp2", deep=True)
    assert np.abs(deep.astype(int) - np.round(ramp.astype(float) * 65535 / 4095)).max() <= 1  # all 16 bits
    thin = np.random.default_rng(2).integers(0, 256, (5, 500, 3)).astype(np.uint8)  # OpenCV codes 32 px at least
    write_image(tmp_path / "thin.jp2", thin)
    assert np.array_equal(read_image(tmp_path / "thin.jp2"), thin)  # by Pillow, losslessly
    # a 16-bit colour thumbnail: 8 bits, said (a second audit: it failed, and batch copies a .j2k into a .jp2)
    assert write_image(tmp_path / "thin16.jp2", thin.astype(np.uint16) * 257) == [
        f"{tmp_path / 'thin16.jp2'}: not kept: 16 bits a channel (written as 8: a colour .jp2 under 32 pixels a side "
        "holds 8 here; .png and .tif keep 16)"]
    assert np.array_equal(read_image(tmp_path / "thin16.jp2"), thin)


def test_jpeg_2000_components_of_different_depths_each_take_their_own_found_by_a_fourth_audit() -> None:
    """One depth (the first component's) for all channels wrapped a 16-bit G around 16 times when R was 12-bit."""
    from filmcolor.imageio import _jp2_full_range

    bgr = np.zeros((2, 3, 3), np.uint16)
    bgr[..., 2], bgr[..., 1], bgr[..., 0] = 4095, 65535, 1023  # R 12 bits, G 16, B 10 (OpenCV's order is BGR)
    out = _jp2_full_range(Path("x.jp2"), bgr, [12, 16, 10])
    assert (out == 65535).all()
    with pytest.raises(InputError, match="JPEG 2000 components of \\[8, 12\\] bits"):
        _jp2_full_range(Path("x.jp2"), bgr[..., :2], [12, 8, 8])


def test_transparency_a_jpeg_cannot_keep_is_named(tmp_path):
    """An audit: an RGBA photo written as .jpg lost its transparency in silence."""
    rgba = np.full((20, 30, 4), 200, np.uint8)
    rgba[..., 3] = 255
    assert write_image(tmp_path / "opaque.jpg", rgba) == []
    rgba[:5, :5, 3] = 0
    assert write_image(tmp_path / "clear.jpg", rgba) == [
        f"{tmp_path / 'clear.jpg'}: not kept: transparency (a .jpg has none: what was transparent shows; .png "
        "and .tif keep it)"]
    assert write_image(tmp_path / "clear.png", rgba) == []
