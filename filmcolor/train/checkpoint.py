"""Full training state in RUN_DIR/last.pt, written atomically; read back without arbitrary unpickling."""

from __future__ import annotations

import io
from pathlib import Path

import torch

from filmcolor.errors import WeightsError
from filmcolor.fsutil import write_bytes_atomic


def save_checkpoint(path: Path, state: dict) -> None:
    """The state, serialised in memory and written atomically: written by torch.save, a full disk was an
    'unexpected RuntimeError: [enforce fail at inline_container.cc]' (an audit), not 'disk full'."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())


def load_checkpoint(path: Path) -> dict:
    """Tensors, numbers, strings and containers only (torch.load with weights_only=True)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a checkpoint, foreign pickle
        first = (str(err).strip().splitlines() or [""])[0]  # torch's own message runs to many lines
        raise WeightsError(f"{path}: cannot resume from this checkpoint ({type(err).__name__}: {first})") from err
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:  # a readable file of something else (an unexpected KeyError after every photo was screened)
        raise WeightsError(f"{path}: not a filmcolor training checkpoint (it holds no {', '.join(missing)})")
    return state


CHECKPOINT_KEYS = ("generator", "discriminator", "opt_pre", "opt_g", "opt_d", "epoch", "batch_in_epoch", "step",
                   "best", "rng")


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
