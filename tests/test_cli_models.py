"""`filmcolor models`: the architectures with their size and cost, and the shipped weights."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from filmcolor import weights
from filmcolor.cli import main
from filmcolor.models import create_model
from filmcolor.weights import save_weights


@pytest.fixture(scope="module")
def listing(tmp_path_factory: pytest.TempPathFactory) -> str:
    shipped = tmp_path_factory.mktemp("shipped")
    model = create_model("filmcolor-guided")
    save_weights(shipped / "filmcolor-guided.safetensors", model, "filmcolor-guided", {},
                 {"metrics": {"psnr": 23.45, "gray_psnr": 22.1, "colorfulness": 20.5, "real_colorfulness": 33.0,
                              "hints": {"hints": 10, "psnr": 26.9, "gray_psnr": 22.1, "naive_psnr": 25.7,
                                        "colorfulness": 30.0, "real_colorfulness": 33.0}}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(weights, "PACKAGE_WEIGHTS_DIR", shipped)
        mp.setenv("COLUMNS", "200")  # rich sizes its tables from this: no wrapped cells
        result = CliRunner().invoke(main, ["models"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def row(text: str, name: str) -> str:
    (line,) = [ln for ln in text.splitlines() if re.match(rf"\W*{re.escape(name)}\s", ln) and "M" in ln]
    return line


def test_models_lists_fast_with_its_gflops(listing):
    line = row(listing, "filmcolor-fast")
    params, gflops = re.search(r"(\d+\.\d+) M\s*\S\s*(\d+\.\d+)", line).groups()
    assert 3.8 < float(params) < 4.1
    assert 0.5 < float(gflops) <= 2.0
    assert "54.41 M" in row(listing, "pix2pix-unet")
    assert "2.77 M" in row(listing, "patchgan")


def test_models_lists_shipped_weights_with_metrics(listing):
    assert "filmcolor-guided (default)" in listing
    assert "23.45" in listing and "22.10" in listing
    line = next(ln for ln in listing.splitlines() if "10 hints" in ln)
    assert "26.90 / 22.10 dB (no network: 25.70)" in line


def test_models_without_shipped_weights_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "PACKAGE_WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr("filmcolor.cli.models.list_models", lambda: ["patchgan"])  # keep it quick
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(main, ["models"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "(none installed)" in result.stdout and "filmcolor train" in result.stdout


def test_a_stored_metric_that_is_no_number_shows_as_unknown() -> None:
    """An audit: a weights file whose metrics lacked gray_psnr (or held a string) stopped the table with an
    'unexpected KeyError'."""
    from filmcolor.cli.models import _number

    assert _number(20.0) == "20.00" and _number(None) == "?" and _number("x") == "?" and _number(True) == "?"


def test_columns_zero_still_prints_the_tables(monkeypatch) -> None:
    """An audit: COLUMNS=0 printed nothing and exit 0 (with stdout a pipe, as here)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "0"}
    done = subprocess.run([sys.executable, "-m", "filmcolor", "models"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and "Architectures" in done.stdout and "Shipped weights" in done.stdout, done
