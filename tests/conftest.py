"""Shared fixtures: a small deterministic test model, an isolated ONNX cache, paths to shared data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from filmcolor.models import create_model
from filmcolor.weights import save_weights

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_test_weights(path: Path, ab_bias: tuple[float, float] = (0.3, 0.2), seed: int = 0,
                      arch: str = "filmcolor-fast", head_scale: float = 0.1) -> Path:
    """A randomly initialised generator whose head bias sets its colour (by default: every output clearly
    coloured) and whose head weights are scaled by ``head_scale``."""
    torch.manual_seed(seed)
    model = create_model(arch)
    with torch.no_grad():
        model.head.weight.mul_(head_scale)
        model.head.bias.copy_(torch.tensor(ab_bias))
    save_weights(path, model, arch, {}, {"note": "test model, random weights"})
    return path


def make_guided_weights(path: Path, seed: int = 0) -> Path:
    """A randomly initialised filmcolor-guided with near-gray automatic colour (the gate starts open)."""
    return make_test_weights(path, ab_bias=(0.0, 0.0), seed=seed, arch="filmcolor-guided", head_scale=0.01)


@pytest.fixture(scope="session")
def test_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_weights(tmp_path_factory.mktemp("weights") / "test.safetensors")


@pytest.fixture(scope="session")
def busy_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random filmcolor-fast with its full head: ab varies strongly across the picture, a hard comparison."""
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("busy") / "busy.safetensors"
    save_weights(path, create_model("filmcolor-fast"), "filmcolor-fast", {})
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("FILMCOLOR_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def png_bomb_over_limit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Issue 14's picture, one column over the limit: 389 KB of PNG that declare 20001 x 20000 pixels."""
    from media import png_bomb

    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png", 20001, 20000)
