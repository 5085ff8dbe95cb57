#!/usr/bin/env bash
# Reproduces the shipped default weights (filmcolor/weights/filmcolor-guided.safetensors) on a CPU.
# Stage 1: ImageNet-pretrained EfficientNet-Lite0 encoder frozen, decoder trained on 128 px crops.
# Stage 2: everything fine-tuned (encoder at 1/3 of the lr, BatchNorm statistics fixed) on 160 px crops.
# Stage 3: fine-tuned on 192 px crops with a stronger pull toward saturated colours (chroma weight 4).
# Stage 4 (only with WITH_STAGE4=1; tried from a chroma-weight-2 stage 3, not shipped; see MODEL_CARD.md).
# Stage G (the shipped default since the guided issue): filmcolor-guided, initialised from stage 3 (the guide's
#   new inputs at zero), fine-tuned whole on 192 px crops with simulated guidance (20% none, 30% reference-like
#   dense maps from a shifted copy, 50% sparse hints), chroma weight 4, 4 epochs of 8000 photos; no colour gain.
#   It runs when RUNS_DIR/stage3 exists, or from the previously shipped filmcolor-fast weights (INIT_WEIGHTS=...).
# Stage G2: stage G's best weights trained longer, on 224 px crops, lr 1e-4 cosine over 5 epochs, seed 2; the
#   epoch kept is the best on the held-out sources (--select-metric holdout_psnr).
# Shipped: the mean of G's and G2's best weights (scripts/soup_weights.py), scored on val and stamped with its
#   metrics (scripts/ship_weights.py) into RUNS_DIR/filmcolor-guided.safetensors; copy it over
#   filmcolor/weights/filmcolor-guided.safetensors to ship it (MODEL_CARD.md, "How it was trained").
# Usage: scripts/train_default.sh RUNS_DIR [DATA_DIR]   (DATA_DIR defaults to ../shared/data/photos)
set -euo pipefail
runs=${1:?usage: train_default.sh RUNS_DIR [DATA_DIR]}
data=${2:-../shared/data/photos}
common=(--data "$data/train" --val-data "$data/val" --arch filmcolor-fast --crop-mode random-crop
        --pixel-loss smooth_l1 --chroma-weight "${CHROMA_WEIGHT:-1.0}" --weight-decay 1e-4 --lr-schedule cosine
        --epochs 0 --holdout-source debian --holdout-source dreambooth --val-images 120 --cache-images
        --workers 1 --seed 0 --checkpoint-every 50)
resume=(); [ -f "$runs/stage1/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/stage1" --image-size 128 --batch-size 32 \
    --pretrain-epochs "${STAGE1_EPOCHS:-12}" --freeze-encoder-epochs 1000 --lr-pretrain 1e-3
resume=(); [ -f "$runs/stage2/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/stage2" --image-size 160 --batch-size 16 \
    --pretrain-epochs "${STAGE2_EPOCHS:-2}" --init-weights "$runs/stage1/best.safetensors" \
    --lr-pretrain 3e-4 --encoder-lr-mult 0.33 --freeze-encoder-bn
resume=(); [ -f "$runs/stage3/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/stage3" --image-size 192 --batch-size 16 \
    --pretrain-epochs "${STAGE3_EPOCHS:-3}" --init-weights "$runs/stage2/final.safetensors" \
    --lr-pretrain 2e-4 --encoder-lr-mult 0.33 --freeze-encoder-bn --chroma-weight "${STAGE3_CHROMA_WEIGHT:-4.0}"
resume=(); [ -f "$runs/guided/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/guided" --arch filmcolor-guided --image-size 192 \
    --batch-size 16 --pretrain-epochs "${GUIDED_EPOCHS:-4}" --val-images 100 \
    --init-weights "${INIT_WEIGHTS:-$runs/stage3/final.safetensors}" --lr-pretrain 2e-4 --encoder-lr-mult 0.33 \
    --freeze-encoder-bn --chroma-weight 4 --checkpoint-every 50
resume=(); [ -f "$runs/guided_long/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/guided_long" --arch filmcolor-guided --image-size 224 \
    --batch-size 16 --pretrain-epochs "${GUIDED_LONG_EPOCHS:-5}" --val-images 100 --seed 2 \
    --init-weights "$runs/guided/best.safetensors" --lr-pretrain 1e-4 --encoder-lr-mult 0.33 \
    --freeze-encoder-bn --chroma-weight 4 --checkpoint-every 50 --select-metric holdout_psnr
here=$(dirname "$0")
python "$here/soup_weights.py" "$runs/soup.safetensors" "$runs/guided/best.safetensors" \
    "$runs/guided_long/best.safetensors"
rm -f "$runs/val256.json"  # (eval exits 1 when a photo is skipped, with the JSON written: that JSON, not a stale one)
filmcolor eval "$data/val" --model "$runs/soup.safetensors" --render-size 256 --hints 10 -q \
    --json-out "$runs/val256.json" > /dev/null || [ -s "$runs/val256.json" ]
python "$here/ship_weights.py" "$runs/soup.safetensors" --eval-json "$runs/val256.json" --render-size 256 \
    --out "$runs/filmcolor-guided.safetensors"
[ "${WITH_STAGE4:-0}" = 1 ] || exit 0
resume=(); [ -f "$runs/stage4/last.pt" ] && resume=(--resume)
filmcolor train "${common[@]}" "${resume[@]}" --out "$runs/stage4" --image-size 224 --batch-size 16 \
    --pretrain-epochs "${STAGE4_EPOCHS:-4}" --init-weights "$runs/stage3/final.safetensors" \
    --lr-pretrain 1.5e-4 --encoder-lr-mult 0.33 --freeze-encoder-bn --chroma-weight "${STAGE3_CHROMA_WEIGHT:-2.0}"
