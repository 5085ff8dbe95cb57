"""`filmcolor models`: registered architectures and the weights that ship with filmcolor."""

from __future__ import annotations

import os
import sys

import click
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from filmcolor.cli import guarded
from filmcolor.colorize import DEFAULT_RENDER_SIZE, DEFAULT_VIDEO_RENDER_SIZE
from filmcolor.models import create_model, list_models, model_info, takes_guide
from filmcolor.weights import DEFAULT_WEIGHTS_NAME, read_meta, shipped_weights


def gflops_at(name: str, size: int = 256) -> float:
    """Forward cost at size x size in GFLOPs (multiply-adds counted as 2)."""
    model = create_model(name).eval()
    channels = 3 if model_info(name).kind == "discriminator" else 1
    inputs = [torch.zeros(1, channels, size, size)]
    if takes_guide(model):  # a guided generator also takes its colour guide
        inputs.append(torch.zeros(1, model.guide_channels, size, size))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return counter.get_total_flops() / 1e9


@click.command("models", short_help="List the architectures and the shipped weights.")
@guarded
def models_command() -> None:
    """List architectures (parameters, GFLOPs at 256x256) and shipped weights with their metrics."""
    columns = os.environ.get("COLUMNS", "")  # (COLUMNS=0 printed nothing at all; an audit)
    given = columns.strip().isdigit() and int(columns) > 0
    out = Console(width=None if sys.stdout.isatty() or given else 140, emoji=False)
    arch = Table(title="Architectures")
    for col in ("name", "kind", "parameters", "GFLOPs @256x256", "description"):
        arch.add_column(col)
    for name in list_models():
        info = model_info(name)
        params = sum(p.numel() for p in create_model(name).parameters())
        arch.add_row(name, info.kind, f"{params / 1e6:.2f} M", f"{gflops_at(name):.2f}", info.description)
    out.print(arch)
    weights = Table(title="Shipped weights (no download: they are inside the package)")
    for col in ("name", "architecture", "render size", "runtime", "ab gain", "on", "PSNR / gray",
                "colourfulness / real"):
        weights.add_column(col, no_wrap=col in ("name", "architecture"))  # names whole, even piped (140 wide)
    for name, path in shipped_weights().items():
        meta = read_meta(path)
        label = escape(f"{name} (default)" if name == DEFAULT_WEIGHTS_NAME else name)  # a file name
        sizes = f"video {DEFAULT_VIDEO_RENDER_SIZE}, photos {DEFAULT_RENDER_SIZE}"
        gain = _number(meta.info.get("ab_gain", 1.0), "g")
        scored = [("val", meta.info.get("metrics", {})), ("unseen", meta.info.get("unseen_metrics", {}))]
        rows = []
        for where, m in scored:
            m = m if isinstance(m, dict) else {}  # (a file's odd metrics stopped the table: KeyError; an audit)
            if m or where == "val":
                rows.append((where, m))
            rows += [(f"{where} + {m[s].get('hints', '')} {s}".replace("+  reference", "+ reference"), m[s])
                     for s in ("hints", "reference") if isinstance(m.get(s), dict)]
        for i, (where, m) in enumerate(rows):
            psnr = f"{_number(m.get('psnr'))} / {_number(m.get('gray_psnr'))} dB" if "psnr" in m else "-"
            if "naive_psnr" in m:
                psnr += f" (no network: {_number(m['naive_psnr'])})"
            colour = (f"{_number(m.get('colorfulness'), '.1f')} / {_number(m.get('real_colorfulness'), '.1f')}"
                      if "colorfulness" in m else "-")
            first = i == 0
            weights.add_row(label if first else "", escape(meta.arch) if first else "", sizes if first else "",
                            "onnx (CPU), torch (GPU)" if first else "", gain if first else "", where, psnr, colour)
    if not shipped_weights():
        weights.add_row("(none installed)", "-", "-", "-", "-", "-", "train with 'filmcolor train'", "-")
    out.print(weights)


def _number(value: object, spec: str = ".2f") -> str:
    """A stored metric as the table shows it; '?' for one missing or not a number."""
    return format(value, spec) if isinstance(value, int | float) and not isinstance(value, bool) else "?"


COMMANDS = [models_command]
