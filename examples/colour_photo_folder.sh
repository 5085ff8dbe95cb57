#!/usr/bin/env bash
# Colour every photo in a folder (recursively) into another folder with mirrored names, as PNG.
# Usage: examples/colour_photo_folder.sh PHOTOS_DIR OUT_DIR
set -euo pipefail
filmcolor image "${1:?PHOTOS_DIR}" -o "${2:?OUT_DIR}" --ext .png
