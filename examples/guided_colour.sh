#!/usr/bin/env bash
# Steer the colour where you know better: hints, a reference photo, a coloured keyframe.
# Usage: examples/guided_colour.sh [BW_PHOTOS_DIR]   (default: the project's shared/data/bw_photos beside
#        the checkout); pictures go to ./guided_out (or $OUT)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
photos=${1:-$here/../../shared/data/bw_photos}
out=${OUT:-guided_out}
mkdir -p "$out"
surfer="$photos/1890_hawaii_surfer.jpg"
# 1. hints: {"points": [{"x": .., "y": .., "color": "#rrggbb", "radius": ..}]} in pixels of the photo
filmcolor image "$surfer" -o "$out/surfer_auto.png" --overwrite
filmcolor image "$surfer" -o "$out/surfer_hints.png" --hints "$here/surfer_hints.json" --overwrite
# 2. a reference: a colour photo of similar content lends its colours where the content matches (here the
#    hinted colouring of the same photo; in practice a colour still of the same place or people)
filmcolor image "$surfer" -o "$out/surfer_from_reference.png" --reference "$out/surfer_hints.png" --overwrite
# 3. a film: colour one frame per shot (e.g. with --hints, then touch it up), then the whole film from it:
#    filmcolor video old_movie.mp4 -o color.mp4 --keyframe 0=shot1_colour.png --keyframe 240=shot2_colour.png
#    or by hand, on a local page: filmcolor studio old_movie.mp4
