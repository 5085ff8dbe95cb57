"""Average the weights of models fine-tuned from one start (a "model soup", Wortsman et al. 2022).

Usage: python scripts/soup_weights.py OUT.safetensors A.safetensors B.safetensors [...]
Every floating-point tensor (BatchNorm statistics included) is the plain mean of the inputs'; integer
tensors (BatchNorm's step counters) are the first input's. The inputs must share one architecture; the
output keeps the first input's metadata (ship it with scripts/ship_weights.py, which records metrics).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import torch

from filmcolor.weights import load_model, save_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("weights", type=Path, nargs="+")
    args = parser.parse_args()
    loaded = [load_model(path) for path in args.weights]
    model, meta = loaded[0]
    if any(m.arch != meta.arch or m.arch_kwargs != meta.arch_kwargs for _, m in loaded):
        raise SystemExit("error: the weights are of different architectures")
    states = [m.state_dict() for m, _ in loaded]
    with torch.no_grad():
        soup = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
                for k, v in states[0].items()}
    model.load_state_dict(soup)
    info = dict(meta.info) | {"soup_of": [path.name for path in args.weights]}
    save_weights(args.out, model, meta.arch, meta.arch_kwargs, info)
    print(f"wrote {args.out}: the mean of {len(args.weights)} models ({meta.arch})")


if __name__ == "__main__":
    main()
