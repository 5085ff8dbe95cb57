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
from media import color_photo
from skimage.color import lab2rgb, rgb2lab
from skimage.metrics import peak_signal_noise_ratio

from filmcolor.cli import main
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import evaluate_images, list_images, luma_of
from filmcolor.metrics import PSNR_CAP, colorfulness, psnr
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


def run_eval(*args: str) -> tuple[int, dict | None, str]:
    result = CliRunner().invoke(main, ["eval", *args, "--runtime", "torch", "--device", "cpu", "-q"])
    data = json.loads(result.stdout) if result.exit_code == 0 else None
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


def test_unreadable_image_is_one_line(test_weights: Path, tmp_path: Path) -> None:
    write_rgb(tmp_path / "photos" / "good.png", color_photo(0, 32, 32))
    (tmp_path / "photos" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = run_eval(str(tmp_path / "photos"), "--model", str(test_weights))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "broken.png" in lines[0]
