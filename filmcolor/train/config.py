"""TrainConfig: every training choice, built once by the CLI and stored in each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


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
