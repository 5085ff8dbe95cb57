#!/usr/bin/env bash
# Score weights on colour photos against the gray baseline (PSNR, colourfulness), as JSON.
# Usage: examples/evaluate.sh PHOTOS_DIR [WEIGHTS]   (WEIGHTS defaults to the shipped model)
set -euo pipefail
filmcolor eval "${1:?PHOTOS_DIR}" --model "${2:-default}" --by-source
# Temporal quality of a coloured clip against its colour original:
#   filmcolor eval-video color.mp4 --original colour_original.mp4
