"""`filmcolor models`: registered architectures and the weights that ship with filmcolor."""

from __future__ import annotations

import click
import torch
from rich.console import Console
from rich.table import Table
from torch.utils.flop_counter import FlopCounterMode

from filmcolor.cli import guarded
from filmcolor.models import create_model, list_models, model_info
from filmcolor.weights import DEFAULT_WEIGHTS_NAME, read_meta, shipped_weights


def gflops_at(name: str, size: int = 256) -> float:
    """Forward cost at size x size in GFLOPs (multiply-adds counted as 2)."""
    model = create_model(name).eval()
    channels = 3 if model_info(name).kind == "discriminator" else 1
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, channels, size, size))
    return counter.get_total_flops() / 1e9


@click.command("models")
@guarded
def models_command() -> None:
    """List architectures (parameters, GFLOPs at 256x256) and shipped weights with their metrics."""
    out = Console()
    arch = Table(title="Architectures")
    for col in ("name", "kind", "parameters", "GFLOPs @256x256", "description"):
        arch.add_column(col)
    for name in list_models():
        info = model_info(name)
        params = sum(p.numel() for p in create_model(name).parameters())
        arch.add_row(name, info.kind, f"{params / 1e6:.2f} M", f"{gflops_at(name):.2f}", info.description)
    out.print(arch)
    weights = Table(title="Shipped weights")
    for col in ("name", "architecture", "render size", "runtime (CPU)", "val PSNR / gray", "colourfulness / real"):
        weights.add_column(col)
    for name, path in shipped_weights().items():
        meta = read_meta(path)
        m = meta.info.get("metrics", {})
        label = f"{name} (default)" if name == DEFAULT_WEIGHTS_NAME else name
        psnr = f"{m['psnr']:.2f} / {m['gray_psnr']:.2f} dB" if "psnr" in m else "-"
        colour = f"{m['colorfulness']:.1f} / {m['real_colorfulness']:.1f}" if "colorfulness" in m else "-"
        weights.add_row(label, meta.arch, str(meta.info.get("render_size", 256)), "onnx", psnr, colour)
    if not shipped_weights():
        weights.add_row("(none installed)", "-", "-", "-", "train with 'filmcolor train'", "-")
    out.print(weights)


COMMANDS = [models_command]
