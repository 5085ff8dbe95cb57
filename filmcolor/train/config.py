"""TrainConfig: every training choice, built once by the CLI and stored in each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from filmcolor.errors import ConfigError

# validation metrics that --select-metric may name (higher is better; train/loop.py's validate() makes them)
SELECT_METRICS = ("psnr", "psnr_gain", "colorfulness", "colorfulness_ratio", "holdout_psnr", "holdout_psnr_gain",
                  "holdout_colorfulness", "holdout_colorfulness_ratio", "holdout_trade", "hints10_psnr_gain",
                  "hints10_over_naive")


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[str, ...]
    out: str
    val_data: tuple[str, ...] = ()  # when empty, val is split off ``data`` (the seed's 8000/2000)
    arch: str = "filmcolor-fast"
    arch_kwargs: dict = field(default_factory=dict)
    pretrained_encoder: bool | None = None  # None: use it when the architecture has one and it is installed
    train_size: int = 8000
    val_size: int = 2000
    seed: int = 0
    image_size: int = 256  # crop / resize size of training images
    crop_mode: str = "resize"  # "resize": the seed's bicubic resize to a square; "random-crop": scale + crop
    batch_size: int = 16
    pretrain_epochs: int = 0  # phase 1: generator alone, pixel loss
    epochs: int = 20  # phase 2: conditional GAN
    pixel_loss: str = "l1"  # "l1" or "smooth_l1" (on normalised ab)
    chroma_weight: float = 0.0  # > 0: weight saturated target pixels more (see losses.pixel_loss)
    mode_weight: float = 0.0  # > 0: add a mode-seeking (Welsch) term to the pixel loss (see losses.pixel_loss)
    mode_sigma: float = 10.0  # its width, Lab units
    saturation_weight: float = 0.0  # > 0: add w x each picture's chroma-distribution distance (see
    #                                 losses.saturation_loss)
    class_weight: float = 0.0  # > 0: add w x a colour-class cross-entropy on the decoder's features (a head
    #                            trained beside the network, not shipped; see losses.class_loss)
    init_weights: str = ""  # start the generator from these .safetensors (fine-tuning)
    lr_pretrain: float = 1e-4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_l1: float = 100.0
    weight_decay: float = 0.0
    lr_schedule: str = "constant"  # or "cosine" (per phase)
    freeze_encoder_epochs: int = 0  # epochs at the start with the pretrained encoder frozen
    encoder_lr_mult: float = 1.0  # encoder learning rate relative to the rest once unfrozen
    freeze_encoder_bn: bool = False  # keep the encoder's BatchNorm statistics fixed
    workers: int = 2
    cache_images: bool = False  # decode every image once and keep it in memory
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True
    compile: bool = False
    threads: int = 0  # torch intra-op threads on CPU (0: all cores)
    checkpoint_every: int = 200  # steps
    log_every: int = 10  # steps
    val_images: int = 100  # photos scored at full size each epoch (PSNR, colourfulness)
    val_every: int = 1  # validate after every N-th epoch (and the last): on a GPU an epoch can take less
    holdout_sources: tuple[str, ...] = ()  # sources scored separately at validation (generalisation)
    render_size: int = 256  # render size of the validation scoring
    sample_images: int = 6  # rows in samples/epoch_NNN.png
    max_steps: int = 0  # stop after this many optimiser steps in total (0: no limit; tests, smoke runs)
    select_metric: str = "psnr"  # validation metric that picks best.safetensors
    # Guided generators (filmcolor-guided): the share of samples with no guidance, with a reference-like
    # dense map (the rest get sparse hints), and the mean hint count (train/guides.py).
    guide_none: float = 0.2
    guide_reference: float = 0.3
    hints_mean: float = 10.0

    def __post_init__(self) -> None:
        """Refuse values no run can use, as one-line errors naming the option."""
        at_least = {"batch_size": 1, "image_size": 32, "train_size": 1, "val_size": 0, "pretrain_epochs": 0,
                    "epochs": 0, "workers": 0, "threads": 0, "val_every": 1, "val_images": 0, "sample_images": 0,
                    "render_size": 32, "max_steps": 0, "checkpoint_every": 0, "log_every": 1,
                    "freeze_encoder_epochs": 0}
        not_negative = ("lr_pretrain", "lr_g", "lr_d", "encoder_lr_mult",  # 0: that part does not learn
                        "chroma_weight", "mode_weight", "saturation_weight", "class_weight", "lambda_l1",
                        "weight_decay", "hints_mean")
        shares = ("guide_none", "guide_reference", "beta1", "beta2")
        for name, low in at_least.items():
            if getattr(self, name) < low:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least {low}")
        for name in not_negative + shares + ("mode_sigma",):
            value = getattr(self, name)
            if name == "mode_sigma":
                need, bad = "be positive", not value > 0
            elif name in shares:
                need, bad = "be between 0 and 1", not 0 <= value <= 1
            else:
                need, bad = "not be negative", not value >= 0
            if bad:  # NaN too: every comparison with it is false
                raise ConfigError(f"--{name.replace('_', '-')} {value}: must {need}")
        if self.guide_none + self.guide_reference > 1:
            raise ConfigError(f"--guide-none {self.guide_none} and --guide-reference {self.guide_reference}: "
                              "shares of the samples, together at most 1")
        if self.select_metric not in SELECT_METRICS:
            raise ConfigError(f"--select-metric {self.select_metric}: expected one of {', '.join(SELECT_METRICS)}")
        if self.select_metric.startswith("holdout_") and not self.holdout_sources:  # (never logged: a run ended
            raise ConfigError(f"--select-metric {self.select_metric}: scored on --holdout-source photos; name "
                              "their source")  # without best.safetensors, said only at the end; an audit)
        if self.total_epochs < 1:
            raise ConfigError("--pretrain-epochs 0 and --epochs 0: nothing to train (a random network was written "
                              "as final.safetensors)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items() if k in names}
        return cls(**clean)

    @property
    def total_epochs(self) -> int:
        return self.pretrain_epochs + self.epochs
