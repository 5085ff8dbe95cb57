#!/usr/bin/env bash
# The seed's recipe on COCO: 10,000 images sampled with a fixed seed, 8,000 train / 2,000 val,
# 256x256, pix2pix U-Net + PatchGAN, L1 pre-training then GAN. Needs a GPU to finish in hours.
# Usage: examples/train_on_coco.sh COCO_DIR RUN_DIR   (COCO_DIR holds train2017/ or any images)
set -euo pipefail
coco=${1:?COCO_DIR}; run=${2:?RUN_DIR}
filmcolor train --data "$coco" --out "$run" --arch pix2pix-unet --no-pretrained-encoder \
    --pretrain-epochs 20 --epochs 20 --batch-size 16 --image-size 256 --crop-mode resize
# Multi-GPU: torchrun --nproc_per_node=4 -m filmcolor train --data "$coco" --out "$run" ...
# Our faster generator from ImageNet weights (pip install 'filmcolor[train]'):
#   filmcolor train --data "$coco" --out "$run-fast" --arch filmcolor-fast --pretrain-epochs 20 --epochs 5
# Interrupted? Add --resume to the same command.
