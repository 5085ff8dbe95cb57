"""Would a classification head make the automatic colour more colourful without making it wrong?

    python scripts/probe_class_head.py DIR [DIR ...] [--model NAME|PATH] [--train-images 3000]
                                       [--rebalance 1.0 0.9 0.5] [--features last|multi]
                                       [--joint-head RUN/last.pt]

A probe, not training: the shipped network stays frozen. Its decoder's last features (no guide; with
--features multi also its deeper stages) are cached for train photos (the held-out sources excluded;
short side 224, centre crop, a quarter of the cells), and a linear head over quantised ab (22 x 22
bins of 10 Lab units) is fitted to them with cross-entropy on soft targets (the 5 nearest bins, sigma
5) weighed by class rebalancing: weights 1 / ((1 - lambda) p + lambda / Q) of the smoothed colour
prior p (Zhang et al. 2016; lambda 1 = none).
Each folder's photos are then coloured at render 256 by the regression head that ships and by the
classification head decoded as the annealed mean at T 1 / 0.6 / 0.38, and by the regression moved toward
the rebalanced classes (lambda 0.5, T 1) by the plain classes' confidence (their top probability, or 1 -
their normalised entropy), then scored as `filmcolor eval` scores them: PSNR gain over the gray picture
and colourfulness / the originals'.
With --joint-head, the head a `filmcolor train --class-weight` run trained beside the network (pass that
run's weights as --model) is decoded too: plain, rebalanced at decoding by the colour prior (its
probabilities times the rebalancing weights, which is what training with those weights would give),
and the regression moved toward its lambda-0.5 colour by its own top probability.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import _checkout  # noqa: F401  (this checkout's filmcolor)
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from filmcolor import lab
from filmcolor.colorize import Colorizer
from filmcolor.evaluate import colorfulness, luma_of, psnr, read_rgb, source_of
from filmcolor.imageio import list_images, read_image
from filmcolor.train.checkpoint import load_checkpoint
from filmcolor.train.losses import AB_BINS, AB_CENTRES, soft_classes

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HELD_OUT_SOURCES = ("debian", "dreambooth")  # as in scripts/train_default.sh
CROP = 224
TEMPERATURES = (1.0, 0.6, 0.38)


def decoder_features(net: torch.nn.Module, l_norm: np.ndarray, multi: bool = False) -> torch.Tensor:
    """(C, h/4, w/4) decoder features (no guide) of a normalised L picture (h, w) the network takes.

    The last features (48, what the regression head sees), and with ``multi`` also the decoder's
    deeper stages (its stride-32 lateral and stride-16 fusion, 128 each) upsampled: more of what the
    encoder recognises (multi), before it is squeezed to the 48 the regression needs."""
    guide = torch.zeros(1, 3, *l_norm.shape)
    seen: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out)) for m in (net.lateral32, net.fuse16)]
    try:
        last = net.decode_features(net.encode(torch.from_numpy(l_norm)[None, None]), guide)[0]
    finally:
        for h in hooks:
            h.remove()
    if not multi:
        return last[0]
    deep = [F.interpolate(t, size=last.shape[2:], mode="bilinear", align_corners=False) for t in seen]
    return torch.cat([last, *deep], 1)[0]


def cache_train(net: torch.nn.Module, count: int, multi: bool) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    paths = [p for p in list_images([SHARED / "photos" / "train"]) if source_of(p) not in HELD_OUT_SOURCES]
    xs, ys = [], []
    for i in rng.permutation(len(paths))[:count]:
        rgb = read_image(paths[i])
        if rgb.ndim != 3:
            continue
        h, w = rgb.shape[:2]
        scale = CROP / min(h, w)
        rgb = cv2.resize(rgb[..., :3], (max(CROP, round(w * scale)), max(CROP, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
        y0, x0 = (rgb.shape[0] - CROP) // 2, (rgb.shape[1] - CROP) // 2
        lab_hw3 = lab.rgb_to_lab(np.ascontiguousarray(rgb[y0:y0 + CROP, x0:x0 + CROP]))
        x = decoder_features(net, lab.normalize_l(lab_hw3[..., 0]).astype(np.float32), multi).flatten(1).T
        side = CROP // 4
        ab = cv2.resize(lab_hw3[..., 1:].astype(np.float32), (side, side), interpolation=cv2.INTER_AREA).reshape(-1, 2)
        keep = rng.choice(side * side, side * side // 4, replace=False)
        xs.append(x[keep]), ys.append(torch.from_numpy(ab[keep]))
    return torch.cat(xs), torch.cat(ys)


def colour_prior(ab: torch.Tensor) -> torch.Tensor:
    """(Q,) smoothed share of each colour class among (M, 2) ab samples."""
    prior = sum(soft_classes(ab[i:i + 200_000]).sum(0) for i in range(0, len(ab), 200_000))
    prior = torch.from_numpy(cv2.GaussianBlur((prior / prior.sum()).reshape(AB_BINS, AB_BINS).numpy(), (0, 0), 0.5))
    return (prior / prior.sum()).reshape(-1)


def rebalancing(prior: torch.Tensor, rebalance: float) -> torch.Tensor:
    """(Q,) class weights 1 / ((1 - lambda) p + lambda / Q), normalised to a mean of 1 under the prior."""
    weight = 1.0 / ((1 - rebalance) * prior + rebalance / len(AB_CENTRES))
    return weight / (prior * weight).sum()


def fit_head(x: torch.Tensor, ab: torch.Tensor, rebalance: float) -> torch.nn.Linear:
    weight = rebalancing(colour_prior(ab), rebalance)
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], len(AB_CENTRES))
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(3):
        for batch in torch.randperm(len(x)).split(8192):
            target = soft_classes(ab[batch])
            loss = (-(target * F.log_softmax(head(x[batch]), 1)).sum(1) * weight[target.argmax(1)]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return head.eval()


def annealed_mean(logits: torch.Tensor, temperature: float) -> np.ndarray:
    probs = F.softmax(F.log_softmax(logits, 0) / temperature, 0)
    return torch.einsum("qhw,qc->hwc", probs, AB_CENTRES).numpy()


def head_logits(head: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """(Q, h, w) class logits of a linear head over the first ``head.in_features`` of the (C, h, w) features."""
    return torch.einsum("chw,qc->qhw", x[:head.in_features], head.weight) + head.bias[:, None, None]


def moved_toward(regression: np.ndarray, vivid: np.ndarray, confidence: torch.Tensor) -> np.ndarray:
    """The regression's (h, w, 2) ab moved toward the vivid decoding's by a (h, w) confidence in [0, 1]."""
    return regression + confidence.numpy()[..., None] * (vivid - regression)


def load_joint_head(checkpoint: Path, features: int) -> torch.nn.Linear:
    """The class head a run with --class-weight trained beside the network (kept in its last.pt), as a linear map."""
    state = load_checkpoint(checkpoint).get("class_head") or {}
    if "weight" not in state:
        raise SystemExit(f"{checkpoint}: no class head in this checkpoint (was the run trained with --class-weight?)")
    head = torch.nn.Linear(features, len(AB_CENTRES))
    head.weight.data.copy_(state["weight"].reshape(len(AB_CENTRES), -1))
    head.bias.data.copy_(state["bias"])
    return head.eval()


def score(colorizer: Colorizer, heads: dict[float, torch.nn.Linear], folder: Path, multi: bool,
          joint: tuple[torch.nn.Linear, torch.Tensor] | None = None) -> dict[str, tuple[float, float]]:
    net = colorizer.model
    rows: dict[str, list[tuple[float, float]]] = {}
    grays, reals = [], []
    for path in list_images([folder]):
        rgb = read_rgb(path)
        height, width = rgb.shape[:2]
        l_hw = lab.gray_to_l(luma_of(rgb))
        x = decoder_features(net, colorizer._network_input(l_hw), multi)
        outs = {"regression (shipped)":
                (torch.tanh(net.head(x[None, :net.head.in_channels]))[0] * lab.AB_SCALE).permute(1, 2, 0).numpy()}
        logits = {r: head_logits(h, x) for r, h in heads.items()}
        for rebalance, lg in logits.items():
            for t in TEMPERATURES:
                outs[f"classes, lambda {rebalance:g}, T {t:g}"] = annealed_mean(lg, t)
        if 1.0 in logits and 0.5 in logits:  # weighing by confidence: vivid where the plain classes are sure
            regression, vivid = outs["regression (shipped)"], annealed_mean(logits[0.5], 1.0)
            probs = F.softmax(logits[1.0], 0)
            entropy = -(probs * torch.log(probs.clamp_min(1e-12))).sum(0) / np.log(len(AB_CENTRES))
            for name, conf in (("max probability", probs.max(0).values), ("1 - entropy", 1.0 - entropy)):
                outs[f"regression + {name} x (lambda 0.5 - regression)"] = moved_toward(regression, vivid, conf)
        if joint is not None:  # the jointly trained head: plain, and rebalanced at decoding by its training prior
            head, prior = joint
            plain = head_logits(head, x)
            outs["joint head, plain, T 1"] = annealed_mean(plain, 1.0)
            for rebalance in (0.9, 0.5):
                shift = torch.log(rebalancing(prior, rebalance))[:, None, None]
                outs[f"joint head, lambda {rebalance:g} at decoding, T 1"] = annealed_mean(plain + shift, 1.0)
            outs["regression + joint max probability x (joint lambda 0.5 - regression)"] = moved_toward(
                outs["regression (shipped)"], outs["joint head, lambda 0.5 at decoding, T 1"],
                F.softmax(plain, 0).max(0).values)
        grays.append(psnr(rgb, np.repeat(luma_of(rgb)[..., None], 3, 2)))
        reals.append(colorfulness(rgb))
        for name, ab in outs.items():
            ab_full = cv2.resize(np.ascontiguousarray(ab, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            pred = lab.lab_to_rgb_levels(l_hw, ab_full)
            rows.setdefault(name, []).append((psnr(rgb, pred), colorfulness(pred)))
    gray, real = np.mean(grays), np.mean(reals)
    return {name: (float(np.mean([p for p, _ in v]) - gray), float(np.mean([c for _, c in v]) / real))
            for name, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="default")
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--rebalance", type=float, nargs="+", default=[1.0, 0.9, 0.5])
    parser.add_argument("--features", choices=["last", "multi"], default="last")
    parser.add_argument("--joint-head", type=Path, metavar="LAST_PT",
                        help="also decode the class head a run with --class-weight trained (its last.pt)")
    args = parser.parse_args()
    multi = args.features == "multi"
    colorizer = Colorizer.from_pretrained(args.model, device="cpu", runtime="torch")
    with torch.inference_mode():
        x, ab = cache_train(colorizer.model.eval(), args.train_images, multi)
    heads = {r: fit_head(x, ab, r) for r in args.rebalance}
    joint = None
    if args.joint_head is not None:
        joint = (load_joint_head(args.joint_head, colorizer.model.head.in_channels), colour_prior(ab))
    results = {}
    with torch.inference_mode():
        for folder in args.folders:
            results[folder.name] = score(colorizer, heads, folder, multi, joint)
    names = list(next(iter(results.values())))
    print("| decoding | " + " | ".join(f"{f}: gain, CF ratio" for f in results) + " |")
    print("|---|" + "---|" * len(results))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{r[name][0]:+.2f} dB, {r[name][1]:.2f}" for r in results.values()) + " |")


if __name__ == "__main__":
    main()
