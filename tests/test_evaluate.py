"""filmcolor eval and the image metrics: numbers on tiny known cases against hand computation and skimage."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import make_guided_weights
from media import color_photo
from skimage.color import lab2rgb, rgb2lab
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from filmcolor.cli import main
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import evaluate_images, luma_of
from filmcolor.imageio import list_images
from filmcolor.metrics import PSNR_CAP, ab_auc, ab_error, colorfulness, psnr, ssim
from filmcolor.models import create_model
from filmcolor.weights import save_weights


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def zero_ab_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A filmcolor-fast whose head is all zeros: tanh(0) = 0, so every prediction has ab exactly 0."""
    torch.manual_seed(0)
    model = create_model("filmcolor-fast")
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    path = tmp_path_factory.mktemp("zero") / "zero_ab.safetensors"
    save_weights(path, model, "filmcolor-fast", {}, {"note": "ab = 0"})
    return path


@pytest.fixture(scope="module")
def guided_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_guided_weights(tmp_path_factory.mktemp("guided") / "guided.safetensors")


def run_eval(*args: str) -> tuple[int, dict | None, str]:
    result = CliRunner().invoke(main, ["eval", *args, "--runtime", "torch", "--device", "cpu", "-q"])
    data = json.loads(result.stdout) if result.stdout.strip() else None  # printed even when some photos failed
    return result.exit_code, data, result.stderr


# ---- the metrics themselves ----

def test_psnr_of_known_arrays() -> None:
    a = np.zeros((4, 5, 3), np.uint8)
    b = np.full((4, 5, 3), 10, np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / 10))  # MSE = 100
    c = a.copy()
    c[0, 0, 0] = 255  # one error of 255 among 60 values: MSE = 255^2 / 60
    assert psnr(a, c) == pytest.approx(10 * math.log10(60))
    assert psnr(a, a) == PSNR_CAP  # identical images: capped, so one exact match cannot make a mean infinite
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    assert psnr(x, y) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=255))


def test_colorfulness_by_hand() -> None:
    assert colorfulness(np.full((8, 8, 3), 77, np.uint8)) == 0.0
    # constant colour: no spread, only the mean term 0.3 * |(R-G, (R+G)/2-B)|
    flat = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    assert colorfulness(flat) == pytest.approx(0.3 * math.hypot(100, 100))
    # half pure red, half pure blue: rg = 255 | 0, yb = 127.5 | -255
    half = np.zeros((4, 4, 3), np.uint8)
    half[:, :2, 0] = 255
    half[:, 2:, 2] = 255
    spread = math.hypot(127.5, 191.25)  # std(rg) = 127.5, std(yb) = (127.5 + 255) / 2
    centre = math.hypot(127.5, -63.75)  # mean(rg) = 127.5, mean(yb) = (127.5 - 255) / 2
    assert colorfulness(half) == pytest.approx(spread + 0.3 * centre)


def test_luma_is_bt601() -> None:
    rgb = color_photo(0, 16, 16)
    expected = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert np.abs(luma_of(rgb).astype(np.float64) - expected).max() <= 0.5 + 1e-6


# ---- eval on tiny known cases ----

def test_zero_ab_model_scores_like_the_luma_picture(zero_ab_weights: Path, tmp_path: Path) -> None:
    photos = [color_photo(i, 48, 64, seed=5) for i in range(3)]
    for i, rgb in enumerate(photos):
        write_rgb(tmp_path / "photos" / f"p{i}.png", rgb)
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(zero_ab_weights),
                                 "--render-size", "64")
    assert code == 0, err
    assert result["images"] == 3

    pred_psnr, gray_psnr, real_cf = [], [], []
    for rgb in photos:
        luma = np.clip(np.round(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])), 0, 255)
        gray_rgb = np.repeat(luma[..., None], 3, axis=2).astype(np.uint8)
        gray_psnr.append(peak_signal_noise_ratio(rgb, gray_rgb, data_range=255))
        # the L-only picture, independently: L of the gray with skimage, ab = 0, back to 8-bit RGB
        lab_gray = rgb2lab(gray_rgb)
        lab_gray[..., 1:] = 0.0
        l_only = np.clip(np.round(lab2rgb(lab_gray) * 255), 0, 255).astype(np.uint8)
        pred_psnr.append(peak_signal_noise_ratio(rgb, l_only, data_range=255))
        real_cf.append(colorfulness(rgb))
    assert result["psnr"] == pytest.approx(np.mean(pred_psnr), abs=0.02)
    assert result["gray_psnr"] == pytest.approx(np.mean(gray_psnr), abs=0.02)
    assert result["psnr_gain"] == pytest.approx(result["psnr"] - result["gray_psnr"], abs=1e-3)
    assert result["colorfulness"] < 0.5  # ab = 0 is gray
    assert result["real_colorfulness"] == pytest.approx(np.mean(real_cf), abs=1e-3)


def test_constant_colour_image(zero_ab_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "flat" / "orange.png", np.full((32, 48, 3), (200, 100, 50), np.uint8))
    code, result, err = run_eval("--data", str(tmp_path / "flat"), "--model", str(zero_ab_weights),
                                 "--render-size", "32")
    assert code == 0, err
    # BT.601 luma 0.299*200 + 0.587*100 + 0.114*50 = 124.2 -> 124; errors 76, 24, 74 per pixel
    mse = (76**2 + 24**2 + 74**2) / 3
    expected = 10 * math.log10(255**2 / mse)
    assert result["gray_psnr"] == pytest.approx(expected, abs=1e-3)
    assert result["psnr"] == pytest.approx(expected, abs=0.05)
    assert result["real_colorfulness"] == pytest.approx(0.3 * math.hypot(100, 100), abs=1e-3)
    assert result["colorfulness_ratio"] == pytest.approx(result["colorfulness"] / result["real_colorfulness"],
                                                          abs=1e-3)


def test_limit_json_out_and_library_agree(test_weights: Path, tmp_path: Path) -> None:
    for i in range(3):
        write_rgb(tmp_path / "photos" / f"coco_{i}.png", color_photo(i, 40, 56, seed=7))
    write_rgb(tmp_path / "photos" / "gray_only.png", np.repeat(color_photo(9, 40, 56)[..., :1], 3, axis=2))
    out = tmp_path / "scores.json"
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights),
                                 "--render-size", "32", "--limit", "2", "--json-out", str(out), "--by-source")
    assert code == 0, err
    assert result["images"] == 2 and json.loads(out.read_text()) == result
    assert set(result["by_source"]) == {"coco"}
    colorizer = Colorizer.from_pretrained(str(test_weights), device="cpu", render_size=32, runtime="torch")
    library = evaluate_images(colorizer, list_images([tmp_path / "photos"])[:2])
    for key in ("psnr", "gray_psnr", "colorfulness", "real_colorfulness"):
        assert result[key] == pytest.approx(library[key], abs=1e-4)
    assert result["colorfulness"] > 1.0  # the test model colours everything


# ---- bad inputs ----

def test_folder_without_images(test_weights: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    code, _, err = run_eval(str(tmp_path / "empty"), "--model", str(test_weights))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no images found" in lines[0]


def test_no_folder_is_a_usage_error(test_weights: Path) -> None:
    code, _, err = run_eval("--model", str(test_weights))
    assert code == 2 and "--data" in err


def test_missing_folder(test_weights: Path, tmp_path: Path) -> None:
    code, _, err = run_eval(str(tmp_path / "nowhere"), "--model", str(test_weights))
    assert code == 1 and "not found" in err


def test_unreadable_images_are_skipped_and_counted(test_weights: Path, tmp_path: Path) -> None:
    for i in range(2):
        write_rgb(tmp_path / "photos" / f"good{i}.png", color_photo(i, 32, 32))
    (tmp_path / "photos" / "a_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "photos" / "b_broken.jpg").write_bytes(b"not a jpeg")
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32")
    assert code == 1, err  # scored what it could read, and says the run was not whole
    assert result["images"] == 2 and result["skipped_unreadable"] == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 3 and lines[2].startswith("warning: 2 file(s) skipped (unreadable"), lines
    assert lines[0].startswith("skipped ") and "a_broken.png" in lines[0]  # each one named, one line each
    assert lines[1].startswith("skipped ") and "b_broken.jpg" in lines[1]
    # negative control: the readable ones alone score the same and skip nothing
    for name in ("a_broken.png", "b_broken.jpg"):
        (tmp_path / "photos" / name).unlink()
    code, clean, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32")
    assert code == 0 and clean["skipped_unreadable"] == 0 and err.strip() == ""
    assert clean["psnr"] == pytest.approx(result["psnr"], abs=1e-6)


@pytest.mark.parametrize("option", ["--json-out", "--sheet"])
def test_outputs_never_replace_a_photo_being_scored(test_weights: Path, tmp_path: Path, option: str) -> None:
    photo = tmp_path / "photos" / "a.png"
    write_rgb(photo, color_photo(0, 32, 32))
    before = photo.read_bytes()
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), option, str(photo))
    assert code == 1 and "same file as the input" in err and err.count("\n") == 1, err
    assert photo.read_bytes() == before
    # negative control: beside the photos, not on one, it is written
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32",
                            option, str(tmp_path / "photos" / "out.png"))
    assert code == 0 and (tmp_path / "photos" / "out.png").stat().st_size > 0, err


def test_json_out_and_sheet_must_differ(test_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "photos" / "a.png", color_photo(0, 32, 32))
    target = str(tmp_path / "out.png")
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--json-out", target,
                            "--sheet", target)
    assert code == 1 and "name the same file" in err and not (tmp_path / "out.png").exists()


def test_only_unreadable_images_is_one_line(test_weights: Path, tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no colour photo to score" in lines[0] and "broken.png" in lines[0]


def test_a_gray_photo_is_skipped_not_scored_at_100_db(test_weights: Path, tmp_path: Path) -> None:
    """An audit: one gray photo among 8 colour ones took the mean gain from +1.87 dB to -7.28 (its gray
    picture is exact: 100 dB) and the colourfulness ratio of a gray folder to 3e10, exit 0."""
    for i in range(2):
        write_rgb(tmp_path / "photos" / f"c{i}.png", color_photo(i, 32, 32))
    args = ("--model", str(test_weights), "--render-size", "32")
    _, alone, _ = run_eval(str(tmp_path / "photos"), *args)
    write_rgb(tmp_path / "photos" / "gray.png", np.repeat(color_photo(5, 32, 32)[..., :1], 3, axis=2))
    code, result, err = run_eval(str(tmp_path / "photos"), *args)
    assert code == 1 and result["images"] == 2 and result["skipped_gray"] == 1, err
    assert "gray.png: a gray photo: no colour to score against" in err
    assert result["psnr_gain"] == pytest.approx(alone["psnr_gain"], abs=1e-6)


def test_a_photo_too_large_to_score_whole_is_scored_shrunk(test_weights: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An audit: a 15000 x 15000 photo took 23.7 GB and the process was killed, with no word."""
    from filmcolor import evaluate

    write_rgb(tmp_path / "photos" / "big.png", color_photo(1, 80, 120))
    monkeypatch.setattr(evaluate, "EVAL_MAX_PIXELS", 2400)  # 40 x 60
    seen: list[tuple[int, int]] = []
    colorizer = Colorizer.from_pretrained(str(test_weights), device="cpu", render_size=32, runtime="torch")
    notes: list[str] = []
    result = evaluate_images(colorizer, [tmp_path / "photos" / "big.png"], notes=notes,
                             on_image=lambda path, gray, pred, rgb: seen.append(rgb.shape[:2]))
    assert result["images"] == 1 and seen == [(40, 60)]
    assert notes == [f"{tmp_path / 'photos' / 'big.png'}: 120x80, scored (and saved, with --save) at 60x40"]


def test_the_guided_scores_skip_a_gray_photo_from_python_too(guided_weights: Path, tmp_path: Path) -> None:
    """An audit: evaluate_hints and evaluate_references, called by scripts/eval_bars.py without the CLI's
    filtering, crashed on a gray photo (NoColourError); it is skipped and counted, the rest scored."""
    from filmcolor.colorize import Colorizer
    from filmcolor.evaluate import evaluate_hints, evaluate_references

    colour = write_rgb(tmp_path / "colour.png", color_photo(0, 32, 32))
    gray = write_rgb(tmp_path / "gray.png", np.repeat(color_photo(1, 32, 32)[..., :1], 3, axis=2))
    colorizer = Colorizer.from_pretrained(guided_weights, device="cpu", runtime="torch", render_size=32)
    hints = evaluate_hints(colorizer, [gray, colour], 3)
    assert hints["images"] == 1 and hints["skipped_gray"] == 1
    from filmcolor.evaluate import evaluate_images

    assert evaluate_images(colorizer, [str(colour)])["images"] == 1  # a str path (an AttributeError on .stem)
    from filmcolor.errors import ConfigError

    with pytest.raises(ConfigError, match="-1 hints: the count must not be negative"):  # (numpy's ValueError)
        evaluate_hints(colorizer, [colour], -1)
    unreadable: list = []
    reference = evaluate_references(colorizer, [(gray, colour), (colour, colour)], unreadable=unreadable)
    assert reference["images"] == 1 and reference["skipped_unreadable"] == 1 and unreadable[0][0] == gray


def test_a_bad_reference_skips_its_pair_only(guided_weights: Path, tmp_path: Path) -> None:
    """An audit: one unreadable reference stopped the whole eval after the automatic scoring, with no JSON."""
    for name in ("a", "b"):
        write_rgb(tmp_path / "photos" / f"{name}.png", color_photo(ord(name), 48, 64))
    write_rgb(tmp_path / "refs" / "a.png", color_photo(ord("a"), 48, 64))
    (tmp_path / "refs" / "b.png").write_bytes(b"not a picture")
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(guided_weights), "--render-size", "32",
                                 "--reference-dir", str(tmp_path / "refs"))
    assert code == 1 and result["reference"]["images"] == 1, err
    assert result["reference"]["skipped_unreadable"] == 1  # a second audit: counted nowhere in the JSON
    assert "refs/b.png" in err and err.startswith("skipped ") and err.count("\nskipped ") == 0


def test_photos_without_a_reference_and_references_not_used_are_said(guided_weights: Path, tmp_path: Path,
                                                                     monkeypatch) -> None:
    """An audit: a photo without a reference only counted in "without_reference", and a reference the network
    declined scored the automatic colour against its naive transfer, both without a word."""
    for name in ("a", "b", "c"):
        write_rgb(tmp_path / "photos" / f"{name}.png", color_photo(ord(name), 48, 64))
    write_rgb(tmp_path / "refs" / "a.png", color_photo(ord("a"), 48, 64))  # its own colours: used
    write_rgb(tmp_path / "refs" / "b.png", np.roll(color_photo(7, 48, 64, seed=9), 1, axis=2))  # another picture
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(guided_weights), "--render-size", "32",
                                 "--reference-dir", str(tmp_path / "refs"))
    assert code == 0 and result["reference"]["without_reference"] == 1, err
    assert "1 photo(s) have no reference named like them" in err and "show too little" not in err, err
    from filmcolor import guide

    monkeypatch.setattr(guide, "REFERENCE_MIN_SCORE", 1.01)  # no reference matches (the test weights match all)
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(guided_weights), "--render-size", "32",
                                 "--reference-dir", str(tmp_path / "refs"))
    assert code == 0 and result["reference"]["used_guide"] == 0.0, err
    assert "2 of 2 reference(s) show too little" in err, err


# ---- SSIM, ab error and its AuC: the metrics themselves ----

def test_ssim_against_skimage_and_by_hand() -> None:
    rng = np.random.default_rng(1)
    x = color_photo(0, 40, 52, seed=2)
    y = np.clip(x.astype(int) + rng.integers(-30, 31, x.shape), 0, 255).astype(np.uint8)
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(x, y) == pytest.approx(structural_similarity(x, y, channel_axis=2, data_range=255), abs=1e-12)
    assert ssim(x, y) < 0.99
    # constant images: no variance, so each channel is (2 mx my + C1) / (mx^2 + my^2 + C1), C1 = (0.01 * 255)^2
    orange, gray = np.full((9, 9, 3), (200, 100, 50), np.uint8), np.full((9, 9, 3), 124, np.uint8)
    c1 = (0.01 * 255) ** 2
    by_hand = np.mean([(2 * m * 124 + c1) / (m * m + 124 * 124 + c1) for m in (200, 100, 50)])
    assert ssim(orange, gray) == pytest.approx(by_hand)
    # smaller than the 7x7 window: the largest odd window that fits, then the whole image
    small = x[:5, :6]
    assert ssim(small, y[:5, :6]) == pytest.approx(
        structural_similarity(small, y[:5, :6], channel_axis=2, data_range=255, win_size=5))
    assert ssim(orange[:2, :2], gray[:2, :2]) == pytest.approx(by_hand)


def _auc_by_thresholds(distance: np.ndarray) -> float:
    """The definition, literally: the fraction of pixels within t, averaged over t = 0, 1, ..., 150."""
    return float(np.mean([np.mean(distance <= t) for t in range(151)]))


def test_ab_error_and_auc_by_hand() -> None:
    rng = np.random.default_rng(0)
    ab_true = rng.uniform(-60, 60, (6, 7, 2))
    shifted = ab_true + np.array([3.0, 4.0])  # off by (3, 4) everywhere: distance 5
    assert ab_error(ab_true, shifted) == pytest.approx(5.0)
    # within t for t = 5 .. 150: 146 of the 151 thresholds
    assert ab_auc(ab_true, shifted) == pytest.approx(146 / 151)
    assert ab_auc(ab_true, ab_true) == pytest.approx(1.0)
    # half the pixels exact, half 200 away (beyond every threshold): area 1/2; mean error 100
    far = ab_true.copy()
    far[:3] += np.array([0.0, 200.0])
    assert ab_error(ab_true, far) == pytest.approx(100.0)
    assert ab_auc(ab_true, far) == pytest.approx(0.5)
    # an error of 0.5 misses only t = 0
    assert ab_auc(ab_true, ab_true + np.array([0.3, 0.4])) == pytest.approx(150 / 151)
    # arbitrary errors: the closed form equals the literal sweep
    noisy = ab_true + rng.normal(0, 40, ab_true.shape)
    distance = np.linalg.norm(ab_true - noisy, axis=-1)
    assert ab_auc(ab_true, noisy) == pytest.approx(_auc_by_thresholds(distance), abs=1e-12)


# ---- eval: the new numbers, the gray baseline, --save and --sheet ----

def test_eval_ssim_ab_error_auc_of_a_zero_ab_model(zero_ab_weights: Path, tmp_path: Path) -> None:
    photos = [color_photo(i, 48, 64, seed=11) for i in range(3)]
    for i, rgb in enumerate(photos):
        write_rgb(tmp_path / "photos" / f"p{i}.png", rgb)
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(zero_ab_weights),
                                 "--render-size", "64")
    assert code == 0, err
    assert result["n"] == result["images"] == 3
    ssim_pred, ssim_gray, ab_err, auc = [], [], [], []
    for rgb in photos:
        gray_rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        lab_gray = rgb2lab(gray_rgb)
        lab_gray[..., 1:] = 0.0
        l_only = np.clip(np.round(lab2rgb(lab_gray) * 255), 0, 255).astype(np.uint8)
        ssim_pred.append(structural_similarity(rgb, l_only, channel_axis=2, data_range=255))
        ssim_gray.append(structural_similarity(rgb, gray_rgb, channel_axis=2, data_range=255))
        chroma = np.linalg.norm(rgb2lab(rgb)[..., 1:], axis=-1)  # distance of the true ab from ab = 0
        ab_err.append(chroma.mean())
        auc.append(_auc_by_thresholds(chroma))
    assert result["ssim"] == pytest.approx(np.mean(ssim_pred), abs=2e-3)
    assert result["gray_ssim"] == pytest.approx(np.mean(ssim_gray), abs=1e-4)
    # the model predicts ab = 0: its errors are the gray baseline's, both the originals' mean chroma
    assert result["gray_ab_error"] == pytest.approx(np.mean(ab_err), abs=0.02)
    assert result["ab_error"] == pytest.approx(np.mean(ab_err), abs=0.02)
    assert result["gray_auc"] == pytest.approx(np.mean(auc), abs=2e-3)
    assert result["auc"] == pytest.approx(np.mean(auc), abs=2e-3)
    assert result["gray_colorfulness"] == 0.0
    assert result["delta_colorfulness"] == pytest.approx(abs(result["colorfulness"] - result["real_colorfulness"]),
                                                         abs=2e-4)
    assert result["gray_delta_colorfulness"] == pytest.approx(result["real_colorfulness"], abs=1e-4)


def test_eval_constant_colour_by_hand(zero_ab_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "flat" / "orange.png", np.full((32, 48, 3), (200, 100, 50), np.uint8))
    code, result, err = run_eval(str(tmp_path / "flat"), "--model", str(zero_ab_weights), "--render-size", "32")
    assert code == 0, err
    c1 = (0.01 * 255) ** 2  # constant pictures: SSIM is the luminance term of each channel (gray level 124)
    assert result["gray_ssim"] == pytest.approx(np.mean([(2 * m * 124 + c1) / (m * m + 124 * 124 + c1)
                                                         for m in (200, 100, 50)]), abs=1e-4)
    chroma = float(np.hypot(*rgb2lab(np.array([[[200, 100, 50]]], np.uint8))[0, 0, 1:]))
    assert result["gray_ab_error"] == pytest.approx(chroma, abs=0.01)
    assert result["gray_auc"] == pytest.approx((151 - math.ceil(chroma)) / 151, abs=1e-4)


def test_eval_save_and_sheet(zero_ab_weights: Path, tmp_path: Path) -> None:
    photos = {"a.png": color_photo(0, 40, 60, seed=3), "sub/b.png": color_photo(1, 50, 40, seed=3),
              "sub/c.png": color_photo(2, 30, 30, seed=3)}
    for name, rgb in photos.items():
        write_rgb(tmp_path / "photos" / name, rgb)
    out, sheet = tmp_path / "out", tmp_path / "sheet.png"
    code, result, err = run_eval(str(tmp_path / "photos"), "--model", str(zero_ab_weights), "--render-size", "32",
                                 "--save", str(out), "--sheet", str(sheet), "--sheet-rows", "2")
    assert code == 0, err
    assert result["images"] == 3 and result["sheet"] == str(sheet)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == ["a.png", "sub", "sub/b.png", "sub/c.png"]
    for name, rgb in photos.items():  # the saved prediction of an ab = 0 model: the L-only picture
        saved = cv2.cvtColor(cv2.imread(str(out / name)), cv2.COLOR_BGR2RGB)
        gray_rgb = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        lab_gray = rgb2lab(gray_rgb)
        lab_gray[..., 1:] = 0.0
        l_only = np.clip(np.round(lab2rgb(lab_gray) * 255), 0, 255)
        assert saved.shape == rgb.shape and np.abs(saved - l_only).max() <= 1
    # the first two images (sorted: a.png 40x60, sub/b.png 50x40), 200 px high, three tiles a row
    grid = cv2.cvtColor(cv2.imread(str(sheet)), cv2.COLOR_BGR2RGB)
    assert grid.shape == (400, 3 * 300, 3)
    original_tile = cv2.resize(photos["a.png"], (300, 200), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(grid[:200, 600:900], original_tile)
    assert not grid[200:, 3 * 160:].any()  # the narrower second row is padded with black
    assert not list(tmp_path.rglob("*partial*"))


def test_eval_save_into_the_input_folder_is_refused(zero_ab_weights: Path, tmp_path: Path) -> None:
    original = color_photo(0, 32, 32)
    write_rgb(tmp_path / "photos" / "p.png", original)
    before = (tmp_path / "photos" / "p.png").read_bytes()
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(zero_ab_weights), "--render-size", "32",
                            "--save", str(tmp_path / "photos"))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "overwrite the original" in lines[0]
    assert (tmp_path / "photos" / "p.png").read_bytes() == before


def test_eval_sheet_needs_an_image_name(zero_ab_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "photos" / "p.png", color_photo(0, 32, 32))
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(zero_ab_weights),
                            "--sheet", str(tmp_path / "sheet.txt"))
    assert code == 1 and "--sheet" in err
    assert not (tmp_path / "sheet.txt").exists()


@pytest.mark.parametrize("args, said", [(["--limit", "-1"], "'--limit': -1: must not be negative"),
                                        (["--ab-gain", "nan"], "'--ab-gain': nan: must be a finite number"),
                                        (["--ab-gain", "-1"], "--ab-gain"),
                                        (["--hints", "-2"], "'--hints': -2: must be between 0 and 512"),
                                        # (an audit: 10^20 was 'unexpected ValueError', 10^7 took 61 s and 2.5 GB)
                                        (["--hints", "99999999999999999999"], "must be between 0 and 512")])
def test_bad_limit_and_gain_are_bad_input(test_weights: Path, tmp_path: Path, args, said) -> None:
    write_rgb(tmp_path / "photos" / "good.png", color_photo(0, 32, 32))
    code, data, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), *args)
    assert code == 1 and said in err and data is None, err


def test_json_out_that_cannot_be_written_is_refused_before_scoring(test_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "photos" / "good.png", color_photo(0, 32, 32))
    (tmp_path / "afile").write_bytes(b"")
    code, data, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--json-out",
                               str(tmp_path / "afile" / "x.json"))
    assert code == 1 and data is None and "afile is a file, not a folder" in err, err


def test_eval_replaces_an_earlier_file_only_with_overwrite(tmp_path, test_weights):
    """An audit: `eval --sheet film_preview.png` replaced a video's before/after still with its contact sheet,
    exit 0, where every other command refuses without --overwrite."""
    for i in range(2):
        write_rgb(tmp_path / "photos" / f"p{i}.png", color_photo(i, 40, 60, seed=3))
    for option, name in (("--json-out", "earlier.json"), ("--sheet", "earlier.png")):
        target = tmp_path / name
        target.write_bytes(b"an earlier file")
        code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32",
                                option, str(target))
        assert code == 1 and f"{target}: output exists; pass --overwrite to replace it" in err, err
        assert target.read_bytes() == b"an earlier file"
        code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32",
                                option, str(target), "--overwrite")
        assert code == 0 and target.read_bytes() != b"an earlier file", err
    saved = tmp_path / "saved"
    assert run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32",
                    "--save", str(saved))[0] == 0
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights), "--render-size", "32",
                            "--save", str(saved))
    assert code == 1 and "output exists; pass --overwrite" in err, err


def test_eval_takes_reference_as_image_and_video_spell_it(tmp_path, test_weights):
    """An audit of the options' spellings: `image` and `video` take --reference, and `eval --reference` was
    refused ('Did you mean --reference-dir?'); both are taken now."""
    from click.testing import CliRunner

    from filmcolor.cli import main

    for i in range(2):
        write_rgb(tmp_path / "photos" / f"p{i}.png", color_photo(i, 40, 60, seed=3))
    (tmp_path / "refs").mkdir()
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "photos"), "--reference", str(tmp_path / "refs"),
                                       "--model", str(test_weights), "--runtime", "torch", "-q"])
    assert "No such option" not in result.stderr and "Did you mean" not in result.stderr, result.stderr


def test_save_refuses_two_photos_one_name(test_weights: Path, tmp_path: Path) -> None:
    """An audit: `eval a/val b/val --save S` saved both x.jpg predictions as S/val/x.jpg, one lost, exit 0."""
    for side in ("a", "b"):
        write_rgb(tmp_path / side / "val" / "x.png", color_photo(0, 32, 32))
    code, _, err = run_eval(str(tmp_path / "a" / "val"), str(tmp_path / "b" / "val"), "--model", str(test_weights),
                            "--save", str(tmp_path / "saved"))
    assert code == 1 and "would both be saved there" in err, err
    assert not (tmp_path / "saved").exists() or not list((tmp_path / "saved").rglob("*.png"))
