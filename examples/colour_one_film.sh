#!/usr/bin/env bash
# Colour one film, keep its audio, and write a before/after preview and a JSON report.
# Usage: examples/colour_one_film.sh old_movie.mp4 [color.mp4]
set -euo pipefail
in=${1:?usage: colour_one_film.sh INPUT [OUTPUT]}
out=${2:-${in%.*}_color.mp4}
filmcolor video "$in" -o "$out" --preview "${out%.*}_preview.png" --report "${out%.*}_report.json"
# Try a 20-second slice first when the film is long:
#   filmcolor video "$in" -o try.mp4 --start 00:10:00 --duration 20
