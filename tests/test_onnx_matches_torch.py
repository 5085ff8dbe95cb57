"""ONNX Runtime gives the ab that torch gives, on generated pictures (no shared data needed).

A companion of test_runtime.py (whose real-photo version needs ../shared): the same busy model (conftest.py),
the same tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmcolor.colorize import Colorizer

pytest.importorskip("onnxruntime")
RENDER = 64  # short side: keeps each export and run small


def generated_l(height: int, width: int, seed: int) -> np.ndarray:
    """L (H, W) in [0, 100]: gradients, hard-edged shapes and noise, like nothing the model has seen."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    l_hw = 50 + 30 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    l_hw[height // 4: height // 2, width // 3: 2 * width // 3] = 90  # a bright block with sharp edges
    l_hw += rng.normal(0, 4, (height, width))
    return np.clip(l_hw, 0, 100).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("height,width", [(64, 96), (61, 97), (120, 50)])
def test_onnx_gives_the_same_ab_as_torch(busy_weights: Path, height: int, width: int) -> None:
    on_torch = Colorizer.from_pretrained(busy_weights, device="cpu", runtime="torch", render_size=RENDER)
    on_onnx = Colorizer.from_pretrained(busy_weights, device="cpu", runtime="onnx", render_size=RENDER)
    assert (on_torch.runtime, on_onnx.runtime) == ("torch", "onnx")
    l_nhw = np.stack([generated_l(height, width, seed) for seed in range(2)])
    ab_torch, ab_onnx = on_torch.predict_ab(l_nhw), on_onnx.predict_ab(l_nhw)
    assert ab_onnx.shape == ab_torch.shape
    assert ab_torch.std() > 1.0  # a real comparison, not of constants
    assert np.abs(ab_onnx - ab_torch).max() < 1e-3  # Lab units
    assert np.abs(ab_onnx - 1.01 * ab_torch).max() > 1e-3  # negative control: a 1% colour gain is caught
    full_torch, full_onnx = on_torch.colorize_batch(l_nhw), on_onnx.colorize_batch(l_nhw)
    assert full_onnx.shape == (2, height, width, 2)
    assert np.abs(full_onnx - full_torch).max() < 1e-3
