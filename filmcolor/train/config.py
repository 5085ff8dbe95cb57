"""TrainConfig: every training choice, built once by the CLI and stored in each checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from filmcolor.colorize import MAX_RENDER_SIZE, MIN_RENDER_SIZE
from filmcolor.errors import ConfigError
from filmcolor.options import Options, option

# validation metrics that --select-metric may name (higher is better; train/loop.py's validate() makes them)
SELECT_METRICS = ("psnr", "psnr_gain", "colorfulness", "colorfulness_ratio", "holdout_psnr", "holdout_psnr_gain",
                  "holdout_colorfulness", "holdout_colorfulness_ratio", "holdout_trade", "hints10_psnr_gain",
                  "hints10_over_naive")


@dataclass(frozen=True)
class TrainConfig(Options):
    """Every training choice. The ``option`` fields carry their help and limits (filmcolor/options.py): the
    CLI shows them, and a value no run can use is refused here, by its flag, however the config is made."""

    data: tuple[str, ...]
    out: str
    val_data: tuple[str, ...] = ()  # when empty, val is split off ``data`` (the seed's 8000/2000)
    arch: str = "filmcolor-fast"
    arch_kwargs: dict = field(default_factory=dict)
    pretrained_encoder: bool | None = None  # None: use it when the architecture has one and it is installed
    train_size: int = option(8000, "Training images sampled (fixed seed).", at_least=1)
    val_size: int = option(2000, "Validation images (split off --data, or the first of --val-data).", at_least=0)
    seed: int = option(0, "Seed of the split, the data order, augmentation and initialisation.", at_least=0)
    image_size: int = option(256, "Training image size (pixels, square).", at_least=32)
    crop_mode: str = "resize"  # "resize": the seed's bicubic resize to a square; "random-crop": scale + crop
    batch_size: int = option(16, "Images per step (per process under torchrun).", at_least=1)
    pretrain_epochs: int = option(0, "Phase 1 epochs: generator alone with the pixel loss.", at_least=0)
    epochs: int = option(20, "Phase 2 epochs: conditional GAN (PatchGAN discriminator).", at_least=0)
    pixel_loss: str = "l1"  # "l1" or "smooth_l1" (on normalised ab)
    chroma_weight: float = option(0.0, "Weight saturated target pixels up to 1+2w in the pixel loss (0: the "
                                  "seed's loss).", at_least=0)  # see losses.pixel_loss
    mode_weight: float = option(0.0, "Add w x a mode-seeking (Welsch) term to the pixel loss (0: none).",
                                at_least=0)
    mode_sigma: float = option(10.0, "Width of the mode-seeking term, Lab units.", above=0)
    saturation_weight: float = option(0.0, "Add w x the distance between each picture's predicted and true "
                                      "distribution of chroma (hue-blind: learn how saturated a picture is, not "
                                      "where) (0: none).", at_least=0)  # see losses.saturation_loss
    class_weight: float = option(0.0, "Add w x a colour-class cross-entropy (22x22 ab bins) from a head on the "
                                 "decoder's features, trained beside it and not shipped (0: none).",
                                 at_least=0)  # see losses.class_loss
    init_weights: str = ""  # start the generator from these .safetensors (fine-tuning)
    # learning rates and the like: 0 is allowed (that part does not learn); above 1 none trains (1e39 overflowed
    # torch's float: an unexpected RuntimeError; a review)
    lr_pretrain: float = option(1e-4, "Adam learning rate of phase 1.", at_least=0, at_most=1)
    lr_g: float = option(2e-4, "Generator learning rate of phase 2.", at_least=0, at_most=1)
    lr_d: float = option(2e-4, "Discriminator learning rate of phase 2.", at_least=0, at_most=1)
    beta1: float = option(0.5, "Adam beta1 of phase 2.", at_least=0, below=1)  # (1 was torch's ValueError)
    beta2: float = option(0.999, "Adam beta2 of phase 2.", at_least=0, below=1)
    lambda_l1: float = option(100.0, "Weight of the pixel loss in the GAN phase.", at_least=0)
    weight_decay: float = option(0.0, "AdamW weight decay (0: plain Adam).", at_least=0)
    lr_schedule: str = "constant"  # or "cosine" (per phase)
    freeze_encoder_epochs: int = option(0, "Epochs at the start with the pretrained encoder frozen.", at_least=0)
    encoder_lr_mult: float = option(1.0, "Encoder learning rate relative to the decoder's once unfrozen.",
                                    at_least=0)
    freeze_encoder_bn: bool = False  # keep the encoder's BatchNorm statistics fixed
    workers: int = option(2, "Data-loading worker processes.", at_least=0)
    cache_images: bool = False  # decode every image once and keep it in memory
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True
    compile: bool = False
    threads: int = option(0, "torch CPU threads (0: all cores).", at_least=0)
    checkpoint_every: int = option(200, "Write RUN_DIR/last.pt every N steps (and at each epoch end).", at_least=0)
    log_every: int = option(10, "Log losses to metrics.jsonl every N steps.", at_least=1)
    val_images: int = option(100, "Validation photos scored at full size each epoch (PSNR, colourfulness).",
                             at_least=0)
    # on a GPU an epoch can take less time than scoring does
    val_every: int = option(1, "Validate (and pick best.safetensors) after every N-th epoch and the last.",
                            at_least=1)
    holdout_sources: tuple[str, ...] = ()  # sources scored separately at validation (generalisation)
    render_size: int = option(256, "Render size of the validation scoring: the short side (pixels) the network "
                              "sees, to the nearest multiple of 32.", at_least=MIN_RENDER_SIZE, at_most=MAX_RENDER_SIZE)
    sample_images: int = option(6, "Rows of the samples/epoch_NNN.png grid.", at_least=0)
    max_steps: int = option(0, "Stop after this many steps in total (0: no limit).", at_least=0)
    select_metric: str = "psnr"  # validation metric that picks best.safetensors
    # Guided generators (filmcolor-guided): the share of samples with no guidance, with a reference-like
    # dense map (the rest get sparse hints), and the mean hint count (train/guides.py).
    guide_none: float = option(0.2, "Guided generators: share of samples trained with no guidance (the automatic "
                               "colour).", at_least=0, at_most=1)
    guide_reference: float = option(0.3, "Guided generators: share trained with a reference-like dense map (the "
                                    "rest: hints).", at_least=0, at_most=1)
    hints_mean: float = option(10.0, "Guided generators: mean number of simulated hints per hinted sample.",
                               at_least=0)

    def __post_init__(self) -> None:
        """Refuse values no run can use, as one-line errors naming the option (limits: Options; here what
        involves more than one)."""
        super().__post_init__()
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
